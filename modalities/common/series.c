/* series.c — a folder of single-slice DICOM files as one volume.
 *
 * Files are grouped by Series Instance UID and sorted along the slice
 * normal (row × column cosines of Image Orientation (Patient)) by Image
 * Position (Patient); the slice spacing comes from those positions, never
 * from Slice Thickness, and the names of the files do not matter.  A series
 * whose slices disagree (size, orientation, pixel format), repeat a
 * position or leave a gap is refused with the series and the problem named.
 * The volume is reoriented so x grows to the patient's right, y to anterior,
 * z to superior (RAS), as NIfTI volumes are.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "dicom-private.h"

typedef struct {
  gchar *path;
  ReadersDicomHeader h;
  gdouble along; /* position along the slice normal */
} Slice;

static void
slice_free (gpointer p)
{
  Slice *s = p;
  g_free (s->path);
  readers_dicom_header_clear (&s->h);
  g_free (s);
}

gboolean
m3ret_readers_dicom_series_path (const gchar *path, gchar **folder, gchar **selector)
{
  gchar *dir = NULL, *sel = NULL;
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    dir = g_strdup (path);
  } else if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    const gchar *hash = strrchr (path, '#');
    if (hash == NULL || hash[1] == '\0')
      return FALSE;
    dir = g_strndup (path, (gsize) (hash - path));
    if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
      g_free (dir);
      return FALSE;
    }
    sel = g_strdup (hash + 1);
  } else {
    return FALSE;
  }
  if (folder != NULL)
    *folder = dir;
  else
    g_free (dir);
  if (selector != NULL)
    *selector = sel;
  else
    g_free (sel);
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* The DICOM image files directly in @folder, by series UID: a table of
 * UID → GPtrArray of Slice, in file-name order.  Other files are ignored. */
static GHashTable *
scan (const gchar *folder, GError **error)
{
  GDir *dir = g_dir_open (folder, 0, error);
  if (dir == NULL)
    return NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (const gchar *name; (name = g_dir_read_name (dir)) != NULL;)
    if (name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  GHashTable *series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_ptr_array_unref);
  for (guint i = 0; i < names->len; i++) {
    g_autofree gchar *path = g_build_filename (folder, names->pdata[i], NULL);
    guint8 head[132];
    FILE *f = g_file_test (path, G_FILE_TEST_IS_REGULAR) ? g_fopen (path, "rb") : NULL;
    gsize len = f != NULL ? fread (head, 1, sizeof head, f) : 0;
    if (f != NULL)
      fclose (f);
    if (!m3ret_readers_dicom_sniff (head, len))
      continue;
    Slice *s = g_new0 (Slice, 1);
    if (!dicom_read_header (path, NULL, &s->h, NULL) || !s->h.has_pixels) {
      slice_free (s);
      continue;
    }
    s->path = g_steal_pointer (&path);
    GPtrArray *files = g_hash_table_lookup (series, s->h.series_uid);
    if (files == NULL) {
      files = g_ptr_array_new_with_free_func (slice_free);
      g_hash_table_insert (series, g_strdup (s->h.series_uid), files);
    }
    g_ptr_array_add (files, s);
  }
  return series;
}

/* The slices of the series @selector (NULL: the only one) of @folder. */
static GPtrArray *
pick (const gchar *path, const gchar *folder, const gchar *selector, GError **error)
{
  GHashTable *series = scan (folder, error);
  if (series == NULL)
    return NULL;
  GPtrArray *files = NULL;
  if (selector != NULL) {
    files = g_hash_table_lookup (series, selector);
    if (files == NULL)
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO,
                   "%s: no DICOM series with Series Instance UID %s in %s", path, selector, folder);
  } else if (g_hash_table_size (series) == 1) {
    GHashTableIter it;
    g_hash_table_iter_init (&it, series);
    g_hash_table_iter_next (&it, NULL, (gpointer *) &files);
  } else if (g_hash_table_size (series) == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN,
                 "%s: a folder without DICOM image files", path);
  } else {
    GString *list = g_string_new (NULL);
    GHashTableIter it;
    gpointer uid, value;
    g_hash_table_iter_init (&it, series);
    while (g_hash_table_iter_next (&it, &uid, &value))
      g_string_append_printf (list, "%s%s (%u files)", list->len ? ", " : "", (gchar *) uid,
                              ((GPtrArray *) value)->len);
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: the folder holds %u DICOM series (%s); name one as FOLDER#SERIES_UID", path,
                 g_hash_table_size (series), list->str);
    g_string_free (list, TRUE);
  }
  if (files != NULL)
    g_ptr_array_ref (files);
  g_hash_table_unref (series);
  return files;
}

gchar *
dicom_series_first_file (const gchar *folder, const gchar *selector, GError **error)
{
  g_autoptr (GPtrArray) files = pick (folder, folder, selector, error);
  if (files == NULL)
    return NULL;
  return g_strdup (((Slice *) files->pdata[0])->path);
}

static gint
compare_along (gconstpointer a, gconstpointer b)
{
  const Slice *x = *(Slice *const *) a, *y = *(Slice *const *) b;
  return (x->along > y->along) - (x->along < y->along);
}

static gint
compare_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

static const gchar *
base (const Slice *s)
{
  const gchar *slash = strrchr (s->path, G_DIR_SEPARATOR);
  return slash ? slash + 1 : s->path;
}

/* Refuses slices that do not make one regular volume; sets *spacing. */
static gboolean
check_series (const gchar *path, const gchar *uid, GPtrArray *files, gdouble *spacing,
              GError **error)
{
#define REFUSE(...)                                                                              \
  do {                                                                                           \
    g_autofree gchar *why = g_strdup_printf (__VA_ARGS__);                                       \
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT, "%s: series %s: %s", path,   \
                 uid[0] ? uid : "(no UID)", why);                                                \
    return FALSE;                                                                                \
  } while (0)
  if (files->len < 2)
    REFUSE ("a series of one file (%s) is not a volume", base (files->pdata[0]));
  const Slice *first = files->pdata[0];
  for (guint i = 0; i < files->len; i++) {
    const Slice *s = files->pdata[i];
    if (!s->h.has_position || !s->h.has_orientation)
      REFUSE ("%s has no Image Position/Orientation (Patient)", base (s));
    if (s->h.frames != 1)
      REFUSE ("%s holds %u frames; a series is made of single-slice files", base (s), s->h.frames);
    if (s->h.rows != first->h.rows || s->h.cols != first->h.cols)
      REFUSE ("mixed sizes: %s is %u×%u, %s is %u×%u", base (first), first->h.cols,
              first->h.rows, base (s), s->h.cols, s->h.rows);
    if (s->h.samples != first->h.samples || strcmp (s->h.photometric, first->h.photometric) != 0)
      REFUSE ("mixed pixel formats: %s is %s, %s is %s", base (first), first->h.photometric,
              base (s), s->h.photometric);
    for (guint k = 0; k < 6; k++)
      if (fabs (s->h.orientation[k] - first->h.orientation[k]) > 1e-3)
        REFUSE ("mixed orientations: %s and %s differ in Image Orientation (Patient)",
                base (first), base (s));
  }
  gdouble n[3];
  dicom_normal (first->h.orientation, n);
  for (guint i = 0; i < files->len; i++) {
    Slice *s = files->pdata[i];
    s->along = s->h.position[0] * n[0] + s->h.position[1] * n[1] + s->h.position[2] * n[2];
  }
  g_ptr_array_sort (files, compare_along);
  g_autofree gdouble *gaps = g_new (gdouble, files->len - 1);
  for (guint i = 1; i < files->len; i++) {
    const Slice *a = files->pdata[i - 1], *b = files->pdata[i];
    gaps[i - 1] = b->along - a->along;
    if (gaps[i - 1] < 1e-3)
      REFUSE ("%s and %s share the position %.3f mm along the slice normal", base (a), base (b),
              a->along);
  }
  g_autofree gdouble *sorted = g_memdup2 (gaps, (files->len - 1) * sizeof (gdouble));
  qsort (sorted, files->len - 1, sizeof (gdouble), compare_double);
  *spacing = sorted[(files->len - 1) / 2];
  for (guint i = 1; i < files->len; i++)
    if (gaps[i - 1] > 1.5 * *spacing)
      REFUSE ("a gap of %.3f mm between %s and %s where the slices are %.3f mm apart (a "
              "missing slice?)",
              gaps[i - 1], base (files->pdata[i - 1]), base (files->pdata[i]), *spacing);
  return TRUE;
#undef REFUSE
}

/* Array axis a of @src (x: columns, y: rows, z: slices) runs along @dir[a]
 * in RAS; the result has x right, y anterior, z superior (kept as stored
 * when the directions are not three distinct axes).  @orientation gets the
 * letters of the result. */
static M3retVolume *
reorient (const M3retVolume *src, const gdouble dir[3][3], gchar orientation[4])
{
  guint axis_of[3];
  gboolean flip[3], taken[3] = { FALSE, FALSE, FALSE }, ok = TRUE;
  for (guint a = 0; a < 3 && ok; a++) {
    guint best = 0;
    for (guint k = 1; k < 3; k++)
      if (fabs (dir[a][k]) > fabs (dir[a][best]))
        best = k;
    ok = !taken[best];
    taken[best] = TRUE;
    axis_of[a] = best;
    flip[a] = dir[a][best] < 0;
  }
  if (!ok)
    for (guint a = 0; a < 3; a++)
      axis_of[a] = a, flip[a] = FALSE;
  guint in_n[3] = { src->width, src->height, src->depth }, out_n[3];
  gdouble out_s[3];
  for (guint a = 0; a < 3; a++) {
    out_n[axis_of[a]] = in_n[a];
    out_s[axis_of[a]] = src->spacing[a];
  }
  static const gchar letters[3][2] = { { 'L', 'R' }, { 'P', 'A' }, { 'I', 'S' } };
  for (guint k = 0; k < 3; k++)
    orientation[k] = ok ? letters[k][1] : '?';
  orientation[3] = '\0';
  M3retVolume *vol = m3ret_volume_try_new (src->channels, out_n[2], out_n[1], out_n[0]);
  if (vol == NULL)
    return NULL;
  memcpy (vol->spacing, out_s, sizeof out_s);
  gssize stride[3] = { 1, (gssize) out_n[0], (gssize) out_n[0] * out_n[1] };
  gssize step[3], start = 0;
  for (guint a = 0; a < 3; a++) {
    step[a] = flip[a] ? -stride[axis_of[a]] : stride[axis_of[a]];
    if (flip[a])
      start += (gssize) (in_n[a] - 1) * stride[axis_of[a]];
  }
  gsize per_channel = (gsize) in_n[0] * in_n[1] * in_n[2];
  for (guint c = 0; c < src->channels; c++) {
    const gfloat *from = src->data + c * per_channel;
    gfloat *to = vol->data + c * per_channel + start;
    for (guint k = 0; k < in_n[2]; k++)
      for (guint j = 0; j < in_n[1]; j++)
        for (guint i = 0; i < in_n[0]; i++)
          to[(gssize) k * step[2] + (gssize) j * step[1] + (gssize) i * step[0]] = *from++;
  }
  return vol;
}

M3retVolume *
dicom_series_read (const gchar *path, const gchar *folder, const gchar *selector,
                   const M3retLimits *limits, M3retReadersDicomUnits units,
                   M3retReadersDicomInfo *info, GError **error)
{
  g_autoptr (GPtrArray) files = pick (path, folder, selector, error);
  if (files == NULL)
    return NULL;
  const Slice *first = files->pdata[0];
  gchar uid[65];
  g_strlcpy (uid, first->h.series_uid, sizeof uid);
  gdouble spacing;
  if (!dicom_check_image (first->path, &first->h, error)
      || !check_series (path, uid, files, &spacing, error)
      || !dicom_check_limits (path, &first->h, files->len, TRUE, limits, error))
    return NULL;
  first = files->pdata[0];
  guint channels = dicom_channels (&first->h);
  g_autoptr (M3retVolume) stack =
    m3ret_volume_try_new (channels, files->len, first->h.rows, first->h.cols);
  if (stack == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: cannot allocate a volume of %u slices", path, files->len);
    return NULL;
  }
  gsize plane = (gsize) first->h.rows * first->h.cols;
  for (guint z = 0; z < files->len; z++) {
    const Slice *s = files->pdata[z];
    if (!m3ret_limits_check_file (limits, s->path, error))
      return NULL;
    g_autofree gfloat *values = dicom_decode (s->path, &s->h, units, error);
    if (values == NULL)
      return NULL;
    for (guint c = 0; c < channels; c++)
      memcpy (stack->data + ((gsize) c * files->len + z) * plane, values + c * plane,
              plane * sizeof (gfloat));
  }
  stack->spacing[0] = first->h.spacing[0];
  stack->spacing[1] = first->h.spacing[1];
  stack->spacing[2] = spacing;
  /* Patient coordinates are LPS: x and y change sign on the way to RAS. */
  gdouble dir[3][3];
  const gdouble *o = first->h.orientation;
  gdouble n[3];
  dicom_normal (o, n);
  for (guint k = 0; k < 3; k++) {
    gdouble sign = k < 2 ? -1 : 1;
    dir[0][k] = sign * o[k];
    dir[1][k] = sign * o[3 + k];
    dir[2][k] = sign * n[k];
  }
  M3retVolume *vol = reorient (stack, dir, info->orientation);
  if (vol == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: cannot allocate a volume of %u slices", path, files->len);
    return NULL;
  }
  gchar orientation[4];
  memcpy (orientation, info->orientation, sizeof orientation);
  dicom_fill_info (info, &first->h, vol, files->len);
  memcpy (info->orientation, orientation, sizeof orientation);
  return vol;
}
