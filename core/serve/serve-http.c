/* serve-http.c — libsoup for `m3ret serve`: listening, TLS, the token, the
 * size limit, request ids, the access log, timeouts and the drain. */
#include "config.h"

#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <string.h>

#include "serve-server.h"
#include "serve-upload.h"

#define REQUEST_KEY "m3ret-serve-request"

/* ---- answers ---- */

void
serve_respond (SoupServerMessage *msg, guint status, const gchar *type, GBytes *body)
{
  gsize len = 0;
  const gchar *data = body ? g_bytes_get_data (body, &len) : NULL;
  soup_server_message_set_status (msg, status, NULL);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, data, len);
}

void
serve_respond_json (SoupServerMessage *msg, guint status, const gchar *json)
{
  g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));
  serve_respond (msg, status, "application/json", body);
}

void
serve_respond_error (SoupServerMessage *msg, guint status, const gchar *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree gchar *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  ServeRequest *req = g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, text);
  if (req != NULL) {
    json_builder_set_member_name (b, "request");
    json_builder_add_string_value (b, req->id);
  }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree gchar *json = json_to_string (root, FALSE);
  serve_respond_json (msg, status, json);
}

void
serve_respond_busy (SoupServerMessage *msg, const gchar *why)
{
  serve_respond_error (msg, 503, "%s", why);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                "1");
}

/* ---- requests ---- */

static void
request_finished (SoupServerMessage *msg, ServeRequest *req)
{
  if (req->finished)
    return;
  req->finished = TRUE;
  ServeServer *s = req->server;
  if (req->counted)
    s->in_flight--;
  if (s->options.access_log == NULL)
    return;
  /* The route, never the query string: fields may carry a label. */
  GUri *uri = soup_server_message_get_uri (msg);
  SoupMessageBody *out = soup_server_message_get_response_body (msg);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *stamp = g_date_time_format_iso8601 (now);
  const gchar *remote = soup_server_message_get_remote_host (msg);
  fprintf (s->options.access_log,
           "%s %s %s %s %s %u in=%" G_GUINT64_FORMAT " out=%" G_GINT64_FORMAT " ms=%.1f\n", stamp,
           req->id, remote ? remote : "-", soup_server_message_get_method (msg),
           uri ? g_uri_get_path (uri) : "-", soup_server_message_get_status (msg), req->in_bytes,
           out ? out->length : 0, (g_get_monotonic_time () - req->start) / 1000.0);
  fflush (s->options.access_log);
}

static void
got_chunk (SoupServerMessage *msg, GBytes *chunk, ServeRequest *req)
{
  req->in_bytes += g_bytes_get_size (chunk);
  if (req->in_bytes <= req->server->options.max_request ||
      soup_server_message_get_status (msg) != 0)
    return;
  /* Over the limit (a body without Content-Length): drop what came, keep nothing more. */
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  soup_message_body_set_accumulate (body, FALSE);
  soup_message_body_truncate (body);
  serve_respond_error (msg, 413, "the request is larger than %" G_GUINT64_FORMAT " bytes",
                       req->server->options.max_request);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
}

/* libsoup before 3.4 keeps the reference g_socket_accept() gave it, so that
 * every connection's GSocket outlives it (fixed upstream by "soup-listener:
 * Plug a leak", in 3.4.0).  The connection holds its own reference by its
 * first request: drop the stray one then, once per socket. */
static void
release_accepted_ref (GSocket *socket)
{
  static GQuark released;
  if (socket == NULL || soup_get_major_version () > 3 ||
      (soup_get_major_version () == 3 && soup_get_minor_version () >= 4))
    return;
  if (released == 0)
    released = g_quark_from_static_string ("m3ret-serve-accept-ref-released");
  if (g_object_get_qdata (G_OBJECT (socket), released) != NULL)
    return;
  g_object_set_qdata (G_OBJECT (socket), released, GINT_TO_POINTER (1));
  g_object_unref (socket);
}

static void
request_started (SoupServer *soup, SoupServerMessage *msg, ServeServer *s)
{
  ServeRequest *req = g_new0 (ServeRequest, 1);
  req->server = s;
  req->start = g_get_monotonic_time ();
  g_snprintf (req->id, sizeof req->id, "%08x-%06" G_GUINT64_FORMAT, s->boot, ++s->next_id);
  req->counted = TRUE;
  s->in_flight++;
  g_object_set_data_full (G_OBJECT (msg), REQUEST_KEY, req, g_free);
  g_signal_connect (msg, "finished", G_CALLBACK (request_finished), req);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk), req);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "X-Request-Id",
                                req->id);
  /* A connection that sends nothing for this long is closed (slow or idle clients). */
  GSocket *socket = soup_server_message_get_socket (msg);
  if (socket != NULL)
    g_socket_set_timeout (socket, s->options.idle_timeout_s);
  release_accepted_ref (socket);
}

/* Constant time: how long the comparison takes says nothing of the token. */
static gboolean
token_matches (const gchar *want, const gchar *got)
{
  gsize lw = strlen (want), lg = strlen (got);
  guint8 diff = lw != lg;
  for (gsize i = 0; i < lw; i++)
    diff |= (guint8) want[i] ^ (guint8) (i < lg ? got[i] : 0);
  return diff == 0;
}

static gboolean
authorised (ServeServer *s, SoupServerMessage *msg)
{
  if (s->options.token == NULL)
    return TRUE;
  const gchar *h = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                 "Authorization");
  if (h == NULL || g_ascii_strncasecmp (h, "Bearer ", 7) != 0)
    return FALSE;
  return token_matches (s->options.token, h + 7);
}

/* After the headers, before the body: refuse early what will be refused. */
static void
early_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer data)
{
  ServeServer *s = data;
  ServeRequest *req = g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
  SoupMessageHeaders *in = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *out = soup_server_message_get_response_headers (msg);
  gboolean known = FALSE;
  const ServeRoute *route = serve_api_route (soup_server_message_get_method (msg), path, &known);
  if (req != NULL)
    req->route = route;
  if (s->draining) {
    serve_respond_busy (msg, "the server is stopping");
    soup_message_headers_replace (out, "Connection", "close");
  } else if (s->in_flight > s->options.max_in_flight) {
    /* Bodies are held in memory until read: their number bounds the memory. */
    serve_respond_busy (msg, "too many requests at once: try again shortly");
    soup_message_headers_replace (out, "Connection", "close");
  } else if (route == NULL && !known) {
    serve_respond_error (msg, 404, "no such resource");
  } else if (route == NULL) {
    serve_respond_error (msg, 405, "method not allowed here");
    soup_message_headers_replace (out, "Allow", serve_api_allowed (path));
  } else if (serve_api_route_needs_token (route) && !authorised (s, msg)) {
    serve_respond_error (msg, 401, "a bearer token is required (Authorization: Bearer TOKEN)");
    soup_message_headers_replace (out, "WWW-Authenticate", "Bearer realm=\"m3ret\"");
  } else if (soup_message_headers_get_encoding (in) == SOUP_ENCODING_CONTENT_LENGTH &&
             (guint64) soup_message_headers_get_content_length (in) > s->options.max_request) {
    serve_respond_error (msg, 413, "the request is larger than %" G_GUINT64_FORMAT " bytes",
                         s->options.max_request);
  } else {
    return;
  }
  /* Refused: whatever body follows is read and dropped, never kept. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  if (soup_message_headers_get_encoding (in) != SOUP_ENCODING_NONE)
    soup_message_headers_replace (out, "Connection", "close");
}

static void
handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
         gpointer data)
{
  ServeServer *s = data;
  ServeRequest *req = g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
  if (req == NULL || req->route == NULL) {
    serve_respond_error (msg, 404, "no such resource");
    return;
  }
  serve_api_handle (s, msg, req->route);
}

/* ---- answers that come later ---- */

struct _ServeHold {
  ServeServer *server;
  SoupServerMessage *msg;
  ServeRequest *req;
  guint timer;
  gboolean answered;
  GCallback on_timeout;
  gpointer data;
};

static gboolean
hold_timed_out (gpointer data)
{
  ServeHold *hold = data;
  hold->timer = 0;
  if (!hold->answered && !hold->req->finished) {
    serve_respond_busy (hold->msg, "the request timed out");
    soup_server_message_unpause (hold->msg);
  }
  hold->answered = TRUE;
  if (hold->on_timeout != NULL)
    ((void (*) (gpointer)) hold->on_timeout) (hold->data);
  return G_SOURCE_REMOVE;
}

ServeHold *
serve_hold_new (ServeServer *server, SoupServerMessage *msg, GCallback on_timeout, gpointer data)
{
  ServeHold *hold = g_new0 (ServeHold, 1);
  hold->server = server;
  hold->msg = g_object_ref (msg);
  hold->req = g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
  hold->on_timeout = on_timeout;
  hold->data = data;
  hold->timer = g_timeout_add (server->options.timeout_s * 1000, hold_timed_out, hold);
  soup_server_message_pause (msg);
  return hold;
}

void
serve_hold_answer (ServeHold *hold, guint status, const gchar *type, GBytes *body)
{
  if (!hold->answered && !hold->req->finished) {
    serve_respond (hold->msg, status, type, body);
    soup_server_message_unpause (hold->msg);
  }
  if (hold->timer != 0)
    g_source_remove (hold->timer);
  g_object_unref (hold->msg);
  g_free (hold);
}

/* ---- listening ---- */

static gboolean
on_signal (gpointer data)
{
  ServeServer *s = data;
  if (!s->draining) {
    s->draining = TRUE;
    s->drain_deadline = g_get_monotonic_time () + (gint64) (s->options.timeout_s + 1) * G_USEC_PER_SEC;
    fprintf (stderr, "m3ret serve: stopping: finishing %u request(s) in flight\n", s->in_flight);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
drain_check (gpointer data)
{
  ServeServer *s = data;
  if (s->draining && (s->in_flight == 0 || g_get_monotonic_time () > s->drain_deadline))
    g_main_loop_quit (s->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
setup_tls (ServeServer *s, GError **error)
{
  if (s->options.tls_cert == NULL)
    return TRUE;
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "serve: TLS needs GLib's TLS module: install the Debian package glib-networking");
    return FALSE;
  }
  GTlsCertificate *cert = g_tls_certificate_new_from_files (s->options.tls_cert,
                                                            s->options.tls_key, error);
  if (cert == NULL) {
    g_prefix_error (error, "%s: ", s->options.tls_cert);
    return FALSE;
  }
  g_object_set (s->soup, "tls-certificate", cert, NULL);
  g_object_unref (cert);
  return TRUE;
}

ServeServer *
serve_server_new (ServeEngine *engine, const ServeHttpOptions *options, GError **error)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (options->address);
  if (inet == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "serve: --listen: '%s' is not an IP address", options->address);
    return NULL;
  }
  if (!g_inet_address_get_is_loopback (inet) && options->token == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "serve: --listen %s is reachable from other machines: give --token-file FILE "
                 "(clients then send Authorization: Bearer TOKEN), or listen on 127.0.0.1",
                 options->address);
    return NULL;
  }
  ServeServer *s = g_new0 (ServeServer, 1);
  s->engine = engine;
  s->options = *options;
  s->boot = g_random_int ();
  s->soup = soup_server_new ("server-header", "m3ret/" PACKAGE_VERSION " ", NULL);
  s->loop = g_main_loop_new (NULL, FALSE);
  if (!setup_tls (s, error) || (s->upload_dir = serve_upload_dir_new (error)) == NULL) {
    serve_server_free (s);
    return NULL;
  }
  g_signal_connect (s->soup, "request-started", G_CALLBACK (request_started), s);
  soup_server_add_early_handler (s->soup, "/", early_handler, s, NULL);
  soup_server_add_handler (s->soup, "/", handler, s, NULL);
  g_autoptr (GSocketAddress) where = g_inet_socket_address_new (inet, options->port);
  SoupServerListenOptions listen = options->tls_cert ? SOUP_SERVER_LISTEN_HTTPS : 0;
  /* Our own socket: GLib's default backlog of 10 resets a burst of clients
   * before the queue can answer them 503. */
  g_autoptr (GSocket) socket = g_socket_new (g_inet_address_get_family (inet),
                                             G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket != NULL) {
    g_socket_set_listen_backlog (socket, 256);
    if (!g_socket_bind (socket, where, TRUE, error) || !g_socket_listen (socket, error))
      g_clear_object (&socket);
  }
  if (socket == NULL || !soup_server_listen_socket (s->soup, socket, listen, error)) {
    g_prefix_error (error, "serve: --listen %s:%u: ", options->address, options->port);
    serve_server_free (s);
    return NULL;
  }
  /* The URL from our own socket (libsoup 3.2's soup_server_get_uris() leaks
   * the address it caches). */
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (socket, NULL);
  guint port = bound ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)) : 0;
  g_autofree gchar *host = g_inet_address_to_string (inet);
  gboolean v6 = g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6;
  printf ("m3ret serve: listening on %s://%s%s%s:%u/\n", options->tls_cert ? "https" : "http",
          v6 ? "[" : "", host, v6 ? "]" : "", port);
  fflush (stdout);
  return s;
}

void
serve_server_run (ServeServer *s)
{
  guint term = g_unix_signal_add (SIGTERM, on_signal, s);
  guint intr = g_unix_signal_add (SIGINT, on_signal, s);
  guint check = g_timeout_add (50, drain_check, s);
  g_main_loop_run (s->loop);
  g_source_remove (term);
  g_source_remove (intr);
  g_source_remove (check);
  soup_server_disconnect (s->soup);
  /* The thumbnail threads read the engine, which goes next: wait for them. */
  if (s->thumbs != NULL)
    g_thread_pool_free (g_steal_pointer (&s->thumbs), FALSE, TRUE);
}

void
serve_server_free (ServeServer *s)
{
  if (s == NULL)
    return;
  if (s->thumbs != NULL)
    g_thread_pool_free (s->thumbs, FALSE, TRUE);
  /* The thumbnail threads hand their answers to the main context: let them land. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&s->soup);
  g_main_loop_unref (s->loop);
  serve_upload_dir_remove (s->upload_dir);
  g_free (s->upload_dir);
  g_free (s);
}
