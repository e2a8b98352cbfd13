/* bench-serve.c — `m3ret serve` on loopback: p50/p99 latency and queries/s
 * at 1, 4 and 16 concurrent clients, batched (--batch 16) and unbatched
 * (--batch 1), beside the command's per-query time (`m3ret query`, which
 * loads the model and the index each time).
 *
 * A program, not a test: prints a table, asserts nothing.  The archive is
 * `m3ret synth` (4 per class) embedded by the random-init encoder (the
 * cost of a query does not depend on the weights); the queries are the
 * query split's still images (X-ray and ultrasound PNGs), as a clinician's
 * new image would be.  Each client is a thread with its own libsoup
 * session, sending one query after the other.
 *
 *   M3RET_BENCH_PRESET     encoder preset (default tiny)
 *   M3RET_BENCH_REQUESTS   queries per level and mode (default 160)
 *   M3RET_BENCH_THREADS    the pipeline's compute threads (default 2)
 */
#include "config.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "bench-row.h"

static const gchar *m3ret;

static gboolean
run (const gchar *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) m3ret);
  for (; *args; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  gint status = 0;
  g_autofree gchar *err = NULL;
  GError *error = NULL;
  if (!g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                     NULL, &err, &status, &error) || !g_spawn_check_wait_status (status, NULL)) {
    fprintf (stderr, "bench-serve: m3ret %s: %s\n", (const gchar *) argv->pdata[1],
             error ? error->message : err);
    g_clear_error (&error);
    return FALSE;
  }
  return TRUE;
}

typedef struct {
  GPid pid;
  gchar *base;  /* http://127.0.0.1:PORT */
} Server;

static gboolean
server_start (Server *s, const gchar *ini, const gchar *index, const gchar *batch)
{
  const gchar *argv[] = { m3ret, "serve", ini, "--checkpoint", "random", "--index", index,
                          "--listen", "127.0.0.1:0", "--batch", batch, "--queue", "256",
                          "--access-log", "/dev/null", NULL };
  gint out = -1;
  GError *error = NULL;
  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                 NULL, &s->pid, NULL, &out, NULL, &error)) {
    fprintf (stderr, "bench-serve: %s\n", error->message);
    g_error_free (error);
    return FALSE;
  }
  FILE *f = fdopen (out, "r");
  gchar line[512];
  s->base = NULL;
  while (fgets (line, sizeof line, f) != NULL) {
    const gchar *at = strstr (line, "listening on ");
    if (at != NULL) {
      g_autofree gchar *url = g_strstrip (g_strdup (at + strlen ("listening on ")));
      if (g_str_has_suffix (url, "/"))
        url[strlen (url) - 1] = '\0';
      s->base = g_strdup (url);
      break;
    }
  }
  fclose (f);
  if (s->base == NULL) {
    fprintf (stderr, "bench-serve: the server did not start\n");
    kill (s->pid, SIGKILL);
    waitpid (s->pid, NULL, 0);
  }
  return s->base != NULL;
}

static void
server_stop (Server *s)
{
  kill (s->pid, SIGTERM);
  waitpid (s->pid, NULL, 0);
  g_spawn_close_pid (s->pid);
  g_clear_pointer (&s->base, g_free);
}

typedef struct {
  const gchar *base;
  GPtrArray *files;  /* GBytes of each query file */
  guint first, count;
  gdouble *latency;  /* seconds of each of its requests */
  gint errors;
} Client;

static gpointer
client_run (gpointer data)
{
  Client *c = data;
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  SoupSession *session = soup_session_new_with_options ("timeout", 60, NULL);
  g_autofree gchar *url = g_strdup_printf ("%s/api/query?k=10&filename=q.png", c->base);
  for (guint i = 0; i < c->count; i++) {
    GBytes *file = c->files->pdata[(c->first + i) % c->files->len];
    SoupMessage *msg = soup_message_new ("POST", url);
    soup_message_set_request_body_from_bytes (msg, "application/octet-stream", file);
    gint64 t0 = g_get_monotonic_time ();
    GBytes *body = soup_session_send_and_read (session, msg, NULL, NULL);
    c->latency[i] = (g_get_monotonic_time () - t0) / 1e6;
    if (body == NULL || soup_message_get_status (msg) != 200)
      c->errors++;
    if (body != NULL)
      g_bytes_unref (body);
    g_object_unref (msg);
  }
  g_object_unref (session);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  return NULL;
}

typedef struct {
  gdouble p50, p99, qps;
  gint errors;
} Level;

/* @n_clients clients sending @total queries in all. */
static Level
measure (const gchar *base, GPtrArray *files, guint n_clients, guint total)
{
  guint each = MAX (1, total / n_clients);
  g_autofree Client *clients = g_new0 (Client, n_clients);
  g_autofree GThread **threads = g_new (GThread *, n_clients);
  g_autofree gdouble *all = g_new (gdouble, (gsize) each * n_clients);
  gint64 t0 = g_get_monotonic_time ();
  for (guint c = 0; c < n_clients; c++) {
    clients[c] = (Client) { base, files, c * 7, each, all + (gsize) c * each, 0 };
    threads[c] = g_thread_new ("client", client_run, &clients[c]);
  }
  Level level = { 0 };
  for (guint c = 0; c < n_clients; c++) {
    g_thread_join (threads[c]);
    level.errors += clients[c].errors;
  }
  gdouble wall = (g_get_monotonic_time () - t0) / 1e6;
  guint n = each * n_clients;
  level.qps = n / wall;
  level.p50 = bench_median (all, n) * 1e3; /* sorts */
  level.p99 = all[MIN (n - 1, (guint) (0.99 * n))] * 1e3;
  return level;
}

int
main (void)
{
  m3ret = g_getenv ("M3RET_BIN");
  if (m3ret == NULL) {
    fprintf (stderr, "bench-serve: M3RET_BIN is not set (run through make bench)\n");
    return 1;
  }
  const gchar *preset = g_getenv ("M3RET_BENCH_PRESET") ? g_getenv ("M3RET_BENCH_PRESET") : "tiny";
  guint total = (guint) bench_env_int ("M3RET_BENCH_REQUESTS", 160);
  gint threads = bench_env_int ("M3RET_BENCH_THREADS", 2);
  g_autofree gchar *dir = g_dir_make_tmp ("m3ret-bench-serve-XXXXXX", NULL);
  g_autofree gchar *ini = g_build_filename (dir, "p.ini", NULL);
  g_autofree gchar *data = g_build_filename (dir, "data", NULL);
  g_autofree gchar *npy = g_build_filename (dir, "db.npy", NULL);
  g_autofree gchar *index = g_build_filename (dir, "db.index", NULL);
  g_autofree gchar *db = g_build_filename (data, "database.csv", NULL);
  g_autofree gchar *text = g_strdup_printf (
    "[pipeline]\nbackend=cpu\nthreads=%d\nseed=0\n[input]\nsize=64\ndepth=16\ntubelet=2,8,8\n"
    "[encoder]\npreset=%s\n[objective]\nplugin=mae\n[retriever]\nplugin=flat\n", threads, preset);
  const gchar *synth[] = { "synth", "--out", data, "--per-class", "4", "--seed", "0", NULL };
  const gchar *embed[] = { "embed", ini, "--checkpoint", "random", "--manifest", db, "--out", npy, NULL };
  const gchar *build[] = { "index", ini, "--embeddings", npy, "--out", index, NULL };
  if (!g_file_set_contents (ini, text, -1, NULL) || !run (synth) || !run (embed) || !run (build))
    return 1;
  g_autofree gchar *db_text = NULL;
  g_file_get_contents (db, &db_text, NULL, NULL);
  guint n_items = 0;
  for (const gchar *p = db_text; p && (p = strchr (p, '\n')) != NULL; p++)
    n_items++;
  n_items = n_items > 0 ? n_items - 1 : 0; /* the header */
  /* the query split's stills */
  g_autofree gchar *qcsv_path = g_build_filename (data, "query.csv", NULL);
  g_autofree gchar *qcsv = NULL;
  g_file_get_contents (qcsv_path, &qcsv, NULL, NULL);
  g_auto (GStrv) lines = g_strsplit (qcsv ? qcsv : "", "\n", -1);
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autofree gchar *first_still = NULL;
  for (guint i = 1; lines[i] && *lines[i]; i++) {
    g_auto (GStrv) f = g_strsplit (lines[i], ",", 3);
    if (!g_str_has_suffix (f[0], ".png"))
      continue;
    g_autofree gchar *path = g_build_filename (data, f[0], NULL);
    gchar *bytes = NULL;
    gsize len = 0;
    if (g_file_get_contents (path, &bytes, &len, NULL))
      g_ptr_array_add (files, g_bytes_new_take (bytes, len));
    if (first_still == NULL)
      first_still = g_strdup (path);
  }
  if (files->len == 0) {
    fprintf (stderr, "bench-serve: no still image in %s\n", qcsv_path);
    return 1;
  }
  /* the command: a process per query */
  gdouble cli[5];
  const gchar *query[] = { "query", ini, "--checkpoint", "random", "--index", index, "-k", "10",
                           first_still, NULL };
  for (guint r = 0; r < G_N_ELEMENTS (cli); r++) {
    gint64 t0 = g_get_monotonic_time ();
    if (!run (query))
      return 1;
    cli[r] = (g_get_monotonic_time () - t0) / 1e3;
  }
  gdouble cli_ms = bench_median (cli, G_N_ELEMENTS (cli));

  static const guint levels[] = { 1, 4, 16 };
  Level result[2][G_N_ELEMENTS (levels)];
  const gchar *modes[] = { "1", "16" };
  for (guint m = 0; m < 2; m++) {
    Server server;
    if (!server_start (&server, ini, index, modes[m]))
      return 1;
    measure (server.base, files, 2, 16); /* warm-up: first reads, thumbnails of nothing */
    for (guint l = 0; l < G_N_ELEMENTS (levels); l++)
      result[m][l] = measure (server.base, files, levels[l], MAX (total / (levels[l] == 1 ? 4 : 1),
                                                                    levels[l] * 4));
    server_stop (&server);
  }
  g_autofree gchar *cpu = NULL;
  g_file_get_contents ("/proc/cpuinfo", &cpu, NULL, NULL);
  const gchar *model = cpu ? strstr (cpu, "model name") : NULL;
  g_autofree gchar *model_name = model ? g_strndup (strchr (model, ':') + 2,
                                                    strcspn (strchr (model, ':') + 2, "\n"))
                                       : g_strdup ("unknown CPU");
  printf ("m3ret serve on loopback: preset %s, 64² stills, %u-item flat index, k = 10, "
          "%d compute threads; %s, %u cores\n", preset, n_items, threads, model_name,
          g_get_num_processors ());
  printf ("%-10s %8s %9s %9s %10s %7s\n", "mode", "clients", "p50 ms", "p99 ms", "queries/s",
          "errors");
  for (guint m = 0; m < 2; m++)
    for (guint l = 0; l < G_N_ELEMENTS (levels); l++)
      printf ("%-10s %8u %9.1f %9.1f %10.1f %7d\n", m ? "batched" : "unbatched", levels[l],
              result[m][l].p50, result[m][l].p99, result[m][l].qps, result[m][l].errors);
  printf ("m3ret query, one process per query (loads the model and index): %.1f ms\n", cli_ms);
  bench_row ("serve", "p99 ms at 4 clients (batched)", result[1][1].p99, "p50 at 1 client",
             result[1][0].p50, "<=2");
  bench_row ("serve", "queries/s at 16 clients, batched", result[1][2].qps, "unbatched",
             result[0][2].qps, ">=2");
  /* the archive */
  const gchar *rm[] = { "rm", "-rf", dir, NULL };
  g_spawn_sync (NULL, (gchar **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  return 0;
}
