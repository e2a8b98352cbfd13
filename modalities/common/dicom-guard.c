/* dicom-guard.c — a DICOM file's element structure walked before GDCM sees it.
 *
 * Debian builds GDCM with its assert()s on, and some of them fire on
 * malformed input: a file truncated inside its meta group, say, aborts the
 * process instead of failing the read.  A reader fed by archives and by
 * uploads must not die of one bad file, so every element's tag, VR and
 * length is checked here against the bytes that exist, through sequences,
 * items and encapsulated pixel fragments (deflated data sets inflated
 * first).  Only a file whose structure holds goes on to GDCM, which still
 * decodes everything itself.
 */
#include "config.h"

#include <string.h>

#include <zlib.h>

#include "dicom-private.h"

#define MAX_NESTING 16
/* A deflated data set may not grow past this many times its file. */
#define MAX_INFLATE_RATIO 64

typedef struct {
  const guint8 *p;
  gsize len;
  gboolean explicit_vr, big_endian;
  gboolean has_pixels;
  gboolean rle; /* RLE Lossless: each frame's fragment has its own header */
  const gchar *why; /* static text of the first problem */
} Walk;

static guint16
u16 (const Walk *w, gsize at)
{
  return w->big_endian ? (guint16) (w->p[at] << 8 | w->p[at + 1])
                       : (guint16) (w->p[at] | w->p[at + 1] << 8);
}

static guint32
u32 (const Walk *w, gsize at)
{
  return w->big_endian ? (guint32) w->p[at] << 24 | (guint32) w->p[at + 1] << 16
                           | (guint32) w->p[at + 2] << 8 | w->p[at + 3]
                       : (guint32) w->p[at] | (guint32) w->p[at + 1] << 8
                           | (guint32) w->p[at + 2] << 16 | (guint32) w->p[at + 3] << 24;
}

/* VRs whose length takes 4 bytes after 2 reserved ones (PS3.5 7.1.2). */
static gboolean
long_vr (const guint8 *vr)
{
  static const gchar *const longs[] = { "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV",
                                        "UC", "UN", "UR", "UT", "UV", NULL };
  for (guint i = 0; longs[i]; i++)
    if (vr[0] == longs[i][0] && vr[1] == longs[i][1])
      return TRUE;
  return FALSE;
}

/* The VRs of PS3.5 6.2: any other pair of letters is not DICOM. */
static gboolean
known_vr (const guint8 *vr)
{
  static const gchar vrs[] = "AEASATCSDADSDTFDFLISLOLTOBODOFOLOVOWPNSHSLSQSSSTSVTMUCUIULUNURUSUTUV";
  for (guint i = 0; i + 1 < sizeof vrs; i += 2)
    if (vr[0] == vrs[i] && vr[1] == vrs[i + 1])
      return TRUE;
  return FALSE;
}

static gboolean walk_set (Walk *w, gsize *pos, gsize end, gboolean in_item, guint depth);

/* An RLE fragment's header (PS3.5 G.5): 1 to 15 segments whose offsets
 * start right after the 64-byte header, ascend, and stay in the fragment.
 * GDCM's RLE decoder follows them unchecked. */
static gboolean
rle_header_fits (const Walk *w, gsize at, guint32 len)
{
  if (len < 64)
    return FALSE;
  Walk le = *w;
  le.big_endian = FALSE; /* the header is little endian in every syntax */
  guint32 n = u32 (&le, at);
  if (n < 1 || n > 15 || u32 (&le, at + 4) != 64)
    return FALSE;
  for (guint i = 1; i < n; i++) {
    guint32 prev = u32 (&le, at + 4 * i), next = u32 (&le, at + 4 * (i + 1));
    if (next <= prev || next >= len)
      return FALSE;
  }
  return TRUE;
}

/* The items of a sequence (or the fragments of encapsulated pixel data)
 * from *@pos up to @end, or to its delimiter when @undefined. */
static gboolean
walk_items (Walk *w, gsize *pos, gsize end, gboolean undefined, gboolean fragments, guint depth)
{
  gboolean first = TRUE;
  while (*pos < end) {
    if (end - *pos < 8) {
      w->why = "an item header runs past the end of the file";
      return FALSE;
    }
    guint16 group = u16 (w, *pos), element = u16 (w, *pos + 2);
    guint32 len = u32 (w, *pos + 4);
    *pos += 8;
    if (group == 0xfffe && element == 0xe0dd) /* sequence delimiter */
      return undefined || (w->why = "a sequence delimiter in a sequence of defined length", FALSE);
    if (group != 0xfffe || element != 0xe000) {
      w->why = "a sequence holds something other than items";
      return FALSE;
    }
    if (len == 0xffffffffu) {
      if (fragments) {
        w->why = "a pixel data fragment of undefined length";
        return FALSE;
      }
      if (!walk_set (w, pos, end, TRUE, depth + 1))
        return FALSE;
      continue;
    }
    if (len > end - *pos) {
      w->why = fragments ? "a pixel data fragment runs past the end of the file"
                         : "a sequence item runs past the end of the file";
      return FALSE;
    }
    gsize item_end = *pos + len;
    if (!fragments && !walk_set (w, pos, item_end, FALSE, depth + 1))
      return FALSE;
    /* The first item is the basic offset table, the others frames. */
    if (fragments && w->rle && !first && !rle_header_fits (w, *pos, len)) {
      w->why = "an RLE fragment whose segment offsets do not fit it";
      return FALSE;
    }
    first = FALSE;
    *pos = item_end;
  }
  if (undefined) {
    w->why = "a sequence of undefined length is not closed";
    return FALSE;
  }
  return TRUE;
}

/* The elements of a data set from *@pos to @end (or to an item delimiter
 * when @in_item is an item of undefined length). */
static gboolean
walk_set (Walk *w, gsize *pos, gsize end, gboolean in_item, guint depth)
{
  if (depth > MAX_NESTING) {
    w->why = "sequences nested too deep";
    return FALSE;
  }
  while (*pos < end) {
    if (end - *pos < 8) {
      w->why = "an element header runs past the end of the file";
      return FALSE;
    }
    gsize at = *pos;
    guint16 group = u16 (w, at), element = u16 (w, at + 2);
    if (group == 0xfffe) {
      *pos += 8;
      if (element == 0xe00d && in_item)
        return TRUE;
      w->why = "a stray item or delimiter in a data set";
      return FALSE;
    }
    guint32 len;
    gboolean sq = FALSE;
    if (w->explicit_vr) {
      const guint8 *vr = w->p + at + 4;
      if (!known_vr (vr)) {
        w->why = "an element without a valid VR";
        return FALSE;
      }
      if (long_vr (vr)) {
        if (end - at < 12) {
          w->why = "an element header runs past the end of the file";
          return FALSE;
        }
        len = u32 (w, at + 8);
        *pos = at + 12;
      } else {
        len = u16 (w, at + 6);
        *pos = at + 8;
      }
      sq = vr[0] == 'S' && vr[1] == 'Q';
    } else {
      len = u32 (w, at + 4);
      *pos = at + 8;
    }
    gboolean pixels = group == 0x7fe0 && element == 0x0010;
    if (pixels && depth == 0)
      w->has_pixels = TRUE;
    if (len == 0xffffffffu) {
      /* Undefined length: a sequence, or encapsulated pixel data. */
      if (!walk_items (w, pos, end, TRUE, pixels, depth))
        return FALSE;
      continue;
    }
    if (len > end - *pos) {
      w->why = pixels ? "its pixel data is cut short (truncated file?)"
                      : "an element's length runs past the end of the file";
      return FALSE;
    }
    gsize value_end = *pos + len;
    if (sq && !walk_items (w, pos, value_end, FALSE, FALSE, depth))
      return FALSE;
    /* The retired Recognition Code: GDCM asserts on any but these. */
    if (group == 0x0008 && element == 0x0010 && depth == 0 && len > 0) {
      const gchar *v = (const gchar *) w->p + *pos;
      if (!(len >= 8 && memcmp (v, "ACR-NEMA", 8) == 0) && !(len >= 7 && memcmp (v, "ACRNEMA", 7) == 0)
          && !(len >= 8 && memcmp (v, "MIPS 2.0", 8) == 0)) {
        w->why = "a Recognition Code (0008,0010) that is not ACR-NEMA";
        return FALSE;
      }
    }
    *pos = value_end;
  }
  if (in_item) {
    w->why = "an item of undefined length is not closed";
    return FALSE;
  }
  return TRUE;
}

/* Inflates the raw deflate stream @in into *@out (owned). */
static gboolean
inflate_all (const guint8 *in, gsize in_len, guint8 **out, gsize *out_len)
{
  z_stream z;
  memset (&z, 0, sizeof z);
  if (inflateInit2 (&z, -MAX_WBITS) != Z_OK)
    return FALSE;
  gsize cap = MAX (in_len * 4, 4096), max = MAX (in_len, 4096) * MAX_INFLATE_RATIO;
  guint8 *buf = g_malloc (cap);
  z.next_in = (Bytef *) in;
  z.avail_in = (uInt) MIN (in_len, G_MAXUINT);
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (z.total_out == cap) {
      if (cap >= max)
        break;
      cap = MIN (cap * 2, max);
      buf = g_realloc (buf, cap);
    }
    z.next_out = buf + z.total_out;
    z.avail_out = (uInt) MIN (cap - z.total_out, G_MAXUINT);
    rc = inflate (&z, Z_NO_FLUSH);
  }
  *out_len = z.total_out;
  inflateEnd (&z);
  if (rc != Z_STREAM_END) {
    g_free (buf);
    return FALSE;
  }
  *out = buf;
  return TRUE;
}

gboolean
dicom_guard (const gchar *path, gboolean *has_pixels, gchar **reason)
{
  GError *error = NULL;
  GMappedFile *map = g_mapped_file_new (path, FALSE, &error);
  if (map == NULL) {
    *reason = g_strdup (error->message);
    g_error_free (error);
    return FALSE;
  }
  Walk w = { (const guint8 *) g_mapped_file_get_contents (map), g_mapped_file_get_length (map),
             TRUE, FALSE, FALSE, FALSE, NULL };
  gsize pos = 0;
  gboolean ok = TRUE;
  gchar syntax[65] = "";
  if (w.len >= 132 && memcmp (w.p + 128, "DICM", 4) == 0) {
    /* The meta group: explicit VR little endian, defined lengths. */
    pos = 132;
    while (ok && w.len - pos >= 8 && u16 (&w, pos) == 0x0002) {
      gsize at = pos;
      guint32 len;
      if (long_vr (w.p + at + 4)) {
        ok = w.len - at >= 12;
        len = ok ? u32 (&w, at + 8) : 0;
        pos = at + 12;
      } else {
        len = u16 (&w, at + 6);
        pos = at + 8;
      }
      /* No sequences and no undefined lengths in the meta group. */
      ok = ok && known_vr (w.p + at + 4) && memcmp (w.p + at + 4, "SQ", 2) != 0
           && len <= w.len - pos;
      if (ok && u16 (&w, at + 2) == 0x0010) {
        gsize n = MIN (len, sizeof syntax - 1);
        memcpy (syntax, w.p + pos, n);
        syntax[n] = '\0';
        g_strchomp (syntax);
      }
      pos += len;
    }
    if (!ok)
      w.why = "its file meta information is cut short or malformed";
    else if (w.len - pos < 8 && w.len > pos)
      ok = FALSE, w.why = "it ends inside its file meta information";
  } else if (w.len == 0) {
    ok = FALSE;
    w.why = "an empty file";
  } else if (w.len >= 8) {
    w.explicit_vr = g_ascii_isupper (w.p[4]) && g_ascii_isupper (w.p[5]);
  }
  /* The meta group's transfer syntax governs the rest. */
  if (strcmp (syntax, "1.2.840.10008.1.2") == 0)
    w.explicit_vr = FALSE;
  else if (strcmp (syntax, "1.2.840.10008.1.2.2") == 0)
    w.big_endian = TRUE;
  w.rle = strcmp (syntax, "1.2.840.10008.1.2.5") == 0;
  guint8 *inflated = NULL;
  if (ok && strcmp (syntax, "1.2.840.10008.1.2.1.99") == 0) {
    gsize n = 0;
    ok = inflate_all (w.p + pos, w.len - pos, &inflated, &n);
    if (ok) {
      w.p = inflated;
      w.len = n;
      pos = 0;
    } else {
      w.why = "its deflated data set does not inflate";
    }
  }
  if (ok)
    ok = walk_set (&w, &pos, w.len, FALSE, 0);
  if (!ok)
    *reason = g_strdup_printf ("malformed DICOM: %s", w.why ? w.why : "bad structure");
  *has_pixels = w.has_pixels;
  g_free (inflated);
  g_mapped_file_unref (map);
  return ok;
}
