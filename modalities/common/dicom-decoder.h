/* dicom-decoder.h — the messages between libm3ret-readers and the DICOM
 * decoder process (m3ret-dicom-decode), which runs GDCM.
 *
 * GDCM, as Debian builds it, aborts on some malformed files (its assert()s
 * are on) and has crashed on others; a process of its own keeps such a file
 * from taking the reader's process down with it.  Both ends are built from
 * this tree together, so the header travels as its C struct.
 *
 * Request:  guint32 magic, op, path length, label length; path; label.
 * Reply:    guint32 ok; then for HEADER the struct, the frame positions and
 *           the label; for DECODE the struct, channels, range and values;
 *           for KEYWORD nothing; on failure the reason.
 */
#ifndef M3RET_DICOM_DECODER_H
#define M3RET_DICOM_DECODER_H

#include "dicom-gdcm.h"

G_BEGIN_DECLS

#define DICOM_DECODER_MAGIC 0x3344334du /* "M3D3" */

typedef enum {
  DICOM_DECODER_HEADER = 1,  /* path, label keyword (may be empty) */
  DICOM_DECODER_DECODE = 2,  /* path */
  DICOM_DECODER_KEYWORD = 3, /* label: is it a keyword of the dictionary? */
} DicomDecoderOp;

/* Whole writes and reads on a socket; FALSE when the peer is gone (no
 * SIGPIPE; errno EPIPE) or, for reads, after @timeout_ms without data
 * (errno ETIMEDOUT; < 0: no limit). */
gboolean dicom_decoder_send (gint fd, const void *data, gsize len);
gboolean dicom_decoder_recv (gint fd, void *data, gsize len, gint timeout_ms);

G_END_DECLS

#endif /* M3RET_DICOM_DECODER_H */
