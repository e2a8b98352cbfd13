/* serve-engine.h — private to `m3ret serve`: the model and the index, loaded
 * once, and two threads: one runs the encoder, one owns the index.
 *
 * Requests become jobs.  The encoder's thread takes a job from a bounded
 * queue, waits up to a short time for more queries to arrive and embeds
 * them as one batch (dynamic batching), then hands each vector to the
 * search thread, which searches and answers while the next batch is
 * embedded.  A job that adds a case is embedded alone; the search thread
 * appends it to the index and writes the index file again atomically.
 * Jobs leave both threads in the order they came.  Every answer is JSON
 * text and an HTTP status, handed back on the main context, where libsoup
 * runs.
 */
#ifndef M3RET_SERVE_ENGINE_H
#define M3RET_SERVE_ENGINE_H

#include <glib.h>

#include "m3ret-embedder.h"
#include "m3ret-index.h"

G_BEGIN_DECLS

typedef struct {
  const gchar *pipeline_path;
  const gchar *checkpoint;     /* a file, or "random" / "raw" */
  const gchar *index_path;
  const gchar *items_dir;      /* where added cases are kept; NULL: adding is off */
  gboolean allow_mismatch;     /* search an index of another encoder */
  guint queue_size;            /* jobs waiting at most; more get 503 */
  guint batch_max;             /* queries embedded together at most; 1: no batching */
  guint batch_wait_us;         /* how long the first query of a batch waits for others */
} ServeEngineOptions;

typedef struct _ServeEngine ServeEngine;

typedef enum { SERVE_JOB_QUERY, SERVE_JOB_ADD } ServeJobKind;

typedef struct _ServeJob ServeJob;
/* Called on the engine's main context once @job has its answer. */
typedef void (*ServeJobDone) (ServeJob *job, gpointer user_data);

struct _ServeJob {
  ServeJobKind kind;
  gchar *upload;          /* the private temporary file holding the upload; removed at free */
  gchar *modality;        /* the upload's modality as asked (any case), or NULL: probe */
  gchar *filter;          /* query: only results of this modality, or NULL */
  gchar *label;           /* add: the case's label ("" none) */
  gchar *suffix;          /* add: the suffix the kept file gets (a constant of the upload table) */
  guint k;
  gint64 deadline;        /* monotonic µs: not started by then, it is dropped */
  gint cancelled;         /* atomic: the client is gone or was answered already */
  /* the answer */
  guint status;
  gchar *body;            /* JSON text */
  ServeJobDone done;
  gpointer user_data;
  /*< private >*/
  gint64 queued_at;
  gint ref_count;
};

/* Returns: (transfer full) a job of @kind that owns @upload (transfer full). */
ServeJob *serve_job_new (ServeJobKind kind, gchar *upload);
ServeJob *serve_job_ref (ServeJob *job);
void serve_job_unref (ServeJob *job);

/* Loads the pipeline, the encoder's weights and the index, checks that they
 * belong together, and starts the engine's thread.  Errors name the file. */
ServeEngine *serve_engine_new (M3retRegistry *registry, const ServeEngineOptions *options,
                               GError **error);
/* Finishes the jobs queued, stops the thread and frees everything. */
void serve_engine_free (ServeEngine *engine);

/* Queues @job (a reference is taken); its done() runs on the thread-default
 * main context of the caller.  FALSE when the queue is full. */
gboolean serve_engine_submit (ServeEngine *engine, ServeJob *job);
/* Jobs waiting now. */
guint serve_engine_pending (ServeEngine *engine);

/* (transfer none) what the engine reads files with */
const M3retModalities *serve_engine_get_modalities (ServeEngine *engine);
/* The largest upload a read would accept: [data] max_file_size. */
guint64 serve_engine_max_file_size (ServeEngine *engine);
gboolean serve_engine_can_add (ServeEngine *engine);

/* Returns: (transfer full) GET /api/info's JSON text. */
gchar *serve_engine_info_json (ServeEngine *engine);

/* Returns: (transfer full) the PNG thumbnail of item @id at @side pixels,
 * cached; callable from any thread.  NULL with G_IO_ERROR_NOT_FOUND when
 * there is no such item, or another error when its file cannot be read. */
GBytes *serve_engine_thumbnail (ServeEngine *engine, gint64 id, guint side, GError **error);

G_END_DECLS

#endif /* M3RET_SERVE_ENGINE_H */
