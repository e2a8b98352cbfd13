/* serve-engine.c — the model and the index of `m3ret serve`: the thread
 * that batches queries through the encoder, and the one that owns the index. */
#include "config.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "cli.h"
#include "m3ret-fileio.h"
#include "m3ret-montage.h"
#include "serve-engine.h"

/* Thumbnails kept at most, in bytes: past it the cache starts again empty. */
#define THUMB_CACHE_BYTES (32u << 20)

struct _ServeEngine {
  ServeEngineOptions options;
  gchar *pipeline_path, *checkpoint, *index_path, *items_dir;
  M3retPipeline *pipeline;
  M3retEmbedder *embedder;
  M3retIndex *index;           /* touched by the engine thread alone, but for its items */
  GMutex items_lock;           /* the index's items: the thumbnail threads read them */
  GAsyncQueue *queue;          /* jobs for the encoder's thread */
  gint pending;                /* atomic: jobs queued, not yet taken */
  GAsyncQueue *searches;       /* Work for the search thread */
  GThread *encoder, *searcher;
  GMutex cache_lock;
  GHashTable *cache;           /* "id/side" → GBytes */
  gsize cache_bytes;
  gint index_dirty;            /* atomic: an add failed to save; the next add writes it again */
};

/* The job that tells the thread to stop. */
static ServeJob stop_job;

ServeJob *
serve_job_new (ServeJobKind kind, gchar *upload)
{
  ServeJob *job = g_new0 (ServeJob, 1);
  job->kind = kind;
  job->upload = upload;
  job->k = 10;
  job->ref_count = 1;
  return job;
}

ServeJob *
serve_job_ref (ServeJob *job)
{
  g_atomic_int_inc (&job->ref_count);
  return job;
}

void
serve_job_unref (ServeJob *job)
{
  if (job == NULL || !g_atomic_int_dec_and_test (&job->ref_count))
    return;
  if (job->upload != NULL)
    g_unlink (job->upload);
  g_free (job->upload);
  g_free (job->modality);
  g_free (job->filter);
  g_free (job->label);
  g_free (job->suffix);
  g_free (job->body);
  g_free (job);
}

/* ---- answers ---- */

static gchar *
json_text (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* The message of @error with the private upload path put as "upload": what
 * a reader says about a file must not show the server's folders. */
static gchar *
public_message (const ServeJob *job, const GError *error)
{
  g_autoptr (GString) s = g_string_new (error->message);
  if (job->upload != NULL)
    g_string_replace (s, job->upload, "upload", 0);
  /* the readers' advice names the command line's way to give a modality */
  g_string_replace (s, "(-m/--modality NAME, or a 'modality' column in the manifest)",
                    "(the request's 'modality' field)", 0);
  g_string_replace (s, "give -m/--modality NAME or a 'modality' column in the manifest",
                    "give the request's 'modality' field", 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The HTTP status of an error reading an upload: the client's fault but for
 * the server's own I/O. */
static guint
status_of (const GError *error)
{
  if (error->domain == M3RET_DATA_ERROR)
    switch ((M3retDataError) error->code) {
    case M3RET_DATA_ERROR_TOO_LARGE: return 413;
    case M3RET_DATA_ERROR_NO_PLUGIN: return 415;
    case M3RET_DATA_ERROR_CORRUPT:
    case M3RET_DATA_ERROR_UNSUPPORTED:
    case M3RET_DATA_ERROR_BAD_VALUES: return 422;
    case M3RET_DATA_ERROR_IO:
    case M3RET_DATA_ERROR_MANIFEST: return 400;
    }
  if (error->domain == M3RET_FORMAT_ERROR)
    return 422;
  return 500;
}

static gchar *
error_json (const gchar *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  return json_text (b);
}

static gboolean
deliver (gpointer data)
{
  ServeJob *job = data;
  if (job->done != NULL)
    job->done (job, job->user_data);
  return G_SOURCE_REMOVE;
}

static void
answer (ServeJob *job, guint status, gchar *body)
{
  job->status = status;
  g_free (job->body);
  job->body = body;
}

static void
answer_error (ServeJob *job, const GError *error)
{
  g_autofree gchar *message = public_message (job, error);
  answer (job, status_of (error), error_json (message));
}

/* ---- reading uploads ---- */

/* Resolves @job's upload as `m3ret query FILE [-m NAME]` would: its modality
 * (asked or probed) and layout.  Returns: (transfer full) the manifest. */
static M3retManifest *
resolve_upload (ServeEngine *e, ServeJob *job, gboolean *close, GError **error)
{
  const gchar *paths[] = { job->upload };
  g_autoptr (M3retManifest) m = m3ret_manifest_new_for_files (paths, 1);
  if (job->modality != NULL &&
      !m3ret_manifest_set_default_modality (m, m3ret_embedder_get_modalities (e->embedder),
                                            job->modality, error))
    return NULL;
  if (!m3ret_embedder_resolve (e->embedder, m, error))
    return NULL;
  *close = m3ret_manifest_n_notices (m) > 0;
  return g_steal_pointer (&m);
}

/* One manifest of every resolved upload, each with its modality written. */
static M3retManifest *
batch_manifest (GPtrArray *manifests, GError **error)
{
  g_autoptr (GString) csv = g_string_new ("path,modality\n");
  for (guint i = 0; i < manifests->len; i++) {
    const M3retManifest *m = manifests->pdata[i];
    /* server-chosen names: no comma, quote or newline to escape */
    g_string_append_printf (csv, "%s,%s\n", m3ret_manifest_get_path (m, 0),
                            m3ret_manifest_get_modality (m, 0));
  }
  return m3ret_manifest_load_data (csv->str, (gssize) csv->len, "batch", "/", error);
}

/* ---- queries ---- */

static void
add_item_member (JsonBuilder *b, const M3retItems *items, gint64 id)
{
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, id);
  json_builder_set_member_name (b, "modality");
  json_builder_add_string_value (b, items ? items->modalities[id] : "");
  json_builder_set_member_name (b, "label");
  json_builder_add_string_value (b, items ? items->labels[id] : "");
  g_autofree gchar *url = g_strdup_printf ("/api/items/%" G_GINT64_FORMAT "/thumbnail.png", id);
  json_builder_set_member_name (b, "thumbnail");
  json_builder_add_string_value (b, url);
}

/* Searches @vector (one embedding) for @job and answers it. */
static void
search_and_answer (ServeEngine *e, ServeJob *job, const gfloat *vector, const gchar *modality,
                   gboolean close)
{
  gsize count = m3ret_index_count (e->index);
  /* A filter looks at every item, so that k of that modality come back when there are k. */
  guint want = job->filter != NULL ? (guint) MIN (count, (gsize) G_MAXUINT / 2) : job->k;
  want = MAX (want, 1);
  g_autofree gint64 *ids = g_new (gint64, want);
  g_autofree gfloat *scores = g_new (gfloat, want);
  GError *error = NULL;
  if (!m3ret_index_search (e->index, vector, 1, want, NULL, ids, scores, &error)) {
    answer_error (job, error);
    g_error_free (error);
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "query");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "modality");
  json_builder_add_string_value (b, modality);
  json_builder_set_member_name (b, "probe_close");
  json_builder_add_boolean_value (b, close);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "k");
  json_builder_add_int_value (b, job->k);
  if (job->filter != NULL) {
    json_builder_set_member_name (b, "filter");
    json_builder_add_string_value (b, job->filter);
  }
  json_builder_set_member_name (b, "results");
  json_builder_begin_array (b);
  g_mutex_lock (&e->items_lock);
  const M3retItems *items = m3ret_index_get_items (e->index);
  guint rank = 0;
  for (guint r = 0; r < want && rank < job->k; r++) {
    if (ids[r] < 0)
      break;
    if (job->filter != NULL &&
        (items == NULL || g_ascii_strcasecmp (items->modalities[ids[r]], job->filter) != 0))
      continue;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "rank");
    json_builder_add_int_value (b, ++rank);
    json_builder_set_member_name (b, "score");
    json_builder_add_double_value (b, scores[r]);
    add_item_member (b, items, ids[r]);
    json_builder_end_object (b);
  }
  g_mutex_unlock (&e->items_lock);
  json_builder_end_array (b);
  json_builder_end_object (b);
  answer (job, 200, json_text (b));
}

/* Embeds @manifest; NULL with @error. */
static M3retEmbeddings *
embed (ServeEngine *e, M3retManifest *manifest, GError **error)
{
  return m3ret_embedder_embed_manifest (e->embedder, manifest, m3ret_manifest_size (manifest),
                                        NULL, FALSE, error);
}

/* What the encoder hands the search thread: a job, and its vector unless
 * the job is answered already (an error, a timeout). */
typedef struct {
  ServeJob *job;       /* (transfer full) */
  gfloat *vector;      /* dim floats, or NULL */
  gchar *modality;     /* what the upload was read as */
  gboolean close;      /* the probe guessed */
} Work;

static Work stop_work;

static void
hand_on (ServeEngine *e, ServeJob *job, const gfloat *vector, const gchar *modality,
         gboolean close)
{
  Work *w = g_new0 (Work, 1);
  w->job = job;
  if (vector != NULL)
    w->vector = g_memdup2 (vector, m3ret_embedder_get_dim (e->embedder) * sizeof (gfloat));
  w->modality = g_strdup (modality);
  w->close = close;
  g_async_queue_push (e->searches, w);
}

/* Embeds every job of @jobs (queries, or one add): one batch through the
 * encoder; when the batch fails, each alone, so that each bad upload gets
 * its own error.  Every job goes on to the search thread, in order. */
static void
embed_jobs (ServeEngine *e, GPtrArray *jobs)
{
  g_autoptr (GPtrArray) manifests = g_ptr_array_new_with_free_func ((GDestroyNotify) m3ret_manifest_free);
  g_autoptr (GArray) close = g_array_new (FALSE, FALSE, sizeof (gboolean));
  guint live = 0;
  for (guint i = 0; i < jobs->len; i++) {
    ServeJob *job = jobs->pdata[i];
    GError *error = NULL;
    gboolean c = FALSE;
    M3retManifest *m = resolve_upload (e, job, &c, &error);
    if (m == NULL) {
      answer_error (job, error);
      g_error_free (error);
    }
    live += m != NULL;
    g_ptr_array_add (manifests, m); /* NULL: answered */
    g_array_append_val (close, c);
  }
  GError *error = NULL;
  g_autoptr (M3retEmbeddings) all = NULL;
  if (live > 1) {
    g_autoptr (GPtrArray) resolved = g_ptr_array_new ();
    for (guint i = 0; i < manifests->len; i++)
      if (manifests->pdata[i] != NULL)
        g_ptr_array_add (resolved, manifests->pdata[i]);
    g_autoptr (M3retManifest) batch = batch_manifest (resolved, &error);
    if (batch != NULL)
      all = embed (e, batch, &error);
    g_clear_error (&error);
  }
  guint row = 0;
  for (guint i = 0; i < jobs->len; i++) {
    ServeJob *job = jobs->pdata[i];
    M3retManifest *m = manifests->pdata[i];
    if (m == NULL) {
      hand_on (e, job, NULL, NULL, FALSE);
      continue;
    }
    const gchar *modality = m3ret_manifest_get_modality (m, 0);
    gboolean c = g_array_index (close, gboolean, i);
    if (all != NULL) {
      hand_on (e, job, all->data + (gsize) row++ * all->dim, modality, c);
      continue;
    }
    g_autoptr (M3retEmbeddings) one = embed (e, m, &error);
    if (one == NULL) {
      answer_error (job, error);
      g_clear_error (&error);
    }
    hand_on (e, job, one ? one->data : NULL, modality, c);
  }
}

/* ---- adding a case ---- */

/* Copies the upload into the items folder under a name the server makes:
 * item-ID-RANDOM.SUFFIX.  Returns: (transfer full) its path. */
static gchar *
keep_upload (ServeEngine *e, ServeJob *job, gsize id, GError **error)
{
  g_autofree gchar *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (job->upload, &data, &len, error))
    return NULL;
  g_autofree gchar *name = g_strdup_printf ("item-%06zu-%08x%s", id, g_random_int (),
                                            job->suffix ? job->suffix : "");
  gchar *path = g_build_filename (e->items_dir, name, NULL);
  if (!m3ret_file_write_atomic (path, data, (gssize) len, error)) {
    g_free (path);
    return NULL;
  }
  return path;
}

/* Appends the embedded case of @job to the index and writes the index file. */
static void
add_case (ServeEngine *e, ServeJob *job, const gfloat *vector, const gchar *modality)
{
  GError *error = NULL;
  gsize id = m3ret_index_count (e->index);
  g_autofree gchar *kept = keep_upload (e, job, id, &error);
  if (kept == NULL || !m3ret_index_add (e->index, vector, 1, &error)) {
    if (kept != NULL)
      g_unlink (kept);
    g_warning ("adding a case: %s", error->message);
    answer (job, 500, error_json ("the case could not be kept (see the server's log)"));
    g_error_free (error);
    return;
  }
  const M3retItems *old = m3ret_index_get_items (e->index);
  M3retItems *items = m3ret_items_new (id + 1);
  for (gsize i = 0; i < id; i++)
    m3ret_items_set (items, i, old->paths[i], old->modalities[i], old->labels[i]);
  m3ret_items_set (items, id, kept, modality, job->label ? job->label : "");
  g_mutex_lock (&e->items_lock);
  m3ret_index_set_items (e->index, items);
  g_mutex_unlock (&e->items_lock);
  if (!m3ret_index_save (e->index, e->index_path, &error)) {
    g_atomic_int_set (&e->index_dirty, 1);
    g_warning ("%s", error->message);
    answer (job, 500, error_json ("the case is in the live index but the index file could not "
                                  "be written (see the server's log)"));
    g_error_free (error);
    return;
  }
  g_atomic_int_set (&e->index_dirty, 0);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  g_mutex_lock (&e->items_lock);
  add_item_member (b, m3ret_index_get_items (e->index), (gint64) id);
  g_mutex_unlock (&e->items_lock);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, (gint64) id + 1);
  json_builder_end_object (b);
  answer (job, 201, json_text (b));
}

/* ---- the threads ---- */

static gboolean
expired (ServeJob *job)
{
  if (g_atomic_int_get (&job->cancelled))
    return TRUE;
  if (g_get_monotonic_time () <= job->deadline)
    return FALSE;
  answer (job, 503, error_json ("timed out waiting in the queue"));
  return TRUE;
}

static ServeJob *
take (ServeEngine *e, guint64 wait_us)
{
  ServeJob *job = wait_us == G_MAXUINT64 ? g_async_queue_pop (e->queue)
                                         : g_async_queue_timeout_pop (e->queue, wait_us);
  if (job != NULL && job != &stop_job)
    g_atomic_int_add (&e->pending, -1);
  return job;
}

/* Hands @job's answer to the main context, which owns the messages. */
static void
finish (ServeJob *job)
{
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, deliver, job,
                              (GDestroyNotify) serve_job_unref);
}

/* The encoder's thread: takes a job, and for a query waits up to
 * batch_wait for more queries (up to batch_max), embeds them together and
 * hands them to the search thread; an add is embedded alone. */
static gpointer
encoder_thread (gpointer data)
{
  ServeEngine *e = data;
  ServeJob *next = NULL; /* taken while batching, not of the batch */
  for (;;) {
    ServeJob *first = next != NULL ? next : take (e, G_MAXUINT64);
    next = NULL;
    if (first == &stop_job)
      break;
    g_autoptr (GPtrArray) batch = g_ptr_array_new ();
    g_ptr_array_add (batch, first);
    if (first->kind == SERVE_JOB_QUERY) {
      gint64 until = g_get_monotonic_time () + e->options.batch_wait_us;
      while (batch->len < e->options.batch_max) {
        gint64 left = until - g_get_monotonic_time ();
        ServeJob *job = take (e, (guint64) MAX (left, 0));
        if (job == NULL)
          break;
        if (job == &stop_job || job->kind != SERVE_JOB_QUERY) {
          next = job;
          break;
        }
        g_ptr_array_add (batch, job);
      }
    }
    g_autoptr (GPtrArray) live = g_ptr_array_new ();
    for (guint i = 0; i < batch->len; i++) {
      ServeJob *job = batch->pdata[i];
      if (expired (job))
        hand_on (e, job, NULL, NULL, FALSE);
      else
        g_ptr_array_add (live, job);
    }
    embed_jobs (e, live);
  }
  /* Answer what is left, so that no client waits for a thread that is gone. */
  for (ServeJob *job; (job = g_async_queue_try_pop (e->queue)) != NULL;) {
    if (job == &stop_job)
      continue;
    answer (job, 503, error_json ("the server is stopping"));
    hand_on (e, job, NULL, NULL, FALSE);
  }
  g_async_queue_push (e->searches, &stop_work);
  return NULL;
}

/* The search thread: owns the index.  Searches each query while the
 * encoder embeds the next batch, appends each added case, in the order the
 * jobs came, so that a query sent after an add is answered with it. */
static gpointer
search_thread (gpointer data)
{
  ServeEngine *e = data;
  for (Work *w; (w = g_async_queue_pop (e->searches)) != &stop_work;) {
    ServeJob *job = w->job;
    if (w->vector != NULL && job->kind == SERVE_JOB_QUERY)
      search_and_answer (e, job, w->vector, w->modality, w->close);
    /* The client was told it timed out: keep nothing it got no answer for. */
    else if (w->vector != NULL && !g_atomic_int_get (&job->cancelled))
      add_case (e, job, w->vector, w->modality);
    finish (job);
    g_free (w->vector);
    g_free (w->modality);
    g_free (w);
  }
  return NULL;
}

/* ---- set-up ---- */

static gboolean
load (ServeEngine *e, M3retRegistry *registry, GError **error)
{
  if ((e->pipeline = m3ret_pipeline_load (registry, e->pipeline_path, error)) == NULL)
    return FALSE;
  const M3retSettings *settings = m3ret_pipeline_get_settings (e->pipeline);
  M3retLimits limits;
  m3ret_limits_init (&limits, &settings->data);
  if (!m3ret_file_check_readable (e->index_path, error) ||
      !m3ret_limits_check_file (&limits, e->index_path, error))
    return FALSE;
  guint threads = (guint) settings->pipeline.threads;
  if ((e->index = m3ret_index_open (registry, e->index_path, threads, error)) == NULL)
    return FALSE;
  if ((e->embedder = m3ret_embedder_new (registry, e->pipeline, e->checkpoint, error)) == NULL)
    return FALSE;
  if (!cli_check_provenance ("serve", e->index_path, m3ret_index_get_provenance (e->index),
                             m3ret_embedder_get_provenance (e->embedder),
                             e->options.allow_mismatch, error))
    return FALSE;
  if (m3ret_index_dim (e->index) != m3ret_embedder_get_dim (e->embedder)) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: holds %u-wide vectors, the encoder makes %u-wide ones", e->index_path,
                 m3ret_index_dim (e->index), m3ret_embedder_get_dim (e->embedder));
    return FALSE;
  }
  if (e->items_dir != NULL && m3ret_index_get_items (e->index) == NULL &&
      m3ret_index_count (e->index) > 0) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_UNSUPPORTED,
                 "%s: records no items (path, modality, label), so cases cannot be added to it",
                 e->index_path);
    return FALSE;
  }
  if (e->items_dir != NULL && !g_file_test (e->items_dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR, "%s: --items-dir is not a folder",
                 e->items_dir);
    return FALSE;
  }
  return TRUE;
}

ServeEngine *
serve_engine_new (M3retRegistry *registry, const ServeEngineOptions *options, GError **error)
{
  ServeEngine *e = g_new0 (ServeEngine, 1);
  e->options = *options;
  e->pipeline_path = g_strdup (options->pipeline_path);
  e->checkpoint = g_strdup (options->checkpoint);
  e->index_path = g_strdup (options->index_path);
  e->items_dir = options->items_dir ? g_canonicalize_filename (options->items_dir, NULL) : NULL;
  e->options.batch_max = MAX (1, e->options.batch_max);
  g_mutex_init (&e->items_lock);
  g_mutex_init (&e->cache_lock);
  e->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  e->queue = g_async_queue_new ();
  e->searches = g_async_queue_new ();
  if (!load (e, registry, error)) {
    serve_engine_free (e);
    return NULL;
  }
  e->searcher = g_thread_new ("serve-search", search_thread, e);
  e->encoder = g_thread_new ("serve-encoder", encoder_thread, e);
  return e;
}

void
serve_engine_free (ServeEngine *e)
{
  if (e == NULL)
    return;
  if (e->encoder != NULL) {
    g_async_queue_push (e->queue, &stop_job);
    g_thread_join (e->encoder); /* it stops the search thread after its last job */
    g_thread_join (e->searcher);
  }
  g_async_queue_unref (e->queue);
  g_async_queue_unref (e->searches);
  m3ret_index_free (e->index);
  m3ret_embedder_free (e->embedder);
  m3ret_pipeline_free (e->pipeline);
  g_hash_table_unref (e->cache);
  g_mutex_clear (&e->items_lock);
  g_mutex_clear (&e->cache_lock);
  g_free (e->pipeline_path);
  g_free (e->checkpoint);
  g_free (e->index_path);
  g_free (e->items_dir);
  g_free (e);
}

gboolean
serve_engine_submit (ServeEngine *e, ServeJob *job)
{
  /* Reserve a slot first: two submitters cannot both take the last one. */
  if ((guint) g_atomic_int_add (&e->pending, 1) >= e->options.queue_size) {
    g_atomic_int_add (&e->pending, -1);
    return FALSE;
  }
  job->queued_at = g_get_monotonic_time ();
  g_async_queue_push (e->queue, serve_job_ref (job));
  return TRUE;
}

guint
serve_engine_pending (ServeEngine *e)
{
  return (guint) g_atomic_int_get (&e->pending);
}

const M3retModalities *
serve_engine_get_modalities (ServeEngine *e)
{
  return m3ret_embedder_get_modalities (e->embedder);
}

guint64
serve_engine_max_file_size (ServeEngine *e)
{
  return m3ret_modalities_get_limits (serve_engine_get_modalities (e))->max_file_size;
}

gboolean
serve_engine_can_add (ServeEngine *e)
{
  return e->items_dir != NULL;
}

gchar *
serve_engine_info_json (ServeEngine *e)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, PACKAGE_VERSION);
  json_builder_set_member_name (b, "model");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "encoder");
  json_builder_add_string_value (b, m3ret_embedder_get_provenance (e->embedder));
  json_builder_set_member_name (b, "dim");
  json_builder_add_int_value (b, m3ret_embedder_get_dim (e->embedder));
  json_builder_end_object (b);
  const M3retModalities *set = serve_engine_get_modalities (e);
  json_builder_set_member_name (b, "modalities");
  json_builder_begin_array (b);
  for (guint i = 0; i < m3ret_modalities_count (set); i++)
    json_builder_add_string_value (b, m3ret_modalities_name (set, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "index");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "retriever");
  json_builder_add_string_value (b, m3ret_index_plugin_name (e->index));
  g_mutex_lock (&e->items_lock);
  const M3retItems *items = m3ret_index_get_items (e->index);
  gsize n = items ? items->n : 0;
  g_autoptr (GHashTable) per = g_hash_table_new (g_str_hash, g_str_equal);
  for (gsize i = 0; i < n; i++) {
    gpointer c = g_hash_table_lookup (per, items->modalities[i]);
    g_hash_table_insert (per, items->modalities[i], GSIZE_TO_POINTER (GPOINTER_TO_SIZE (c) + 1));
  }
  json_builder_set_member_name (b, "items");
  json_builder_add_int_value (b, (gint64) n);
  json_builder_set_member_name (b, "per_modality");
  json_builder_begin_object (b);
  g_autoptr (GList) keys = g_list_sort (g_hash_table_get_keys (per), (GCompareFunc) strcmp);
  for (GList *k = keys; k; k = k->next) {
    json_builder_set_member_name (b, k->data);
    json_builder_add_int_value (b, (gint64) GPOINTER_TO_SIZE (g_hash_table_lookup (per, k->data)));
  }
  json_builder_end_object (b);
  g_mutex_unlock (&e->items_lock);
  json_builder_set_member_name (b, "can_add");
  json_builder_add_boolean_value (b, serve_engine_can_add (e));
  json_builder_set_member_name (b, "saved");
  json_builder_add_boolean_value (b, !g_atomic_int_get (&e->index_dirty));
  json_builder_end_object (b);
  json_builder_set_member_name (b, "batch_max");
  json_builder_add_int_value (b, e->options.batch_max);
  json_builder_set_member_name (b, "queue_size");
  json_builder_add_int_value (b, e->options.queue_size);
  json_builder_end_object (b);
  return json_text (b);
}

GBytes *
serve_engine_thumbnail (ServeEngine *e, gint64 id, guint side, GError **error)
{
  g_autofree gchar *key = g_strdup_printf ("%" G_GINT64_FORMAT "/%u", id, side);
  g_mutex_lock (&e->cache_lock);
  GBytes *hit = g_hash_table_lookup (e->cache, key);
  if (hit != NULL)
    g_bytes_ref (hit);
  g_mutex_unlock (&e->cache_lock);
  if (hit != NULL)
    return hit;
  g_mutex_lock (&e->items_lock);
  const M3retItems *items = m3ret_index_get_items (e->index);
  g_autofree gchar *path = NULL, *modality = NULL;
  if (items != NULL && id >= 0 && (gsize) id < items->n) {
    path = g_strdup (items->paths[id]);
    modality = g_strdup (items->modalities[id]);
  }
  g_mutex_unlock (&e->items_lock);
  if (path == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no item %" G_GINT64_FORMAT, id);
    return NULL;
  }
  const M3retInputSettings *input = &m3ret_pipeline_get_settings (e->pipeline)->input;
  GBytes *png = m3ret_montage_thumbnail_png (serve_engine_get_modalities (e), (guint) input->size,
                                             (guint) input->depth, (guint) input->tubelet[0],
                                             modality, path, side, error);
  if (png == NULL)
    return NULL;
  g_mutex_lock (&e->cache_lock);
  if (e->cache_bytes + g_bytes_get_size (png) > THUMB_CACHE_BYTES) {
    g_hash_table_remove_all (e->cache);
    e->cache_bytes = 0;
  }
  if (!g_hash_table_contains (e->cache, key)) {
    e->cache_bytes += g_bytes_get_size (png);
    g_hash_table_insert (e->cache, g_steal_pointer (&key), g_bytes_ref (png));
  }
  g_mutex_unlock (&e->cache_lock);
  return png;
}
