/* dicom-decoder-main.c — m3ret-dicom-decode, the process that runs GDCM.
 *
 * libm3ret-readers starts it with a socket on its standard input and
 * output and asks it, one request at a time, for a file's header or its
 * decoded pixels (dicom-decoder.h).  It never writes files, and it exits
 * when the socket closes.  If GDCM aborts or crashes on a file, only this
 * process dies; the reader reports that file as malformed and starts
 * another one.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "dicom-decoder.h"

static gboolean
reply_failure (gchar *reason)
{
  guint32 ok = 0, n = (guint32) strlen (reason);
  gboolean sent = dicom_decoder_send (1, &ok, 4) && dicom_decoder_send (1, &n, 4)
                  && dicom_decoder_send (1, reason, n);
  g_free (reason);
  return sent;
}

/* A string, or NULL as the length G_MAXUINT32. */
static gboolean
send_string (const gchar *s)
{
  guint32 n = s != NULL ? (guint32) strlen (s) : G_MAXUINT32;
  return dicom_decoder_send (1, &n, 4) && (s == NULL || dicom_decoder_send (1, s, n));
}

/* The struct, then what its pointers point to (they mean nothing in the
 * reader's process): the two names, the frame positions, the label. */
static gboolean
reply_header (const ReadersDicomHeader *h)
{
  guint32 n_pos = h->frame_positions != NULL ? 3 * h->frames : 0;
  return dicom_decoder_send (1, h, sizeof *h) && send_string (h->syntax_name)
         && send_string (h->spacing_from) && dicom_decoder_send (1, &n_pos, 4)
         && dicom_decoder_send (1, h->frame_positions, n_pos * sizeof (gdouble))
         && send_string (h->label);
}

static gboolean
serve_one (guint32 op, const gchar *path, const gchar *label)
{
  const guint32 ok = 1;
  gchar *reason = NULL;
  if (op == DICOM_DECODER_KEYWORD) {
    guint32 known = readers_dicom_gdcm_keyword_known (label);
    return dicom_decoder_send (1, &ok, 4) && dicom_decoder_send (1, &known, 4);
  }
  ReadersDicomHeader h;
  if (!readers_dicom_gdcm_header (path, label[0] ? label : NULL, &h, &reason))
    return reply_failure (reason);
  if (op == DICOM_DECODER_HEADER) {
    gboolean sent = dicom_decoder_send (1, &ok, 4) && reply_header (&h);
    readers_dicom_header_clear (&h);
    return sent;
  }
  /* DECODE: the caller checked this header against its limits. */
  guint channels = h.samples == 3 || g_str_has_prefix (h.photometric, "PALETTE") ? 3 : 1;
  guint64 n = (guint64) channels * h.frames * h.rows * h.cols;
  gfloat *values = g_try_new (gfloat, n);
  gdouble lo = 0, hi = 1;
  guint got = 0;
  gboolean sent;
  if (values == NULL)
    sent = reply_failure (g_strdup ("the decoder cannot allocate its pixels"));
  else if (!readers_dicom_gdcm_decode (path, &h, values, &got, &lo, &hi, &reason))
    sent = reply_failure (reason);
  else
    sent = dicom_decoder_send (1, &ok, 4) && reply_header (&h) && dicom_decoder_send (1, &got, 4)
           && dicom_decoder_send (1, &lo, sizeof lo) && dicom_decoder_send (1, &hi, sizeof hi)
           && dicom_decoder_send (1, &n, sizeof n)
           && dicom_decoder_send (1, values, n * sizeof (gfloat));
  g_free (values);
  readers_dicom_header_clear (&h);
  return sent;
}

int
main (int argc, char **argv)
{
  if (argc != 1 || isatty (0)) {
    g_printerr ("m3ret-dicom-decode: the DICOM decoder libm3ret-readers starts itself; "
                "it is not a command\n");
    return 2;
  }
  for (;;) {
    guint32 head[4];
    if (!dicom_decoder_recv (0, head, sizeof head, -1))
      return 0; /* the reader closed the socket */
    if (head[0] != DICOM_DECODER_MAGIC || head[2] > 65536 || head[3] > 1024)
      return 1;
    g_autofree gchar *path = g_malloc0 (head[2] + 1), *label = g_malloc0 (head[3] + 1);
    if (!dicom_decoder_recv (0, path, head[2], -1) || !dicom_decoder_recv (0, label, head[3], -1)
        || !serve_one (head[1], path, label))
      return 1;
  }
}
