/* dicom-decoder-io.c — whole reads and writes on the decoder's socket (both ends). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "dicom-decoder.h"

gboolean
dicom_decoder_send (gint fd, const void *data, gsize len)
{
  const guint8 *p = data;
  while (len > 0) {
    /* MSG_NOSIGNAL: a peer that died is an error here, not a SIGPIPE. */
    gssize n = send (fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    p += n;
    len -= (gsize) n;
  }
  return TRUE;
}

gboolean
dicom_decoder_recv (gint fd, void *data, gsize len, gint timeout_ms)
{
  guint8 *p = data;
  gint64 deadline = timeout_ms >= 0 ? g_get_monotonic_time () + (gint64) timeout_ms * 1000 : -1;
  while (len > 0) {
    if (deadline >= 0) {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gint r = left > 0 ? poll (&pfd, 1, (gint) MIN (left, G_MAXINT)) : 0;
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 0)
        errno = ETIMEDOUT;
      if (r <= 0)
        return FALSE;
    }
    gssize n = recv (fd, p, len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0)
      errno = EPIPE; /* the peer closed: it exited or died */
    if (n <= 0)
      return FALSE;
    p += n;
    len -= (gsize) n;
  }
  return TRUE;
}

/* Both ends clear headers: one definition for the library and the decoder. */
void
readers_dicom_header_clear (ReadersDicomHeader *h)
{
  if (h == NULL)
    return;
  g_free (h->frame_positions);
  g_free (h->label);
  memset (h, 0, sizeof *h);
}
