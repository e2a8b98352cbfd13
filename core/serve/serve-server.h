/* serve-server.h — private to `m3ret serve`: the HTTP side.
 *
 * serve-http.c runs libsoup: listening (loopback unless told), TLS, the
 * bearer token, the request-size limit, request ids, the access log, the
 * per-request timeout and the drain on SIGTERM; serve-api.c answers the
 * routes; serve-page.c serves the web page's files.  Everything runs on the
 * main context but the engine's thread and the thumbnail threads, which
 * hand their answers back to it.
 */
#ifndef M3RET_SERVE_SERVER_H
#define M3RET_SERVE_SERVER_H

#include <glib.h>
#include <libsoup/soup.h>
#include <stdio.h>

#include "serve-engine.h"

G_BEGIN_DECLS

typedef struct {
  gchar *address;          /* an IP literal */
  guint port;              /* 0: any free one */
  gchar *token;            /* the bearer token, or NULL: none asked */
  gchar *tls_cert, *tls_key;
  guint64 max_request;     /* bytes of one request body */
  guint max_in_flight;     /* requests read or answered at once; more get 503 */
  guint timeout_s;         /* seconds a request may take once read */
  guint idle_timeout_s;    /* seconds a connection may send nothing */
  guint thumb_threads;     /* threads drawing thumbnails */
  FILE *access_log;        /* (transfer none) */
} ServeHttpOptions;

typedef struct _ServeServer ServeServer;

/* One route of the API: its path (a pattern: "{id}" is a number), method
 * and whether it takes the token and a body. */
typedef struct _ServeRoute ServeRoute;

/* What the server knows of one request, kept on the message. */
typedef struct {
  ServeServer *server;
  gchar id[24];
  gint64 start;
  guint64 in_bytes;
  const ServeRoute *route;
  gboolean finished;       /* the message is done (answered or the client went) */
  gboolean counted;        /* counted in the server's in-flight requests */
} ServeRequest;

struct _ServeServer {
  ServeEngine *engine;
  ServeHttpOptions options;
  SoupServer *soup;
  GMainLoop *loop;
  gchar *upload_dir;
  GThreadPool *thumbs;
  guint in_flight;
  gboolean draining;
  gint64 drain_deadline;
  guint32 boot;            /* random, starts every request id */
  guint64 next_id;
};

/* Starts listening (refusing a non-loopback address without a token) and
 * prints the URL on stdout.  Returns: (transfer full) the server. */
ServeServer *serve_server_new (ServeEngine *engine, const ServeHttpOptions *options,
                               GError **error);
/* Runs until SIGTERM or SIGINT, then finishes the requests in flight. */
void serve_server_run (ServeServer *server);
void serve_server_free (ServeServer *server);

/* serve-http.c: answers */
void serve_respond (SoupServerMessage *msg, guint status, const gchar *type, GBytes *body);
void serve_respond_json (SoupServerMessage *msg, guint status, const gchar *json);
void serve_respond_error (SoupServerMessage *msg, guint status, const gchar *format, ...)
  G_GNUC_PRINTF (3, 4);
/* 503 with Retry-After. */
void serve_respond_busy (SoupServerMessage *msg, const gchar *why);

/* A request whose answer comes later: the message is paused and answered
 * by serve_hold_answer(), or with a 503 when the server's timeout comes
 * first (then @on_timeout, may be NULL, is called with @data). */
typedef struct _ServeHold ServeHold;
ServeHold *serve_hold_new (ServeServer *server, SoupServerMessage *msg, GCallback on_timeout,
                           gpointer data);
/* Answers (unless the timeout or the client's leaving came first) and frees @hold. */
void serve_hold_answer (ServeHold *hold, guint status, const gchar *type, GBytes *body);

/* serve-api.c */
const ServeRoute *serve_api_route (const gchar *method, const gchar *path, gboolean *path_known);
gboolean serve_api_route_needs_token (const ServeRoute *route);
/* The methods a path answers, for 405's Allow header. */
const gchar *serve_api_allowed (const gchar *path);
void serve_api_handle (ServeServer *server, SoupServerMessage *msg, const ServeRoute *route);

/* serve-page.c: (transfer full) the web page's file at @path, or NULL */
GBytes *serve_page_lookup (const gchar *path, const gchar **type);

G_END_DECLS

#endif /* M3RET_SERVE_SERVER_H */
