/* netpbm.c — an out-of-tree modality plugin: photographs as binary PGM/PPM.
 *
 * Built against an installed m3ret with nothing but `pkg-config
 * m3ret-plugin m3ret-readers` (see Makefile), it shows the whole contract
 * of a modality: declare keys bound to a settings struct and read them with
 * one m3ret_config_fill(), probe by magic bytes, read a file into an
 * M3retVolume with intensities in [0,1], and let the core's m3ret_render()
 * produce every view (crops, flips, jitter, normalisation) exactly as for
 * the built-in modalities.  What those share comes from libm3ret-readers:
 * the common keys, the run's size limits (set_limits), rendering every
 * view and the statistics `m3ret inspect` prints.  Think of it as a
 * dermatology-photo modality.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <m3ret-plugin.h>
#include <m3ret-readers.h>

typedef struct {
  M3retReadersCommon common; /* first: m3ret_readers_set_limits() relies on it */
} Netpbm;

/* The keys, as m3ret_config_fill() writes them: each *_FIELD declaration
 * (here those of M3RET_READERS_COMMON_KEYS) names its member. */
typedef struct {
  M3retReadersCommonSettings common;
} NetpbmSettings;

/* mean, std, flips and jitter, as every built-in modality declares them. */
static const M3retKeySpec netpbm_keys[] = {
  M3RET_READERS_COMMON_KEYS (NetpbmSettings, "0.5,0.5,0.5", "0.25,0.25,0.25", "x", "0.1"),
  M3RET_KEY_END
};

static gpointer
netpbm_create (const M3retConfig *config, GError **error)
{
  /* One call reads every key; the values were checked when the pipeline loaded. */
  NetpbmSettings set;
  if (!m3ret_config_fill (config, netpbm_keys, &set, error))
    return NULL;
  Netpbm *self = g_new0 (Netpbm, 1);
  if (!m3ret_readers_read_common_keys (config, &set.common, FALSE, &self->common, error)) {
    g_free (self);
    return NULL;
  }
  return self;
}

static guint
netpbm_probe (const gchar *path, const guint8 *head, gsize head_len)
{
  if (head_len < 3 || head[0] != 'P' || (head[1] != '5' && head[1] != '6'))
    return 0;
  return g_ascii_isspace (head[2]) ? 90 : 0;
}

static M3retLayout
netpbm_layout (gpointer self, const gchar *path, GError **error)
{
  return M3RET_LAYOUT_IMAGE;
}

/* Reads one whitespace-separated header number, skipping # comments. */
static gboolean
header_number (const guint8 *data, gsize len, gsize *pos, guint64 *out)
{
  while (*pos < len) {
    if (data[*pos] == '#') {
      while (*pos < len && data[*pos] != '\n')
        (*pos)++;
    } else if (g_ascii_isspace (data[*pos])) {
      (*pos)++;
    } else {
      break;
    }
  }
  guint64 v = 0;
  gsize start = *pos;
  while (*pos < len && g_ascii_isdigit (data[*pos]) && *pos - start < 10)
    v = v * 10 + (guint64) (data[(*pos)++] - '0');
  if (*pos == start || *pos >= len || !g_ascii_isspace (data[*pos]))
    return FALSE;
  *out = v;
  return TRUE;
}

static M3retVolume *
netpbm_decode (Netpbm *self, const gchar *path, GError **error)
{
  g_autofree guint8 *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, (gchar **) &data, &len, error))
    return NULL;
  guint64 width, height, maxval;
  gsize pos = 2;
  if (len < 3 || data[0] != 'P' || (data[1] != '5' && data[1] != '6') ||
      !header_number (data, len, &pos, &width) || !header_number (data, len, &pos, &height) ||
      !header_number (data, len, &pos, &maxval)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: not a binary PGM/PPM file (bad header)", path);
    return NULL;
  }
  pos++; /* the single whitespace before the raster */
  guint channels = data[1] == '6' ? 3 : 1;
  if (width == 0 || height == 0 || maxval == 0 || maxval > 65535) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: %" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT " with maxval %" G_GUINT64_FORMAT
                 " is not a valid image", path, width, height, maxval);
    return NULL;
  }
  /* The run's [data] max_pixels, checked before anything is allocated. */
  if (!m3ret_limits_check_frame (&self->common.limits, path, "PGM/PPM", width, height, error))
    return NULL;
  guint bytes = maxval > 255 ? 2 : 1;
  guint64 need = width * height * channels * bytes;
  if (len - pos < need) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: truncated: the header promises %" G_GUINT64_FORMAT " bytes of pixels, the file has %zu",
                 path, need, len - pos);
    return NULL;
  }
  M3retVolume *v = m3ret_volume_try_new (channels, 1, (guint) height, (guint) width);
  if (v == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE, "%s: out of memory", path);
    return NULL;
  }
  /* Interleaved samples → planar [c][y][x], scaled to [0,1]. */
  const guint8 *px = data + pos;
  gsize plane = (gsize) width * height;
  for (gsize i = 0; i < plane; i++)
    for (guint c = 0; c < channels; c++) {
      gsize k = i * channels + c;
      guint value = bytes == 2 ? (guint) px[2 * k] << 8 | px[2 * k + 1] : px[k];
      v->data[c * plane + i] = (gfloat) value / (gfloat) maxval;
    }
  return v;
}

static gboolean
netpbm_read (gpointer self, const gchar *path, const M3retView *views, guint n_views,
             M3retSample **out, GError **error)
{
  g_autoptr (M3retVolume) volume = netpbm_decode (self, path, error);
  if (volume == NULL)
    return FALSE;
  Netpbm *n = self;
  m3ret_readers_render_views (volume, M3RET_LAYOUT_IMAGE, &n->common.options, views, n_views, out);
  return TRUE;
}

/* Optional entry: what `m3ret inspect` prints. */
static gboolean
netpbm_inspect (gpointer self, const gchar *path, M3retInspectInfo *info, GError **error)
{
  g_autoptr (M3retVolume) volume = netpbm_decode (self, path, error);
  if (volume == NULL)
    return FALSE;
  info->format = g_strdup (volume->channels == 3 ? "PPM (binary)" : "PGM (binary)");
  info->datatype = g_strdup ("uint8/uint16 scaled by maxval");
  info->width = volume->width;
  info->height = volume->height;
  info->depth = 1;
  info->channels = volume->channels;
  info->frames = 1;
  for (guint i = 0; i < 3; i++)
    info->spacing[i] = 1.0;
  m3ret_readers_fill_stats (info, volume);
  return TRUE;
}

static const M3retModalityVTable netpbm_vtable = {
  .create = netpbm_create,
  .destroy = g_free,
  .probe = netpbm_probe,
  .layout = netpbm_layout,
  .read = netpbm_read,
  .inspect = netpbm_inspect,
  .set_limits = m3ret_readers_set_limits,
};

M3RET_PLUGIN_DEFINE (netpbm, M3RET_PLUGIN_MODALITY, "1.0.0",
                     "photographs as binary PGM/PPM (the out-of-tree example plugin)", "MIT",
                     netpbm_keys, NULL, &netpbm_vtable)
