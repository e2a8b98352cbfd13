/* dicom-decoder-client.c — dicom-gdcm.h's entries, answered by decoder processes.
 *
 * Inside libm3ret-readers nothing calls GDCM: each request goes to an
 * m3ret-dicom-decode process (dicom-decoder-main.c) over a socket.  Idle
 * decoders wait in a pool, one per thread that needs one at a time, so
 * loader threads decode in parallel.  A decoder that dies (GDCM aborted or
 * crashed on the file) or takes longer than the timeout is killed and the
 * request fails with a reason naming that; the next request starts a fresh
 * decoder.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dicom-decoder.h"

/* Seconds a decoder may take on one file: a header, and the pixels. */
#define HEADER_TIMEOUT_MS 30000
#define DECODE_TIMEOUT_MS 300000

typedef struct {
  GPid pid;
  gint fd;
} Decoder;

static GMutex pool_lock;
static GSList *idle; /* of Decoder */

/* Where the decoder is: $M3RET_DICOM_DECODER, else the installed one, else
 * the one this build tree made (an uninstalled run). */
static const gchar *
decoder_path (void)
{
  const gchar *env = g_getenv ("M3RET_DICOM_DECODER");
  if (env != NULL && *env)
    return env;
  if (g_file_test (M3RET_DICOM_DECODER_INSTALLED, G_FILE_TEST_IS_EXECUTABLE))
    return M3RET_DICOM_DECODER_INSTALLED;
  return M3RET_DICOM_DECODER_BUILT;
}

static Decoder *
decoder_start (gchar **reason)
{
  gint sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    *reason = g_strdup_printf ("cannot make a socket for the DICOM decoder: %s", g_strerror (errno));
    return NULL;
  }
  const gchar *path = decoder_path ();
  gchar *argv[] = { (gchar *) path, NULL };
  GError *error = NULL;
  Decoder *d = g_new0 (Decoder, 1);
  /* GDCM's own messages (and a sanitizer's, in such a build) go nowhere:
   * the reader reports through GError. */
  if (!g_spawn_async_with_fds (NULL, argv, NULL,
                               G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &d->pid, sv[1], sv[1], -1, &error)) {
    *reason = g_strdup_printf ("cannot start the DICOM decoder %s: %s (set M3RET_DICOM_DECODER "
                               "to its path)", path, error->message);
    g_error_free (error);
    close (sv[0]);
    close (sv[1]);
    g_free (d);
    return NULL;
  }
  close (sv[1]);
  d->fd = sv[0];
  return d;
}

static Decoder *
decoder_get (gchar **reason)
{
  g_mutex_lock (&pool_lock);
  Decoder *d = idle != NULL ? idle->data : NULL;
  idle = g_slist_delete_link (idle, idle);
  g_mutex_unlock (&pool_lock);
  return d != NULL ? d : decoder_start (reason);
}

static void
decoder_put (Decoder *d)
{
  g_mutex_lock (&pool_lock);
  idle = g_slist_prepend (idle, d);
  g_mutex_unlock (&pool_lock);
}

/* Ends @d (killed unless it died already) and says how it ended. */
static gchar *
decoder_end (Decoder *d, gboolean timed_out)
{
  close (d->fd);
  /* A decoder that closed its socket is exiting: wait for it; one that
   * ran out of time is killed. */
  gint status = 0;
  if (timed_out)
    kill (d->pid, SIGKILL);
  if (waitpid (d->pid, &status, 0) < 0)
    status = 0;
  g_spawn_close_pid (d->pid);
  g_free (d);
  if (timed_out)
    return g_strdup ("the DICOM decoder did not finish with it in time (killed)");
  if (WIFSIGNALED (status))
    return g_strdup_printf ("malformed DICOM: the decoder (GDCM) died on it (signal %d)",
                            WTERMSIG (status));
  return g_strdup ("malformed DICOM: the decoder (GDCM) stopped on it");
}

/* Sends one request; on success the reply follows on d->fd. */
static gboolean
request (Decoder *d, guint32 op, const gchar *path, const gchar *label)
{
  guint32 head[4] = { DICOM_DECODER_MAGIC, op, (guint32) strlen (path),
                      label ? (guint32) strlen (label) : 0 };
  return dicom_decoder_send (d->fd, head, sizeof head)
         && dicom_decoder_send (d->fd, path, head[2])
         && dicom_decoder_send (d->fd, label, head[3]);
}

static gboolean
recv_string (Decoder *d, gchar **s, gint timeout_ms)
{
  guint32 n;
  if (!dicom_decoder_recv (d->fd, &n, 4, timeout_ms))
    return FALSE;
  *s = NULL;
  if (n == G_MAXUINT32)
    return TRUE;
  if (n > 1u << 20)
    return FALSE;
  *s = g_malloc0 (n + 1);
  return dicom_decoder_recv (d->fd, *s, n, timeout_ms);
}

/* The status word, and on failure the decoder's reason into *@reason. */
static gboolean
recv_status (Decoder *d, gboolean *ok, gchar **reason, gint timeout_ms)
{
  guint32 word;
  if (!dicom_decoder_recv (d->fd, &word, 4, timeout_ms))
    return FALSE;
  *ok = word == 1;
  return *ok || recv_string (d, reason, timeout_ms);
}

static gboolean
recv_header (Decoder *d, ReadersDicomHeader *h, gint timeout_ms)
{
  g_autofree gchar *syntax = NULL, *spacing_from = NULL;
  guint32 n_pos;
  memset (h, 0, sizeof *h);
  if (!dicom_decoder_recv (d->fd, h, sizeof *h, timeout_ms)) {
    memset (h, 0, sizeof *h);
    return FALSE;
  }
  /* The decoder's pointers mean nothing here: what they pointed to follows. */
  h->syntax_name = h->spacing_from = NULL;
  h->frame_positions = NULL;
  h->label = NULL;
  if (!recv_string (d, &syntax, timeout_ms) || !recv_string (d, &spacing_from, timeout_ms)
      || !dicom_decoder_recv (d->fd, &n_pos, 4, timeout_ms) || n_pos > 3 * (guint64) h->frames)
    return FALSE;
  h->syntax_name = syntax ? g_intern_string (syntax) : NULL;
  h->spacing_from = spacing_from ? g_intern_string (spacing_from) : NULL;
  if (n_pos > 0) {
    h->frame_positions = g_new (gdouble, n_pos);
    if (!dicom_decoder_recv (d->fd, h->frame_positions, n_pos * sizeof (gdouble), timeout_ms))
      return FALSE;
  }
  return recv_string (d, &h->label, timeout_ms);
}

/* Runs @op on @path; on a broken exchange the decoder is ended and
 * *@reason says how.  With @ok FALSE the decoder's own reason is set. */
static Decoder *
begin (guint32 op, const gchar *path, const gchar *label, gint timeout_ms, gboolean *ok,
       gchar **reason)
{
  Decoder *d = decoder_get (reason);
  if (d == NULL)
    return NULL;
  *ok = FALSE;
  if (!request (d, op, path, label) || !recv_status (d, ok, reason, timeout_ms)) {
    *reason = decoder_end (d, errno == ETIMEDOUT);
    return NULL;
  }
  if (!*ok) {
    decoder_put (d);
    return NULL;
  }
  return d;
}

gboolean
readers_dicom_gdcm_header (const gchar *path, const gchar *label_keyword, ReadersDicomHeader *h,
                           gchar **reason)
{
  memset (h, 0, sizeof *h);
  gboolean ok;
  Decoder *d = begin (DICOM_DECODER_HEADER, path, label_keyword, HEADER_TIMEOUT_MS, &ok, reason);
  if (d == NULL)
    return FALSE;
  if (!recv_header (d, h, HEADER_TIMEOUT_MS)) {
    readers_dicom_header_clear (h);
    *reason = decoder_end (d, errno == ETIMEDOUT);
    return FALSE;
  }
  decoder_put (d);
  return TRUE;
}

gboolean
readers_dicom_gdcm_decode (const gchar *path, const ReadersDicomHeader *h, gfloat *out,
                           guint *channels, gdouble *range_min, gdouble *range_max,
                           gchar **reason)
{
  gboolean ok;
  Decoder *d = begin (DICOM_DECODER_DECODE, path, NULL, DECODE_TIMEOUT_MS, &ok, reason);
  if (d == NULL)
    return FALSE;
  ReadersDicomHeader seen;
  guint32 got = 0;
  guint64 n = 0;
  gboolean whole = recv_header (d, &seen, DECODE_TIMEOUT_MS)
                   && dicom_decoder_recv (d->fd, &got, 4, DECODE_TIMEOUT_MS)
                   && dicom_decoder_recv (d->fd, range_min, sizeof *range_min, DECODE_TIMEOUT_MS)
                   && dicom_decoder_recv (d->fd, range_max, sizeof *range_max, DECODE_TIMEOUT_MS)
                   && dicom_decoder_recv (d->fd, &n, sizeof n, DECODE_TIMEOUT_MS);
  /* The caller sized @out from its own reading of the header: a file that
   * changed since is refused, never written past. */
  guint64 room = (guint64) (h->samples == 3 || g_str_has_prefix (h->photometric, "PALETTE") ? 3 : 1)
                 * h->frames * h->rows * h->cols;
  gboolean same = whole && seen.rows == h->rows && seen.cols == h->cols
                  && seen.frames == h->frames && n == room;
  readers_dicom_header_clear (&seen);
  if (!whole || !same) {
    gboolean timed_out = errno == ETIMEDOUT;
    gchar *ended = decoder_end (d, whole ? TRUE : timed_out);
    if (whole) {
      g_free (ended);
      *reason = g_strdup ("the file changed while it was read");
    } else {
      *reason = ended;
    }
    return FALSE;
  }
  if (!dicom_decoder_recv (d->fd, out, n * sizeof (gfloat), DECODE_TIMEOUT_MS)) {
    *reason = decoder_end (d, errno == ETIMEDOUT);
    return FALSE;
  }
  *channels = got;
  decoder_put (d);
  return TRUE;
}

gboolean
readers_dicom_gdcm_keyword_known (const gchar *keyword)
{
  gboolean ok;
  g_autofree gchar *reason = NULL;
  Decoder *d = begin (DICOM_DECODER_KEYWORD, "", keyword, HEADER_TIMEOUT_MS, &ok, &reason);
  if (d == NULL)
    return FALSE;
  guint32 known = 0;
  if (!dicom_decoder_recv (d->fd, &known, 4, HEADER_TIMEOUT_MS)) {
    g_free (decoder_end (d, errno == ETIMEDOUT));
    return FALSE;
  }
  decoder_put (d);
  return known == 1;
}
