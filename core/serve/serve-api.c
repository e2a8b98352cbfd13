/* serve-api.c — the routes of `m3ret serve`: /api/query, /api/items,
 * thumbnails, /api/info, /api/health and the web page. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "serve-server.h"
#include "serve-upload.h"

/* Thumbnails waiting for a thread at most; more get 503. */
#define THUMB_QUEUE 64
/* The most neighbours one query may ask for. */
#define K_MAX 1000
/* The longest label a case may be given. */
#define LABEL_MAX 128

typedef enum { ROUTE_PAGE, ROUTE_HEALTH, ROUTE_INFO, ROUTE_QUERY, ROUTE_ADD, ROUTE_THUMB } RouteKind;

struct _ServeRoute {
  const gchar *method;
  const gchar *pattern;
  RouteKind kind;
  gboolean token;
};

static const ServeRoute routes[] = {
  { "GET", "/api/health", ROUTE_HEALTH, FALSE },
  { "GET", "/api/info", ROUTE_INFO, TRUE },
  { "POST", "/api/query", ROUTE_QUERY, TRUE },
  { "POST", "/api/items", ROUTE_ADD, TRUE },
  { "GET", "/api/items/{id}/thumbnail.png", ROUTE_THUMB, TRUE },
};
/* The page's own files hold no data: a browser gets them to ask for the token. */
static const ServeRoute page_route = { "GET", NULL, ROUTE_PAGE, FALSE };

/* Whether @path fits @pattern, where "{id}" stands for 1 to 12 digits. */
static gboolean
matches (const gchar *pattern, const gchar *path)
{
  const gchar *hole = strstr (pattern, "{id}");
  if (hole == NULL)
    return strcmp (pattern, path) == 0;
  gsize head = (gsize) (hole - pattern);
  if (strncmp (pattern, path, head) != 0)
    return FALSE;
  const gchar *p = path + head;
  gsize digits = strspn (p, "0123456789");
  return digits >= 1 && digits <= 12 && strcmp (p + digits, hole + 4) == 0;
}

const ServeRoute *
serve_api_route (const gchar *method, const gchar *path, gboolean *path_known)
{
  *path_known = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    if (matches (routes[i].pattern, path)) {
      *path_known = TRUE;
      if (strcmp (routes[i].method, method) == 0)
        return &routes[i];
    }
  const gchar *type;
  g_autoptr (GBytes) page = serve_page_lookup (path, &type);
  if (page != NULL) {
    *path_known = TRUE;
    return strcmp (method, "GET") == 0 ? &page_route : NULL;
  }
  return NULL;
}

gboolean
serve_api_route_needs_token (const ServeRoute *route)
{
  return route->token;
}

const gchar *
serve_api_allowed (const gchar *path)
{
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    if (matches (routes[i].pattern, path))
      return routes[i].method;
  return "GET";
}

/* ---- fields ---- */

/* Checks that @upload has no field but @allowed ones. */
static gboolean
check_fields (SoupServerMessage *msg, const ServeUpload *upload, const gchar *const *allowed)
{
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, upload->fields);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (!g_strv_contains (allowed, k)) {
      g_autofree gchar *list = g_strjoinv (", ", (gchar **) allowed);
      serve_respond_error (msg, 400, "unknown field '%s' (known: %s)", (const gchar *) k, list);
      return FALSE;
    }
  return TRUE;
}

/* The field @name as a modality of the server's set, in its spelling; NULL
 * when absent or empty (*@ok TRUE) or unknown (*@ok FALSE, answered). */
static const gchar *
modality_field (ServeServer *s, SoupServerMessage *msg, const ServeUpload *upload,
                const gchar *name, gboolean *ok)
{
  *ok = TRUE;
  const gchar *value = g_hash_table_lookup (upload->fields, name);
  if (value == NULL || *value == '\0')
    return NULL;
  GError *error = NULL;
  const gchar *known = m3ret_modalities_check_name (serve_engine_get_modalities (s->engine),
                                                    value, &error);
  if (known == NULL) {
    serve_respond_error (msg, 400, "%s: %s", name, error->message);
    g_error_free (error);
    *ok = FALSE;
  }
  return known;
}

static gboolean
k_field (SoupServerMessage *msg, const ServeUpload *upload, guint *k)
{
  const gchar *value = g_hash_table_lookup (upload->fields, "k");
  if (value == NULL || *value == '\0')
    return TRUE;
  guint64 n = 0;
  if (!g_ascii_string_to_unsigned (value, 10, 1, K_MAX, &n, NULL)) {
    serve_respond_error (msg, 400, "k must be a whole number from 1 to %d", K_MAX);
    return FALSE;
  }
  *k = (guint) n;
  return TRUE;
}

static gboolean
label_field (SoupServerMessage *msg, const ServeUpload *upload, const gchar **label)
{
  const gchar *value = g_hash_table_lookup (upload->fields, "label");
  *label = value ? value : "";
  if (g_utf8_strlen (*label, -1) > LABEL_MAX) {
    serve_respond_error (msg, 400, "label is longer than %d characters", LABEL_MAX);
    return FALSE;
  }
  for (const gchar *p = *label; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p))) {
      serve_respond_error (msg, 400, "label holds a control character");
      return FALSE;
    }
  return TRUE;
}

/* ---- jobs ---- */

static void
job_timed_out (gpointer data)
{
  ServeJob *job = data;
  g_atomic_int_set (&job->cancelled, 1);
}

static void
job_done (ServeJob *job, gpointer data)
{
  ServeHold *hold = data;
  g_autoptr (GBytes) body = g_bytes_new (job->body ? job->body : "{}",
                                         job->body ? strlen (job->body) : 2);
  if (job->status == 0) /* cancelled before it ran: the timeout answered already */
    job->status = 503;
  serve_hold_answer (hold, job->status, "application/json", body);
}

static void
submit (ServeServer *s, SoupServerMessage *msg, ServeJob *job)
{
  ServeHold *hold = serve_hold_new (s, msg, G_CALLBACK (job_timed_out), job);
  job->done = job_done;
  job->user_data = hold;
  job->deadline = g_get_monotonic_time () + (gint64) s->options.timeout_s * G_USEC_PER_SEC;
  if (!serve_engine_submit (s->engine, job)) {
    static const gchar busy[] = "{\"error\":\"the queue is full: try again shortly\"}";
    g_autoptr (GBytes) body = g_bytes_new_static (busy, strlen (busy));
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                  "1");
    serve_hold_answer (hold, 503, "application/json", body);
  }
}

static void
handle_upload (ServeServer *s, SoupServerMessage *msg, ServeJobKind kind)
{
  static const gchar *const query_fields[] = { "k", "modality", "filter", "filename", NULL };
  static const gchar *const add_fields[] = { "label", "modality", "filename", NULL };
  if (kind == SERVE_JOB_ADD && !serve_engine_can_add (s->engine)) {
    serve_respond_error (msg, 403, "adding cases is off: the server was started without "
                                   "--items-dir DIR");
    return;
  }
  ServeUpload upload;
  GError *error = NULL;
  if (!serve_upload_parse (msg, &upload, &error)) {
    serve_respond_error (msg, 400, "%s", error->message);
    g_error_free (error);
    serve_upload_clear (&upload);
    return;
  }
  gboolean ok = check_fields (msg, &upload, kind == SERVE_JOB_QUERY ? query_fields : add_fields);
  guint k = 10;
  const gchar *label = "", *modality = NULL, *filter = NULL;
  if (ok)
    modality = modality_field (s, msg, &upload, "modality", &ok);
  if (ok && kind == SERVE_JOB_QUERY)
    filter = modality_field (s, msg, &upload, "filter", &ok);
  if (ok && kind == SERVE_JOB_QUERY)
    ok = k_field (msg, &upload, &k);
  if (ok && kind == SERVE_JOB_ADD)
    ok = label_field (msg, &upload, &label);
  gchar *path = ok ? serve_upload_store (s->upload_dir, &upload, &error) : NULL;
  if (ok && path == NULL) {
    g_warning ("%s", error->message);
    serve_respond_error (msg, 500, "the upload could not be stored");
    g_error_free (error);
    ok = FALSE;
  }
  if (!ok) {
    serve_upload_clear (&upload);
    return;
  }
  ServeJob *job = serve_job_new (kind, path);
  job->k = k;
  job->modality = g_strdup (modality);
  job->filter = g_strdup (filter);
  job->label = g_strdup (label);
  job->suffix = g_strdup (upload.suffix);
  serve_upload_clear (&upload);
  submit (s, msg, job);
  serve_job_unref (job);
}

/* ---- thumbnails ---- */

typedef struct {
  ServeServer *server;
  ServeHold *hold;
  gint64 id;
  guint side;
  GBytes *png;
  GError *error;
} ThumbTask;

static gboolean
thumb_done (gpointer data)
{
  ThumbTask *t = data;
  if (t->png != NULL) {
    serve_hold_answer (t->hold, 200, "image/png", t->png);
  } else {
    guint status = g_error_matches (t->error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ? 404 : 422;
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "error");
    /* the item's path is the server's business */
    json_builder_add_string_value (b, status == 404 ? "no such item"
                                                    : "the item's file cannot be read");
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    g_autofree gchar *json = json_to_string (root, FALSE);
    g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));
    if (status != 404)
      g_message ("thumbnail of item %" G_GINT64_FORMAT ": %s", t->id, t->error->message);
    serve_hold_answer (t->hold, status, "application/json", body);
  }
  g_clear_pointer (&t->png, g_bytes_unref);
  g_clear_error (&t->error);
  g_free (t);
  return G_SOURCE_REMOVE;
}

static void
thumb_run (gpointer data, gpointer user_data)
{
  ThumbTask *t = data;
  t->png = serve_engine_thumbnail (t->server->engine, t->id, t->side, &t->error);
  g_main_context_invoke (NULL, thumb_done, t);
}

static void
handle_thumbnail (ServeServer *s, SoupServerMessage *msg, const gchar *path)
{
  gint64 id = g_ascii_strtoll (path + strlen ("/api/items/"), NULL, 10);
  guint side = 128;
  const gchar *query = g_uri_get_query (soup_server_message_get_uri (msg));
  if (query != NULL) {
    GHashTable *form = soup_form_decode (query);
    const gchar *size = g_hash_table_lookup (form, "size");
    guint64 n = 0;
    gboolean ok = g_hash_table_size (form) == (size ? 1u : 0u) && size != NULL &&
                  g_ascii_string_to_unsigned (size, 10, 32, 1024, &n, NULL);
    g_hash_table_unref (form);
    if (!ok) {
      serve_respond_error (msg, 400, "the only field is size, from 32 to 1024 pixels");
      return;
    }
    side = (guint) n;
  }
  if (s->thumbs == NULL)
    s->thumbs = g_thread_pool_new (thumb_run, NULL, (gint) MAX (1, s->options.thumb_threads),
                                   FALSE, NULL);
  if (g_thread_pool_unprocessed (s->thumbs) >= THUMB_QUEUE) {
    serve_respond_busy (msg, "too many thumbnails waiting: try again shortly");
    return;
  }
  ThumbTask *t = g_new0 (ThumbTask, 1);
  t->server = s;
  t->id = id;
  t->side = side;
  t->hold = serve_hold_new (s, msg, NULL, NULL);
  g_thread_pool_push (s->thumbs, t, NULL);
}

/* ---- the rest ---- */

static void
handle_page (SoupServerMessage *msg, const gchar *path)
{
  const gchar *type = NULL;
  g_autoptr (GBytes) page = serve_page_lookup (path, &type);
  serve_respond (msg, 200, type, page);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  /* Nothing but the page's own files may load or run. */
  soup_message_headers_replace (h, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                                "object-src 'none'; frame-ancestors 'none'");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
}

void
serve_api_handle (ServeServer *s, SoupServerMessage *msg, const ServeRoute *route)
{
  const gchar *path = g_uri_get_path (soup_server_message_get_uri (msg));
  switch (route->kind) {
  case ROUTE_PAGE:
    handle_page (msg, path);
    break;
  case ROUTE_HEALTH: {
    g_autofree gchar *json = g_strdup_printf ("{\"status\":\"%s\",\"queued\":%u}",
                                              s->draining ? "stopping" : "ok",
                                              serve_engine_pending (s->engine));
    serve_respond_json (msg, 200, json);
    break;
  }
  case ROUTE_INFO: {
    g_autofree gchar *json = serve_engine_info_json (s->engine);
    serve_respond_json (msg, 200, json);
    break;
  }
  case ROUTE_QUERY:
    handle_upload (s, msg, SERVE_JOB_QUERY);
    break;
  case ROUTE_ADD:
    handle_upload (s, msg, SERVE_JOB_ADD);
    break;
  case ROUTE_THUMB:
    handle_thumbnail (s, msg, path);
    break;
  }
}
