/* cmd-serve.c — `m3ret serve`: the retrieval service (JSON API and web page). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "serve-server.h"

/* Splits ADDR:PORT ("127.0.0.1:8080", "[::1]:8080", "localhost:0"). */
static gboolean
parse_listen (const gchar *text, gchar **address, guint *port)
{
  const gchar *colon = strrchr (text, ':');
  guint64 n = 0;
  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &n, NULL))
    return FALSE;
  g_autofree gchar *host = g_strndup (text, (gsize) (colon - text));
  if (host[0] == '[' && g_str_has_suffix (host, "]")) {
    gchar *inner = g_strndup (host + 1, strlen (host) - 2);
    g_free (host);
    host = inner;
  }
  if (g_ascii_strcasecmp (host, "localhost") == 0) {
    g_free (host);
    host = g_strdup ("127.0.0.1");
  }
  if (*host == '\0')
    return FALSE;
  *address = g_steal_pointer (&host);
  *port = (guint) n;
  return TRUE;
}

/* The token: the file's text without surrounding white space, long enough
 * not to be guessed. */
static gchar *
read_token (const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;
  if (!m3ret_file_check_readable (path, error) || !g_file_get_contents (path, &text, NULL, error))
    return NULL;
  g_strstrip (text);
  if (strlen (text) < 16 || strpbrk (text, " \t\r\n") != NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%s: the token must be one word of at least 16 characters", path);
    return NULL;
  }
  return g_steal_pointer (&text);
}

gint
cmd_serve (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *checkpoint = NULL, *index_path = NULL, *listen = NULL, *token_file = NULL,
                   *tls_cert = NULL, *tls_key = NULL, *items_dir = NULL, *access_log = NULL;
  gint timeout_s = 30, idle_s = 60, queue = 32, batch = 8, batch_wait_ms = 2, thumb_threads = 2;
  gint max_in_flight = 64;
  gint64 max_request = 0;
  gboolean allow_mismatch = FALSE;
  GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "Weights (.safetensors), or 'random' or 'raw'", "CKPT" },
    { "index", 'i', 0, G_OPTION_ARG_FILENAME, &index_path, "Index written by m3ret index", "INDEX" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address and port (default 127.0.0.1:8080; port 0: any free one)", "ADDR:PORT" },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file, "Bearer token clients must send (required off loopback)", "FILE" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "Serve HTTPS with this PEM certificate", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "The certificate's PEM private key", "FILE" },
    { "items-dir", 0, 0, G_OPTION_ARG_FILENAME, &items_dir, "Allow POST /api/items: keep added cases here and rewrite INDEX", "DIR" },
    { "access-log", 0, 0, G_OPTION_ARG_FILENAME, &access_log, "Append the access log here (default: stderr)", "FILE" },
    { "max-request", 0, 0, G_OPTION_ARG_INT64, &max_request, "Bytes of one request (default: [data] max_file_size + 1 MiB, at most 257 MiB)", "BYTES" },
    { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_in_flight, "Requests being read or answered at once; more get 503 (default 64)", "N" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Seconds one request may take once read (default 30)", "S" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_s, "Seconds a connection may stay silent (default 60)", "S" },
    { "queue", 0, 0, G_OPTION_ARG_INT, &queue, "Requests waiting for the encoder at most; more get 503 (default 32)", "N" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Queries embedded together at most; 1: no batching (default 8)", "N" },
    { "batch-wait", 0, 0, G_OPTION_ARG_INT, &batch_wait_ms, "Milliseconds a query waits for others to batch with (default 2)", "MS" },
    { "thumbnail-threads", 0, 0, G_OPTION_ARG_INT, &thumb_threads, "Threads drawing thumbnails (default 2)", "N" },
    { "allow-mismatch", 0, 0, G_OPTION_ARG_NONE, &allow_mismatch,
      "Search an index made by another encoder than --checkpoint's", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini - the retrieval service: JSON API and web page");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  g_autofree gchar *address = NULL;
  guint port = 8080;
  gboolean usage_ok =
    cli_parse (ctx, "serve", &argc, &argv) &&
    cli_require_args ("serve", argc, argv, 1, 1, "PIPELINE.ini") &&
    cli_require ("serve", checkpoint, "--checkpoint CKPT|random|raw") &&
    cli_require ("serve", index_path, "--index INDEX");
  if (usage_ok && !parse_listen (listen ? listen : "127.0.0.1:8080", &address, &port))
    usage_ok = cli_usage_error ("serve", "--listen must be ADDR:PORT, not '%s'", listen) == 0;
  if (usage_ok && (tls_cert == NULL) != (tls_key == NULL))
    usage_ok = cli_usage_error ("serve", "--tls-cert and --tls-key go together") == 0;
  if (usage_ok && (timeout_s < 1 || timeout_s > 3600 || idle_s < 1 || idle_s > 3600))
    usage_ok = cli_usage_error ("serve", "--timeout and --idle-timeout must be 1 to 3600 s") == 0;
  if (usage_ok && (queue < 1 || queue > 100000 || batch < 1 || batch > 256 || batch_wait_ms < 0 ||
                   batch_wait_ms > 1000 || thumb_threads < 1 || thumb_threads > 64 ||
                   max_in_flight < 1 || max_in_flight > 100000))
    usage_ok = cli_usage_error ("serve", "--queue 1..100000, --batch 1..256, --batch-wait "
                                         "0..1000, --thumbnail-threads 1..64, "
                                         "--max-connections 1..100000") == 0;
  if (usage_ok && max_request < 0)
    usage_ok = cli_usage_error ("serve", "--max-request must be positive") == 0;
  if (!usage_ok) {
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }

  GError *error = NULL;
  gint status = M3RET_EXIT_OK;
  M3retRegistry *registry = cli_registry (&common);
  ServeEngine *engine = NULL;
  ServeServer *server = NULL;
  FILE *log = stderr;
  g_autofree gchar *token = NULL;
  g_autoptr (M3retRunFiles) files = m3ret_run_files_new ();
  m3ret_run_files_add_input (files, argv[1], "PIPELINE.ini");
  if (m3ret_checkpoint_is_file (checkpoint))
    m3ret_run_files_add_input (files, checkpoint, "--checkpoint");
  m3ret_run_files_add_input (files, index_path, "--index");
  m3ret_run_files_add_input (files, token_file, "--token-file");
  m3ret_run_files_add_input (files, tls_cert, "--tls-cert");
  m3ret_run_files_add_input (files, tls_key, "--tls-key");
  if (access_log != NULL && strcmp (access_log, "-") != 0)
    m3ret_run_files_add_output (files, access_log, "--access-log", "--access-log");
  if (!m3ret_run_files_check (files, &error))
    goto fail;
  if (token_file != NULL && (token = read_token (token_file, &error)) == NULL)
    goto fail;
  ServeEngineOptions eo = {
    .pipeline_path = argv[1], .checkpoint = checkpoint, .index_path = index_path,
    .items_dir = items_dir, .allow_mismatch = allow_mismatch, .queue_size = (guint) queue,
    .batch_max = (guint) batch, .batch_wait_us = (guint) batch_wait_ms * 1000,
  };
  if ((engine = serve_engine_new (registry, &eo, &error)) == NULL)
    goto fail;
  if (access_log != NULL && strcmp (access_log, "-") != 0 &&
      (log = fopen (access_log, "ae")) == NULL) {
    gint err = errno;
    g_set_error (&error, G_FILE_ERROR, g_file_error_from_errno (err), "%s: %s", access_log,
                 g_strerror (err));
    log = stderr;
    goto fail;
  }
  ServeHttpOptions ho = {
    .address = address, .port = port, .token = token, .tls_cert = tls_cert, .tls_key = tls_key,
    /* Bodies are held in memory: by default no more than 256 MiB of file each. */
    .max_request = max_request > 0 ? (guint64) max_request
                                   : MIN (serve_engine_max_file_size (engine), 256u << 20) + (1u << 20),
    .max_in_flight = (guint) max_in_flight,
    .timeout_s = (guint) timeout_s, .idle_timeout_s = (guint) idle_s,
    .thumb_threads = (guint) thumb_threads, .access_log = log,
  };
  if ((server = serve_server_new (engine, &ho, &error)) == NULL)
    goto fail;
  serve_server_run (server);
  fprintf (stderr, "m3ret serve: stopped\n");
  goto out;
fail:
  status = cli_fail (error);
  g_clear_error (&error);
out:
  /* The engine answers what it still holds; the server then delivers it. */
  serve_engine_free (engine);
  serve_server_free (server);
  if (log != stderr)
    fclose (log);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  return status;
}
