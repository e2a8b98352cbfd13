/* dicom-gdcm.cxx — the GDCM shim: DICOM headers and pixel data through
 * Debian's GDCM, behind the plain C of dicom-gdcm.h.
 *
 * GDCM decodes every transfer syntax archives hold (uncompressed in any VR
 * and byte order, deflated, JPEG 8/12-bit and lossless, JPEG-LS through
 * CharLS, JPEG 2000 through OpenJPEG, RLE).  The shim asks it for the
 * decompressed pixel buffer and the attributes a run needs, and does the
 * standard's pixel pipeline after it in one place: stored bits, sign,
 * planar configuration, YBR to RGB, palette through its LUT, the Modality
 * LUT.  No exception leaves this file.
 */
#include "dicom-gdcm.h"

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gdcmAttribute.h>
#include <gdcmDataSet.h>
#include <gdcmDict.h>
#include <gdcmDicts.h>
#include <gdcmGlobal.h>
#include <gdcmImage.h>
#include <gdcmImageApplyLookupTable.h>
#include <gdcmImageHelper.h>
#include <gdcmImageReader.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfItems.h>
#include <gdcmTrace.h>

namespace {

/* GDCM writes its warnings to stderr; the reader reports through GError. */
void
quiet_once ()
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    gdcm::Trace::SetDebug (false);
    gdcm::Trace::SetWarning (false);
    gdcm::Trace::SetError (false);
    gdcm::ImageHelper::SetForceRescaleInterceptSlope (true);
    g_once_init_leave (&done, 1);
  }
}

/* The value of @tag in @ds as text, trailing spaces and NULs trimmed. */
std::string
text_of (const gdcm::DataSet &ds, const gdcm::Tag &tag)
{
  if (!ds.FindDataElement (tag))
    return std::string ();
  const gdcm::DataElement &de = ds.GetDataElement (tag);
  const gdcm::ByteValue *bv = de.GetByteValue ();
  if (bv == NULL || bv->GetPointer () == NULL)
    return std::string ();
  std::string s (bv->GetPointer (), bv->GetLength ());
  while (!s.empty () && (s.back () == ' ' || s.back () == '\0'))
    s.pop_back ();
  size_t start = s.find_first_not_of (' ');
  return start == std::string::npos ? std::string () : s.substr (start);
}

void
copy_text (gchar *dest, gsize size, const std::string &s)
{
  g_strlcpy (dest, s.c_str (), size);
}

/* Up to @n backslash-separated decimal strings of @tag into @out; how many. */
guint
numbers_of (const gdcm::DataSet &ds, const gdcm::Tag &tag, gdouble *out, guint n)
{
  std::string s = text_of (ds, tag);
  if (s.empty ())
    return 0;
  gchar **parts = g_strsplit (s.c_str (), "\\", -1);
  guint got = 0;
  for (guint i = 0; parts[i] != NULL && got < n; i++) {
    gchar *end = NULL;
    gdouble v = g_ascii_strtod (g_strstrip (parts[i]), &end);
    if (end == parts[i] || *end != '\0' || !std::isfinite (v))
      break;
    out[got++] = v;
  }
  g_strfreev (parts);
  return got;
}

/* An unsigned short (US) attribute of @ds, or @fallback. */
guint
ushort_of (const gdcm::DataSet &ds, const gdcm::Tag &tag, guint fallback)
{
  if (!ds.FindDataElement (tag))
    return fallback;
  const gdcm::ByteValue *bv = ds.GetDataElement (tag).GetByteValue ();
  if (bv == NULL || bv->GetLength () < 2)
    return fallback;
  /* The reader has swapped big-endian data sets into host order already. */
  guint16 v;
  memcpy (&v, bv->GetPointer (), 2);
  return v;
}

/* The first item of sequence @tag in @ds, or NULL. */
const gdcm::DataSet *
first_item (const gdcm::DataSet &ds, const gdcm::Tag &tag)
{
  if (!ds.FindDataElement (tag))
    return NULL;
  gdcm::SmartPointer<gdcm::SequenceOfItems> sq = ds.GetDataElement (tag).GetValueAsSQ ();
  if (!sq || sq->GetNumberOfItems () < 1)
    return NULL;
  return &sq->GetItem (1).GetNestedDataSet ();
}

const gchar *
syntax_name (const gdcm::TransferSyntax &ts)
{
  switch ((gdcm::TransferSyntax::TSType) ts) {
  case gdcm::TransferSyntax::ImplicitVRLittleEndian: return "implicit VR little endian";
  case gdcm::TransferSyntax::ExplicitVRLittleEndian: return "explicit VR little endian";
  case gdcm::TransferSyntax::ExplicitVRBigEndian: return "explicit VR big endian";
  case gdcm::TransferSyntax::DeflatedExplicitVRLittleEndian: return "deflated explicit VR little endian";
  case gdcm::TransferSyntax::JPEGBaselineProcess1: return "JPEG baseline";
  case gdcm::TransferSyntax::JPEGExtendedProcess2_4: return "JPEG extended";
  case gdcm::TransferSyntax::JPEGLosslessProcess14: return "JPEG lossless";
  case gdcm::TransferSyntax::JPEGLosslessProcess14_1: return "JPEG lossless SV1";
  case gdcm::TransferSyntax::JPEGLSLossless: return "JPEG-LS lossless";
  case gdcm::TransferSyntax::JPEGLSNearLossless: return "JPEG-LS near-lossless";
  case gdcm::TransferSyntax::JPEG2000Lossless: return "JPEG 2000 lossless";
  case gdcm::TransferSyntax::JPEG2000: return "JPEG 2000";
  case gdcm::TransferSyntax::RLELossless: return "RLE lossless";
  default: return "other";
  }
}

void
read_geometry (const gdcm::DataSet &ds, ReadersDicomHeader *h)
{
  static const gdcm::Tag pixel_spacing (0x0028, 0x0030), imager_spacing (0x0018, 0x1164),
    position (0x0020, 0x0032), orientation (0x0020, 0x0037), shared (0x5200, 0x9229),
    per_frame (0x5200, 0x9230), pixel_measures (0x0028, 0x9110), plane_position (0x0020, 0x9113),
    plane_orientation (0x0020, 0x9116), frame_time (0x0018, 0x1063), cine_rate (0x0018, 0x0040);
  gdouble sp[2];
  /* Pixel Spacing is row spacing then column spacing. */
  const gdcm::DataSet *measures = first_item (ds, shared) != NULL
                                    ? first_item (*first_item (ds, shared), pixel_measures)
                                    : NULL;
  if (numbers_of (ds, pixel_spacing, sp, 2) == 2 && sp[0] > 0 && sp[1] > 0)
    h->spacing_from = "Pixel Spacing";
  else if (numbers_of (ds, imager_spacing, sp, 2) == 2 && sp[0] > 0 && sp[1] > 0)
    h->spacing_from = "Imager Pixel Spacing";
  else if (measures != NULL && numbers_of (*measures, pixel_spacing, sp, 2) == 2 && sp[0] > 0
           && sp[1] > 0)
    h->spacing_from = "Pixel Measures Sequence";
  else
    sp[0] = sp[1] = 1;
  h->spacing[0] = sp[1];
  h->spacing[1] = sp[0];

  h->has_position = numbers_of (ds, position, h->position, 3) == 3;
  h->has_orientation = numbers_of (ds, orientation, h->orientation, 6) == 6;
  if (!h->has_orientation && first_item (ds, shared) != NULL) {
    const gdcm::DataSet *po = first_item (*first_item (ds, shared), plane_orientation);
    h->has_orientation = po != NULL && numbers_of (*po, orientation, h->orientation, 6) == 6;
  }

  /* Enhanced CT/MR: one Plane Position item per frame. */
  if (h->frames > 1 && ds.FindDataElement (per_frame)) {
    gdcm::SmartPointer<gdcm::SequenceOfItems> sq = ds.GetDataElement (per_frame).GetValueAsSQ ();
    if (sq && sq->GetNumberOfItems () == h->frames) {
      gdouble *pos = g_new (gdouble, 3 * (gsize) h->frames);
      gboolean all = TRUE;
      for (guint f = 0; f < h->frames && all; f++) {
        const gdcm::DataSet &item = sq->GetItem (f + 1).GetNestedDataSet ();
        const gdcm::DataSet *pp = first_item (item, plane_position);
        all = pp != NULL && numbers_of (*pp, position, pos + 3 * f, 3) == 3;
        if (all && !h->has_orientation) {
          const gdcm::DataSet *po = first_item (item, plane_orientation);
          h->has_orientation = po != NULL && numbers_of (*po, orientation, h->orientation, 6) == 6;
        }
      }
      if (all) {
        h->frame_positions = pos;
        memcpy (h->position, pos, sizeof h->position);
        h->has_position = TRUE;
      } else {
        g_free (pos);
      }
    }
  }

  gdouble t;
  if (numbers_of (ds, frame_time, &t, 1) == 1 && t > 0)
    h->frame_time_ms = t;
  else if (numbers_of (ds, cine_rate, &t, 1) == 1 && t > 0)
    h->frame_time_ms = 1000.0 / t;
}

gboolean
fill_header (const gdcm::File &file, const gchar *label_keyword, ReadersDicomHeader *h,
             gchar **reason)
{
  const gdcm::DataSet &ds = file.GetDataSet ();
  const gdcm::TransferSyntax &ts = file.GetHeader ().GetDataSetTransferSyntax ();
  copy_text (h->modality, sizeof h->modality, text_of (ds, gdcm::Tag (0x0008, 0x0060)));
  copy_text (h->series_uid, sizeof h->series_uid, text_of (ds, gdcm::Tag (0x0020, 0x000e)));
  g_strlcpy (h->transfer_syntax, ts.GetString () != NULL ? ts.GetString () : "",
             sizeof h->transfer_syntax);
  h->syntax_name = syntax_name (ts);
  h->has_pixels = ds.FindDataElement (gdcm::Tag (0x7fe0, 0x0010));
  copy_text (h->photometric, sizeof h->photometric, text_of (ds, gdcm::Tag (0x0028, 0x0004)));
  h->rows = ushort_of (ds, gdcm::Tag (0x0028, 0x0010), 0);
  h->cols = ushort_of (ds, gdcm::Tag (0x0028, 0x0011), 0);
  h->samples = ushort_of (ds, gdcm::Tag (0x0028, 0x0002), 1);
  h->bits_allocated = ushort_of (ds, gdcm::Tag (0x0028, 0x0100), 0);
  h->bits_stored = ushort_of (ds, gdcm::Tag (0x0028, 0x0101), h->bits_allocated);
  h->high_bit = ushort_of (ds, gdcm::Tag (0x0028, 0x0102), h->bits_stored - 1);
  h->is_signed = ushort_of (ds, gdcm::Tag (0x0028, 0x0103), 0) == 1;
  h->planar = ushort_of (ds, gdcm::Tag (0x0028, 0x0006), 0);
  gdouble frames = 1;
  h->frames = numbers_of (ds, gdcm::Tag (0x0028, 0x0008), &frames, 1) == 1 && frames >= 1
                  && frames < G_MAXUINT32
                ? (guint) frames
                : 1;
  std::vector<double> is = gdcm::ImageHelper::GetRescaleInterceptSlopeValue (file);
  h->intercept = is.size () == 2 && std::isfinite (is[0]) ? is[0] : 0;
  h->slope = is.size () == 2 && std::isfinite (is[1]) && is[1] != 0 ? is[1] : 1;
  read_geometry (ds, h);
  if (label_keyword != NULL) {
    gdcm::Tag tag;
    gdcm::Global::GetInstance ().GetDicts ().GetPublicDict ().GetDictEntryByKeyword (label_keyword,
                                                                                     tag);
    std::string v = text_of (ds, tag);
    if (!v.empty ())
      h->label = g_strdup (v.c_str ());
  }
  (void) reason;
  return TRUE;
}

/* One stored sample at @p as the standard defines it: the Bits Stored bits
 * ending at High Bit, sign-extended when Pixel Representation is 1. */
inline gint64
stored_value (const guint8 *p, guint bytes, guint bits_stored, guint high_bit, gboolean is_signed)
{
  guint32 raw;
  if (bytes == 1)
    raw = p[0];
  else if (bytes == 2) {
    guint16 v;
    memcpy (&v, p, 2);
    raw = v;
  } else {
    memcpy (&raw, p, 4);
  }
  guint shift = high_bit + 1 >= bits_stored ? high_bit + 1 - bits_stored : 0;
  guint64 mask = bits_stored >= 32 ? 0xffffffffu : ((1u << bits_stored) - 1);
  guint64 v = (raw >> shift) & mask;
  if (is_signed && bits_stored < 64 && (v >> (bits_stored - 1)) & 1)
    return (gint64) v - ((gint64) 1 << bits_stored);
  return (gint64) v;
}

/* The three tables of a palette colour image (PS3.3 C.7.6.3.1.5). */
struct Palette {
  std::vector<guint16> table[3];
  gint64 first[3];
  guint bits;
};

/* Reads the red, green and blue descriptors (0028,1101-1103) and data
 * (0028,1201-1203); FALSE when they are absent (segmented tables) or
 * disagree with each other. */
gboolean
read_palette (const gdcm::DataSet &ds, Palette *p)
{
  p->bits = 0;
  for (guint c = 0; c < 3; c++) {
    const gdcm::Tag desc_tag (0x0028, 0x1101 + c), data_tag (0x0028, 0x1201 + c);
    if (!ds.FindDataElement (desc_tag) || !ds.FindDataElement (data_tag))
      return FALSE;
    const gdcm::ByteValue *desc = ds.GetDataElement (desc_tag).GetByteValue ();
    const gdcm::ByteValue *data = ds.GetDataElement (data_tag).GetByteValue ();
    if (desc == NULL || desc->GetLength () < 6 || data == NULL)
      return FALSE;
    guint16 d[3];
    memcpy (d, desc->GetPointer (), 6);
    gsize entries = d[0] == 0 ? 65536 : d[0];
    guint bits = d[2];
    if ((bits != 8 && bits != 16) || (p->bits != 0 && bits != p->bits))
      return FALSE;
    p->bits = bits;
    p->first[c] = d[1];
    const guint8 *raw = (const guint8 *) data->GetPointer ();
    std::vector<guint16> &t = p->table[c];
    /* 16-bit entries one per word; 8-bit ones packed two per word or one. */
    if (bits == 16 && data->GetLength () >= entries * 2) {
      t.resize (entries);
      memcpy (t.data (), raw, entries * 2);
    } else if (bits == 8 && data->GetLength () >= entries * 2) {
      t.resize (entries);
      for (gsize k = 0; k < entries; k++)
        t[k] = (guint16) (raw[2 * k] | raw[2 * k + 1] << 8) & 0xff;
    } else if (bits == 8 && data->GetLength () >= entries) {
      t.assign (raw, raw + entries);
    } else {
      return FALSE;
    }
  }
  return TRUE;
}

/* YBR_FULL to RGB (PS3.3 C.7.6.3.1.2), for 8-bit or wider samples. */
inline void
ybr_to_rgb (gdouble y, gdouble cb, gdouble cr, gdouble half, gdouble top, gfloat *r, gfloat *g,
            gfloat *b)
{
  gdouble rr = y + 1.402 * (cr - half);
  gdouble gg = y - 0.344136 * (cb - half) - 0.714136 * (cr - half);
  gdouble bb = y + 1.772 * (cb - half);
  *r = (gfloat) CLAMP (rr, 0, top);
  *g = (gfloat) CLAMP (gg, 0, top);
  *b = (gfloat) CLAMP (bb, 0, top);
}

gboolean
decode (const gchar *path, const ReadersDicomHeader *h, gfloat *out, guint *channels,
        gdouble *range_min, gdouble *range_max, gchar **reason)
{
  gdcm::ImageReader reader;
  reader.SetFileName (path);
  if (!reader.Read ()) {
    *reason = g_strdup ("not a DICOM image GDCM can parse (truncated or malformed)");
    return FALSE;
  }
  /* Each filter's output is referenced while the filter lives: copying an
   * output back over its input frees shared pixel data twice. */
  const gdcm::Image *current = &reader.GetImage ();
  /* Native pixel data shorter than its header claims would be read past
   * (GDCM copies what the header's size says). */
  if (!current->GetTransferSyntax ().IsEncapsulated ()) {
    const gdcm::ByteValue *bv = current->GetDataElement ().GetByteValue ();
    guint64 need = (guint64) h->rows * h->cols * h->frames * MAX (h->samples, 1u)
                   * (h->bits_allocated / 8);
    if (strcmp (h->photometric, "YBR_FULL_422") == 0)
      need = need * 2 / 3;
    if (bv == NULL || bv->GetLength () < need) {
      *reason = g_strdup_printf ("its pixel data holds %" G_GUINT64_FORMAT " bytes where the "
                                 "header's size needs %" G_GUINT64_FORMAT,
                                 bv != NULL ? (guint64) bv->GetLength () : (guint64) 0, need);
      return FALSE;
    }
  }
  /* The pixel data is decoded first (GetBuffer runs the codec), so that
   * what follows sees the photometric interpretation and pixel format of
   * the decoded samples, which GDCM sets on the image as its codec reports
   * them (a JPEG's YBR comes out as RGB, JPEG 2000's YBR_ICT/RCT too).
   * ImageChangeTransferSyntax does the same but leaks its codec's buffers
   * when the data does not decode (LeakSanitizer, fuzz-dicom). */
  std::vector<char> buffer (current->GetBufferLength ());
  if (!current->GetBuffer (buffer.data ())) {
    *reason = g_strdup_printf ("cannot decode its %s pixel data", h->syntax_name);
    return FALSE;
  }
  /* Palette colour: through its own tables at their full depth (GDCM's
   * filter gives 8-bit RGB from 16-bit tables); segmented tables, which
   * only GDCM expands, through its filter. */
  Palette palette;
  const gboolean is_palette =
    current->GetPhotometricInterpretation () == gdcm::PhotometricInterpretation::PALETTE_COLOR;
  const gboolean own_palette =
    is_palette && read_palette (reader.GetFile ().GetDataSet (), &palette);
  gdcm::ImageApplyLookupTable lut;
  if (is_palette && !own_palette) {
    lut.SetInput (*current);
    if (!lut.Apply ()) {
      *reason = g_strdup ("its palette colour lookup table cannot be applied");
      return FALSE;
    }
    current = &lut.GetOutput ();
    buffer.resize (current->GetBufferLength ());
    if (!current->GetBuffer (buffer.data ())) {
      *reason = g_strdup ("its palette colour lookup table cannot be applied");
      return FALSE;
    }
  }
  const gdcm::Image &image = *current;
  gdcm::PhotometricInterpretation pi = image.GetPhotometricInterpretation ();
  const gdcm::PixelFormat &pf = image.GetPixelFormat ();
  const guint bytes = pf.GetBitsAllocated () / 8;
  const guint samples = pf.GetSamplesPerPixel ();
  if ((bytes != 1 && bytes != 2 && bytes != 4) || pf.GetBitsAllocated () % 8 != 0) {
    *reason = g_strdup_printf ("Bits Allocated %u is not supported (8, 16 or 32)",
                               (guint) pf.GetBitsAllocated ());
    return FALSE;
  }
  const guint bits_stored = pf.GetBitsStored () > 0 && pf.GetBitsStored () <= pf.GetBitsAllocated ()
                              ? pf.GetBitsStored ()
                              : pf.GetBitsAllocated ();
  const guint high_bit = pf.GetHighBit () >= bits_stored - 1 && pf.GetHighBit () < pf.GetBitsAllocated ()
                           ? pf.GetHighBit ()
                           : bits_stored - 1;
  const gboolean is_signed = pf.GetPixelRepresentation () == 1;
  const gboolean grey = pi == gdcm::PhotometricInterpretation::MONOCHROME1
                        || pi == gdcm::PhotometricInterpretation::MONOCHROME2 || own_palette;
  const gboolean ybr422 = pi == gdcm::PhotometricInterpretation::YBR_FULL_422;
  const gboolean ybr = pi == gdcm::PhotometricInterpretation::YBR_FULL || ybr422;
  const gboolean rgb = pi == gdcm::PhotometricInterpretation::RGB
                       || pi == gdcm::PhotometricInterpretation::YBR_ICT
                       || pi == gdcm::PhotometricInterpretation::YBR_RCT;
  if (!(grey && samples == 1) && !((ybr || rgb) && samples == 3)) {
    *reason = g_strdup_printf ("photometric interpretation %s with %u samples per pixel is not "
                               "supported (MONOCHROME1/2, RGB, YBR_FULL, YBR_FULL_422, "
                               "PALETTE COLOR)",
                               h->photometric[0] ? h->photometric : "(none)", samples);
    return FALSE;
  }
  const gsize plane = (gsize) h->rows * h->cols;
  const gsize n_pixels = plane * h->frames;
  const guint8 *data = (const guint8 *) buffer.data ();
  const gsize full = n_pixels * samples * bytes;
  /* Uncompressed YBR_FULL_422: two Y, one Cb, one Cr per pair of pixels. */
  const gboolean subsampled = ybr422 && bytes == 1 && buffer.size () < full
                              && buffer.size () >= n_pixels * 2 && h->cols % 2 == 0;
  if (!subsampled && buffer.size () < full) {
    *reason = g_strdup_printf ("its pixel data holds %zu bytes where %zu are needed",
                               buffer.size (), full);
    return FALSE;
  }
  const gdouble top = (gdouble) ((1u << MIN (bits_stored, 31u)) - 1);
  if (own_palette) {
    *channels = 3;
    for (gsize i = 0; i < n_pixels; i++) {
      gint64 index = stored_value (data + i * bytes, bytes, bits_stored, high_bit, FALSE);
      for (guint c = 0; c < 3; c++) {
        const std::vector<guint16> &t = palette.table[c];
        gint64 k = CLAMP (index - palette.first[c], (gint64) 0, (gint64) t.size () - 1);
        out[c * n_pixels + i] = t[k];
      }
    }
    *range_min = 0;
    *range_max = (gdouble) ((1u << palette.bits) - 1);
    return TRUE;
  }
  if (grey) {
    *channels = 1;
    for (gsize i = 0; i < n_pixels; i++)
      out[i] = (gfloat) (stored_value (data + i * bytes, bytes, bits_stored, high_bit, is_signed)
                           * h->slope
                         + h->intercept);
    gdouble lo = is_signed ? -(gdouble) (1u << (bits_stored - 1)) : 0;
    gdouble hi = is_signed ? (gdouble) ((1u << (bits_stored - 1)) - 1) : top;
    gdouble a = lo * h->slope + h->intercept, b = hi * h->slope + h->intercept;
    *range_min = MIN (a, b);
    *range_max = MAX (a, b);
    return TRUE;
  }
  *channels = 3;
  *range_min = 0;
  *range_max = top;
  const gboolean planar = image.GetPlanarConfiguration () == 1 && !subsampled;
  const gdouble half = (gdouble) (1u << (bits_stored - 1));
  for (gsize i = 0; i < n_pixels; i++) {
    gdouble c[3];
    if (subsampled) {
      const guint8 *pair = data + (i / 2) * 4;
      c[0] = pair[i % 2];
      c[1] = pair[2];
      c[2] = pair[3];
    } else {
      for (guint s = 0; s < 3; s++) {
        /* Planar 1 is per frame: all R of a frame, then its G, then its B. */
        gsize at = planar ? (i / plane) * plane * 3 + s * plane + i % plane : i * 3 + s;
        c[s] = (gdouble) stored_value (data + at * bytes, bytes, bits_stored, high_bit, FALSE);
      }
    }
    gfloat *r = out + i, *g = out + n_pixels + i, *b = out + 2 * n_pixels + i;
    if (ybr) {
      ybr_to_rgb (c[0], c[1], c[2], half, top, r, g, b);
    } else {
      *r = (gfloat) c[0];
      *g = (gfloat) c[1];
      *b = (gfloat) c[2];
    }
  }
  return TRUE;
}

} /* namespace */

extern "C" {

gboolean
readers_dicom_gdcm_header (const gchar *path, const gchar *label_keyword, ReadersDicomHeader *h,
                           gchar **reason)
{
  quiet_once ();
  memset (h, 0, sizeof *h);
  try {
    gdcm::Reader reader;
    reader.SetFileName (path);
    std::set<gdcm::Tag> skip;
    skip.insert (gdcm::Tag (0x7fe0, 0x0010));
    if (!reader.ReadUpToTag (gdcm::Tag (0x7fe0, 0x0010), skip)) {
      *reason = g_strdup ("not a DICOM object GDCM can parse (truncated or malformed header)");
      return FALSE;
    }
    /* ReadUpToTag stops before the pixel data: whether there is any is
     * the caller's to know (dicom-guard.c walks the whole file). */
    return fill_header (reader.GetFile (), label_keyword, h, reason);
  } catch (const std::exception &e) {
    readers_dicom_header_clear (h);
    *reason = g_strdup_printf ("malformed DICOM (%s)", e.what ());
    return FALSE;
  } catch (...) {
    readers_dicom_header_clear (h);
    *reason = g_strdup ("malformed DICOM");
    return FALSE;
  }
}

gboolean
readers_dicom_gdcm_keyword_known (const gchar *keyword)
{
  quiet_once ();
  gdcm::Tag tag (0xffff, 0xffff);
  try {
    const gdcm::DictEntry &e =
      gdcm::Global::GetInstance ().GetDicts ().GetPublicDict ().GetDictEntryByKeyword (keyword, tag);
    return tag != gdcm::Tag (0xffff, 0xffff) && e.GetKeyword () != NULL
           && strcmp (e.GetKeyword (), keyword) == 0;
  } catch (...) {
    return FALSE;
  }
}

gboolean
readers_dicom_gdcm_decode (const gchar *path, const ReadersDicomHeader *h, gfloat *out,
                           guint *channels, gdouble *range_min, gdouble *range_max,
                           gchar **reason)
{
  quiet_once ();
  try {
    return decode (path, h, out, channels, range_min, range_max, reason);
  } catch (const std::bad_alloc &) {
    *reason = g_strdup ("out of memory decoding its pixel data");
    return FALSE;
  } catch (const std::exception &e) {
    *reason = g_strdup_printf ("undecodable pixel data (%s)", e.what ());
    return FALSE;
  } catch (...) {
    *reason = g_strdup ("undecodable pixel data");
    return FALSE;
  }
}

} /* extern "C" */
