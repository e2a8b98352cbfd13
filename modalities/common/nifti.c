/* nifti.c — NIfTI-1 and NIfTI-2 volumes, checked before they are read.
 *
 * nifticlib trusts its header: it allocates dims × datatype and prints its
 * complaints on stderr.  So the header is read alone, checked here (dims,
 * datatype, our voxel limit, the file long enough for an uncompressed
 * image), and only then one volume is read, with nifticlib's messages off.
 * NIfTI-1 headers go through nifticlib's nifti1_io; NIfTI-2 headers (540
 * bytes, 64-bit dims, double fields) are decoded here from nifti2.h's
 * struct with the same rules, since nifticlib's nifti2_io library exports
 * the very symbol names of nifti1_io with other structs.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <nifti1_io.h>
#include <nifti2.h>
#include <stdio.h>
#include <stdlib.h>

#include "readers-private.h"

G_LOCK_DEFINE_STATIC (nifti_debug);

static gboolean
datatype_supported (gint datatype)
{
  switch (datatype) {
  case NIFTI_TYPE_UINT8: case NIFTI_TYPE_INT8: case NIFTI_TYPE_INT16: case NIFTI_TYPE_UINT16:
  case NIFTI_TYPE_INT32: case NIFTI_TYPE_UINT32: case NIFTI_TYPE_INT64: case NIFTI_TYPE_UINT64:
  case NIFTI_TYPE_FLOAT32: case NIFTI_TYPE_FLOAT64:
    return TRUE;
  default:
    return FALSE;
  }
}

static void
convert (const void *raw, gint datatype, gsize n, gfloat *out)
{
#define CONVERT(type)                         \
  for (gsize i = 0; i < n; i++)               \
    out[i] = (gfloat) ((const type *) raw)[i]; \
  break
  switch (datatype) {
  case NIFTI_TYPE_UINT8: CONVERT (guint8);
  case NIFTI_TYPE_INT8: CONVERT (gint8);
  case NIFTI_TYPE_INT16: CONVERT (gint16);
  case NIFTI_TYPE_UINT16: CONVERT (guint16);
  case NIFTI_TYPE_INT32: CONVERT (gint32);
  case NIFTI_TYPE_UINT32: CONVERT (guint32);
  case NIFTI_TYPE_INT64: CONVERT (gint64);
  case NIFTI_TYPE_UINT64: CONVERT (guint64);
  case NIFTI_TYPE_FLOAT32: CONVERT (gfloat);
  case NIFTI_TYPE_FLOAT64: CONVERT (gdouble);
  default: g_assert_not_reached ();
  }
#undef CONVERT
}

/* Letter of the direction an axis grows toward, for an orientation code. */
static gchar
orientation_letter (gint code)
{
  switch (code) {
  case NIFTI_L2R: return 'R';
  case NIFTI_R2L: return 'L';
  case NIFTI_P2A: return 'A';
  case NIFTI_A2P: return 'P';
  case NIFTI_I2S: return 'S';
  case NIFTI_S2I: return 'I';
  default: return '?';
  }
}

/* The header fields the reader uses, whichever NIfTI version gave them. */
typedef struct {
  gint version;          /* 1 or 2 */
  gint64 dim[8];
  gint datatype, nbyper;
  gdouble pixdim[8];     /* as nifticlib leaves them: |pixdim| */
  gdouble scl_slope, scl_inter;
  gint qform_code, sform_code;
  mat44 qto_xyz, sto_xyz;
  gchar *iname;          /* the file holding the voxels */
  gint64 iname_offset;
  gboolean swapped;      /* voxels stored in the other byte order */
} Header;

static void
header_clear (Header *h)
{
  g_clear_pointer (&h->iname, g_free);
}

/* A NIfTI-2 header of the other byte order put in ours (the fields read). */
static void
swap_nifti2 (nifti_2_header *h)
{
  nifti_swap_2bytes (1, &h->datatype);
  nifti_swap_2bytes (1, &h->bitpix);
  nifti_swap_8bytes (8, h->dim);
  nifti_swap_8bytes (8, h->pixdim);
  nifti_swap_8bytes (1, &h->vox_offset);
  nifti_swap_8bytes (1, &h->scl_slope);
  nifti_swap_8bytes (1, &h->scl_inter);
  nifti_swap_4bytes (1, &h->qform_code);
  nifti_swap_4bytes (1, &h->sform_code);
  nifti_swap_8bytes (1, &h->quatern_b);
  nifti_swap_8bytes (1, &h->quatern_c);
  nifti_swap_8bytes (1, &h->quatern_d);
  nifti_swap_8bytes (1, &h->qoffset_x);
  nifti_swap_8bytes (1, &h->qoffset_y);
  nifti_swap_8bytes (1, &h->qoffset_z);
  nifti_swap_8bytes (4, h->srow_x);
  nifti_swap_8bytes (4, h->srow_y);
  nifti_swap_8bytes (4, h->srow_z);
}

/* Which header @raw (@len bytes, at most sizeof (nifti_2_header)) starts
 * with: 1 or 2, 0 for neither; *swapped when its byte order is not ours. */
static gint
header_version (const guint8 *raw, gsize len, gboolean *swapped)
{
  if (len < 348)
    return 0;
  guint32 size_le = GUINT32_FROM_LE (*(const guint32 *) raw);
  guint32 size_be = GUINT32_FROM_BE (*(const guint32 *) raw);
  guint32 native = *(const guint32 *) raw;
  if ((size_le == 348 || size_be == 348)
      && (memcmp (raw + 344, "n+1", 4) == 0 || memcmp (raw + 344, "ni1", 4) == 0)) {
    *swapped = native != 348;
    return 1;
  }
  /* NIfTI-2: sizeof_hdr 540, then the 8-byte magic "n+2\0\r\n\032\n" ("ni2" for a pair). */
  if (len >= 540 && (size_le == 540 || size_be == 540)
      && (memcmp (raw + 4, "n+2", 4) == 0 || memcmp (raw + 4, "ni2", 4) == 0)) {
    *swapped = native != 540;
    return 2;
  }
  return 0;
}

gboolean
m3ret_readers_nifti_sniff (const gchar *path, const guint8 *head, gsize head_len)
{
  static const gchar *const gz[] = { ".nii.gz", ".hdr.gz", NULL };
  if (head_len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
    return m3ret_readers_has_suffix (path, gz);
  /* A NIfTI-2 magic sits at offset 4, so a short head can still show it. */
  if (head_len >= 8 && head_len < 540) {
    guint32 size_le = GUINT32_FROM_LE (*(const guint32 *) head);
    guint32 size_be = GUINT32_FROM_BE (*(const guint32 *) head);
    if ((size_le == 540 || size_be == 540)
        && (memcmp (head + 4, "n+2", 4) == 0 || memcmp (head + 4, "ni2", 4) == 0))
      return TRUE;
  }
  gboolean swapped;
  return header_version (head, head_len, &swapped) != 0;
}

/* What nifticlib would get wrong, checked on the raw header first: it turns
 * a dimension below 1 into 1, reads a header without the NIfTI magic as
 * Analyze 7.5, and prints its own complaint about a bad dim[0].  Fills
 * @pixdim with pixdim[1..3] as stored and *@version. */
static gboolean
check_raw_header (const gchar *path, gdouble pixdim[3], gint *version, gboolean *swapped_out,
                  nifti_2_header *h2, GError **error)
{
  union {
    nifti_1_header h1;
    nifti_2_header h2;
    guint8 bytes[sizeof (nifti_2_header)];
  } raw;
  znzFile zf = znzopen (path, "rb", nifti_is_gzfile (path));
  gsize got = znz_isnull (zf) ? 0 : znzread (&raw, 1, sizeof raw, zf);
  if (!znz_isnull (zf))
    znzclose (zf);
  if (got < sizeof (nifti_1_header)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: not a readable NIfTI header (shorter than %u bytes, or a damaged "
                 "compressed stream)", path, (guint) sizeof (nifti_1_header));
    return FALSE;
  }
  gboolean swapped = FALSE;
  *version = header_version (raw.bytes, got, &swapped);
  *swapped_out = swapped;
  if (*version == 0 && got < sizeof raw && m3ret_readers_nifti_sniff (path, raw.bytes, got)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: NIfTI-2 header cut short (%" G_GSIZE_FORMAT " of %u bytes)", path, got,
                 (guint) sizeof raw);
    return FALSE;
  }
  if (*version == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: not a NIfTI header (neither NIfTI-1: sizeof_hdr 348 and magic n+1 or ni1, "
                 "nor NIfTI-2: sizeof_hdr 540 and magic n+2 or ni2)", path);
    return FALSE;
  }
  gint64 dim[8];
  if (*version == 1) {
    nifti_1_header *h = &raw.h1;
    if (swapped) {
      nifti_swap_2bytes (8, h->dim);
      nifti_swap_4bytes (8, h->pixdim);
    }
    for (gint d = 0; d < 8; d++)
      dim[d] = h->dim[d];
    /* nifticlib mends these (|x|, 0 → 1) without a word; inspect says so. */
    for (gint a = 0; a < 3; a++)
      pixdim[a] = h->pixdim[a + 1];
  } else {
    *h2 = raw.h2;
    if (swapped)
      swap_nifti2 (h2);
    for (gint d = 0; d < 8; d++)
      dim[d] = h2->dim[d];
    for (gint a = 0; a < 3; a++)
      pixdim[a] = h2->pixdim[a + 1];
  }
  if (dim[0] < 2 || dim[0] > 7) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: NIfTI header gives %" G_GINT64_FORMAT " dimensions (2 to 7 expected)", path,
                 dim[0]);
    return FALSE;
  }
  for (gint d = 1; d <= dim[0]; d++)
    if (dim[d] < 1) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                   "%s: NIfTI dimension %d has size %" G_GINT64_FORMAT, path, d, dim[d]);
      return FALSE;
    }
  return TRUE;
}

/* NIfTI-1 through nifticlib, as it always was read. */
static gboolean
header_from_nifticlib (const gchar *path, Header *h, GError **error)
{
  G_LOCK (nifti_debug);
  nifti_set_debug_level (0);
  G_UNLOCK (nifti_debug);
  nifti_image *nim = nifti_image_read (path, 0);
  if (nim == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: not a readable NIfTI-1 header (truncated, corrupt or another format)",
                 path);
    return FALSE;
  }
  h->version = 1;
  for (gint d = 0; d < 8; d++) {
    h->dim[d] = nim->dim[d];
    h->pixdim[d] = nim->pixdim[d];
  }
  h->datatype = nim->datatype;
  h->nbyper = nim->nbyper;
  h->scl_slope = nim->scl_slope;
  h->scl_inter = nim->scl_inter;
  h->qform_code = nim->qform_code;
  h->sform_code = nim->sform_code;
  h->qto_xyz = nim->qto_xyz;
  h->sto_xyz = nim->sto_xyz;
  h->iname = g_strdup (nim->iname);
  h->iname_offset = nim->iname_offset;
  h->swapped = nim->byteorder != nifti_short_order ();
  nifti_image_free (nim);
  return TRUE;
}

/* NIfTI-2 from its raw header @n2 (already in our byte order), with
 * nifticlib's NIfTI-1 rules: |pixdim|, qfac from pixdim[0], the qform
 * from the quaternion, the sform from its rows, non-finite scaling dropped.
 * (nifticlib's own NIfTI-2 library exports the same symbol names as its
 * NIfTI-1 one, so both cannot live in one process.) */
static gboolean
header_from_nifti2 (const gchar *path, const nifti_2_header *n2, gboolean swapped, Header *h,
                    GError **error)
{
  h->version = 2;
  for (gint d = 0; d < 8; d++) {
    h->dim[d] = n2->dim[d];
    h->pixdim[d] = d > 0 ? fabs (n2->pixdim[d]) : n2->pixdim[d];
  }
  h->datatype = n2->datatype;
  gint swapsize = 0;
  nifti_datatype_sizes (n2->datatype, &h->nbyper, &swapsize);
  h->scl_slope = isfinite (n2->scl_slope) ? n2->scl_slope : 0.0;
  h->scl_inter = isfinite (n2->scl_inter) ? n2->scl_inter : 0.0;
  h->qform_code = n2->qform_code;
  h->sform_code = n2->sform_code;
  gfloat qfac = n2->pixdim[0] < 0.0 ? -1.0f : 1.0f;
  h->qto_xyz = nifti_quatern_to_mat44 ((gfloat) n2->quatern_b, (gfloat) n2->quatern_c,
                                       (gfloat) n2->quatern_d, (gfloat) n2->qoffset_x,
                                       (gfloat) n2->qoffset_y, (gfloat) n2->qoffset_z,
                                       (gfloat) h->pixdim[1], (gfloat) h->pixdim[2],
                                       (gfloat) h->pixdim[3], qfac);
  memset (&h->sto_xyz, 0, sizeof h->sto_xyz);
  for (gint c = 0; c < 4; c++) {
    h->sto_xyz.m[0][c] = (gfloat) n2->srow_x[c];
    h->sto_xyz.m[1][c] = (gfloat) n2->srow_y[c];
    h->sto_xyz.m[2][c] = (gfloat) n2->srow_z[c];
  }
  h->sto_xyz.m[3][3] = 1.0f;
  h->swapped = swapped;
  h->iname_offset = n2->vox_offset;
  if (memcmp (n2->magic, "n+2", 4) == 0) {
    if (n2->vox_offset < (gint64) sizeof *n2) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                   "%s: NIfTI-2 vox_offset %" G_GINT64_FORMAT " lies inside the %u-byte header",
                   path, (gint64) n2->vox_offset, (guint) sizeof *n2);
      return FALSE;
    }
    h->iname = g_strdup (path);
    return TRUE;
  }
  /* "ni2": a .hdr/.img pair; nifticlib finds the image file beside the header. */
  char *img = nifti_findimgname (path, NIFTI_FTYPE_NIFTI1_2);
  h->iname = g_strdup (img);
  free (img);
  if (h->iname == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO,
                 "%s: a NIfTI-2 header without its image file (.img) beside it", path);
    return FALSE;
  }
  return TRUE;
}

static gboolean
read_header (const gchar *path, gdouble pixdim[3], Header *h, GError **error)
{
  memset (h, 0, sizeof *h);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s: no such file", path);
    return FALSE;
  }
  gint version = 0;
  gboolean swapped = FALSE;
  nifti_2_header n2;
  if (!check_raw_header (path, pixdim, &version, &swapped, &n2, error))
    return FALSE;
  if (version == 1)
    return header_from_nifticlib (path, h, error);
  if (!header_from_nifti2 (path, &n2, swapped, h, error)) {
    header_clear (h);
    return FALSE;
  }
  return TRUE;
}

/* Checks what nifticlib would otherwise trust; fills the sizes. */
static gboolean
check_header (const Header *h, const gchar *path, const M3retLimits *limits, guint64 dims[7],
              guint64 *n_volumes, GError **error)
{
  gint64 ndim = h->dim[0];
  if (ndim < 2 || ndim > 7) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: header gives %" G_GINT64_FORMAT " dimensions (2 to 7 expected)", path,
                 ndim);
    return FALSE;
  }
  *n_volumes = 1;
  for (gint d = 1; d <= 7; d++) {
    gint64 n = d <= ndim ? h->dim[d] : 1;
    if (n < 1) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                   "%s: dimension %d has size %" G_GINT64_FORMAT, path, d, n);
      return FALSE;
    }
    dims[d - 1] = (guint64) n;
    /* Counted in doubles-free steps: a lying 4th to 7th dim must not wrap. */
    if (d >= 4)
      *n_volumes = *n_volumes > G_MAXUINT64 / (guint64) n ? G_MAXUINT64 : *n_volumes * (guint64) n;
  }
  if (!datatype_supported (h->datatype)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: unsupported NIfTI datatype %s (%d); integer and real scalar types are read",
                 path, nifti_datatype_string (h->datatype), h->datatype);
    return FALSE;
  }
  if (!m3ret_limits_check_volume (limits, path, dims[0], dims[1], dims[2], error))
    return FALSE;
  guint64 voxels = dims[0] * dims[1] * dims[2]; /* ≤ max_voxels: no overflow */
  if (h->iname != NULL && !nifti_is_gzfile (h->iname)) {
    /* Uncompressed: the whole image must be in the file, or the header lies. */
    gdouble need = (gdouble) h->iname_offset + (gdouble) voxels * (gdouble) (*n_volumes) * h->nbyper;
    GStatBuf st;
    if (g_stat (h->iname, &st) != 0 || (gdouble) st.st_size < need) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                   "%s: header promises %.0f bytes of image data but the file is shorter "
                   "(truncated, or dims × datatype are wrong)", path, need);
      return FALSE;
    }
  }
  return TRUE;
}

/* m3ret_readers_nifti_read(), telling the header's *@version too. */
static M3retVolume *
read_volume (const gchar *path, guint64 volume_index, const M3retLimits *limits,
             M3retReadersNiftiInfo *info, gint *version, GError **error)
{
  M3retReadersNiftiInfo local;
  if (info == NULL)
    info = &local;
  memset (info, 0, sizeof *info);
  Header hd, *nim = &hd;
  if (!read_header (path, info->pixdim_stored, &hd, error))
    return NULL;
  *version = hd.version;
  guint64 dims[7], n_volumes;
  if (!check_header (nim, path, limits, dims, &n_volumes, error)) {
    header_clear (nim);
    return NULL;
  }
  if (volume_index >= n_volumes) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: volume %" G_GUINT64_FORMAT " asked for, the file has %" G_GUINT64_FORMAT,
                 path, volume_index, n_volumes);
    header_clear (nim);
    return NULL;
  }
  /* The data are read here, not by nifticlib: it silently turns NaN and Inf
   * into 0, and prints its own complaints. */
  gsize voxels = (gsize) (dims[0] * dims[1] * dims[2]);
  gsize bytes = voxels * (gsize) nim->nbyper;
  void *raw = g_try_malloc (bytes);
  gboolean compressed = nifti_is_gzfile (nim->iname);
  znzFile zf = raw ? znzopen (nim->iname, "rb", compressed) : NULL;
  gboolean ok = FALSE;
  if (!znz_isnull (zf)) {
    znz_off_t offset = (znz_off_t) nim->iname_offset + (znz_off_t) (volume_index * bytes);
    ok = znzseek (zf, offset, SEEK_SET) >= 0 && znzread (raw, 1, bytes, zf) == bytes;
    znzclose (zf);
  }
  if (!ok) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: image data truncated or unreadable (%s)", path,
                 compressed ? "compressed stream ends early or is damaged" : "short read");
    g_free (raw);
    header_clear (nim);
    return NULL;
  }
  if (nim->swapped && nim->nbyper > 1)
    nifti_swap_Nbytes (voxels, nim->nbyper, raw);
  g_autofree gfloat *values = g_try_new (gfloat, voxels);
  if (values == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE, "%s: cannot allocate %"
                 G_GSIZE_FORMAT " voxels", path, voxels);
    g_free (raw);
    header_clear (nim);
    return NULL;
  }
  convert (raw, nim->datatype, voxels, values);
  g_free (raw);

  gdouble slope = nim->scl_slope, inter = nim->scl_inter;
  if (slope == 0.0 || !isfinite (slope) || !isfinite (inter)) {
    slope = 1.0;
    inter = 0.0;
  }
  gsize bad = 0;
  for (gsize i = 0; i < voxels; i++) {
    gdouble v = values[i] * slope + inter;
    values[i] = (gfloat) v;
    bad += !isfinite (values[i]);
  }
  if (bad > 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_BAD_VALUES,
                 "%s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " voxels are NaN or infinite",
                 path, bad, voxels);
    header_clear (nim);
    return NULL;
  }

  /* Orientation: which RAS axis each stored axis runs along, and whether backwards. */
  gint codes[3] = { NIFTI_L2R, NIFTI_P2A, NIFTI_I2S };
  info->orientation_from = NULL;
  if (nim->qform_code > 0) {
    nifti_mat44_to_orientation (nim->qto_xyz, &codes[0], &codes[1], &codes[2]);
    info->orientation_from = "qform";
  } else if (nim->sform_code > 0) {
    nifti_mat44_to_orientation (nim->sto_xyz, &codes[0], &codes[1], &codes[2]);
    info->orientation_from = "sform";
  }
  info->orientation_degenerate = FALSE;
  guint axis_of[3];
  gboolean flip[3], taken[3] = { FALSE, FALSE, FALSE };
  for (gint a = 0; a < 3; a++) {
    if (codes[a] < NIFTI_L2R || codes[a] > NIFTI_S2I) { /* degenerate matrix: keep as stored */
      codes[0] = NIFTI_L2R, codes[1] = NIFTI_P2A, codes[2] = NIFTI_I2S;
      info->orientation_degenerate = TRUE;
      a = -1;
      taken[0] = taken[1] = taken[2] = FALSE;
      continue;
    }
    axis_of[a] = (guint) (codes[a] - 1) / 2;
    flip[a] = (codes[a] % 2) == 0;
    if (taken[axis_of[a]]) { /* two axes on one direction: keep as stored */
      codes[0] = NIFTI_L2R, codes[1] = NIFTI_P2A, codes[2] = NIFTI_I2S;
      info->orientation_degenerate = TRUE;
      a = -1;
      taken[0] = taken[1] = taken[2] = FALSE;
      continue;
    }
    taken[axis_of[a]] = TRUE;
  }
  for (gint a = 0; a < 3; a++)
    info->orientation[a] = orientation_letter (codes[a]);
  guint in_n[3] = { (guint) dims[0], (guint) dims[1], (guint) dims[2] };
  guint out_n[3];
  gdouble out_s[3];
  for (gint a = 0; a < 3; a++) {
    out_n[axis_of[a]] = in_n[a];
    gdouble s = fabs (nim->pixdim[a + 1]);
    out_s[axis_of[a]] = (s > 0.0 && isfinite (s)) ? s : 1.0;
    info->dims_stored[a] = in_n[a];
    info->pixdim_used[a] = out_s[axis_of[a]];
  }
  M3retVolume *vol = m3ret_volume_try_new (1, out_n[2], out_n[1], out_n[0]);
  if (vol == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE, "%s: cannot allocate %"
                 G_GSIZE_FORMAT " voxels", path, voxels);
    header_clear (nim);
    return NULL;
  }
  for (gint a = 0; a < 3; a++)
    vol->spacing[a] = out_s[a];
  /* Stored voxel (i, j, k) lands at base + i·step[0] + j·step[1] + k·step[2]. */
  gssize stride[3] = { 1, (gssize) out_n[0], (gssize) out_n[0] * out_n[1] };
  gssize step[3], base = 0;
  for (gint a = 0; a < 3; a++) {
    step[a] = flip[a] ? -stride[axis_of[a]] : stride[axis_of[a]];
    if (flip[a])
      base += (gssize) (in_n[a] - 1) * stride[axis_of[a]];
  }
  const gfloat *src = values;
  for (guint k = 0; k < in_n[2]; k++)
    for (guint j = 0; j < in_n[1]; j++) {
      gfloat *dst = vol->data + base + (gssize) k * step[2] + (gssize) j * step[1];
      if (step[0] == 1) {
        memcpy (dst, src, in_n[0] * sizeof (gfloat));
        src += in_n[0];
      } else {
        for (guint i = 0; i < in_n[0]; i++, src++)
          dst[(gssize) i * step[0]] = *src;
      }
    }

  info->nx = out_n[0];
  info->ny = out_n[1];
  info->nz = out_n[2];
  info->n_volumes = n_volumes;
  info->datatype = nim->datatype;
  info->compressed = nifti_is_gzfile (nim->iname);
  info->slope = slope;
  info->inter = inter;
  header_clear (nim);
  return vol;
}

M3retVolume *
m3ret_readers_nifti_read (const gchar *path, guint64 volume_index, const M3retLimits *limits,
                          M3retReadersNiftiInfo *info, GError **error)
{
  gint version;
  return read_volume (path, volume_index, limits, info, &version, error);
}

gboolean
m3ret_readers_nifti_inspect (const gchar *path, guint64 volume_index, const M3retLimits *limits,
                             M3retInspectInfo *info, GError **error)
{
  M3retReadersNiftiInfo ni;
  gint version = 1;
  g_autoptr (M3retVolume) vol = read_volume (path, volume_index, limits, &ni, &version, error);
  if (vol == NULL)
    return FALSE;
  info->format = g_strdup_printf ("NIfTI-%d%s", version, ni.compressed ? " (gzip)" : "");
  info->datatype = g_strdup (nifti_datatype_string (ni.datatype));
  info->width = ni.nx;
  info->height = ni.ny;
  info->depth = ni.nz;
  info->channels = 1;
  info->frames = ni.n_volumes;
  for (gint a = 0; a < 3; a++)
    info->spacing[a] = vol->spacing[a];
  if (ni.orientation_from == NULL || ni.orientation_degenerate)
    info->orientation = g_strdup ("unknown, axes read as stored");
  else
    info->orientation = g_strdup_printf ("%s (stored, from the %s), read as RAS", ni.orientation,
                                         ni.orientation_from);
  m3ret_readers_fill_stats (info, vol);
  if (ni.orientation_from == NULL)
    m3ret_readers_add_note (info, "orientation unknown: no qform or sform (both codes 0); "
                            "the axes are read as stored, as if RAS, so slices may not be axial");
  else if (ni.orientation_degenerate)
    m3ret_readers_add_note (info, "orientation unknown: the %s does not map the axes to three "
                            "distinct directions; the axes are read as stored, as if RAS",
                            ni.orientation_from);
  for (gint a = 0; a < 3; a++) {
    gdouble raw = ni.pixdim_stored[a];
    if (ni.dims_stored[a] > 1 && !(raw > 0.0 && isfinite (raw)))
      m3ret_readers_add_note (info, "spacing corrected: pixdim[%d] = %g, read as %g", a + 1, raw,
                              ni.pixdim_used[a]);
  }
  m3ret_readers_add_note (info, "scl_slope %g, scl_inter %g (applied)", ni.slope, ni.inter);
  if (ni.n_volumes > 1)
    m3ret_readers_add_note (info, "volume %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " shown",
                            volume_index, ni.n_volumes);
  return TRUE;
}
