/* video.c — video clips through libavformat/libavcodec/libswscale.
 *
 * A read takes two passes: the first only demuxes, counting the video
 * stream's packets and noting their timestamps (headers' frame counts are
 * often missing or wrong); the second seeks to the key frame before the
 * first frame asked for, decodes from there and keeps the frames asked
 * for, recognised by timestamp (by count when the stream has none).
 * Corrupt packets are skipped; a clip that yields no frame at all is an
 * error.  Decoders run single-threaded: parallelism comes from the loader.
 */
#include "config.h"

#include <string.h>


#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "readers-private.h"

/* Decoding: beyond this many packets a stream is treated as broken rather
 * than read on (counting stops at [data] max_frames). */
#define MAX_PACKETS 10000000

typedef struct {
  AVFormatContext *fmt;
  AVCodecContext *dec;
  AVPacket *packet;
  AVFrame *frame;
  struct SwsContext *sws;
  gint stream;
} Video;

static void
video_close (Video *v)
{
  sws_freeContext (v->sws);
  av_frame_free (&v->frame);
  av_packet_free (&v->packet);
  avcodec_free_context (&v->dec);
  avformat_close_input (&v->fmt);
  memset (v, 0, sizeof *v);
}

static gboolean
fail_av (GError **error, gint code, const gchar *path, const gchar *what, gint averr)
{
  gchar buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };
  av_strerror (averr, buf, sizeof buf);
  g_set_error (error, M3RET_DATA_ERROR, code, "%s: %s: %s", path, what, buf);
  return FALSE;
}

static gboolean
video_open (Video *v, const gchar *path, gboolean with_decoder, GError **error)
{
  memset (v, 0, sizeof *v);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s: no such file", path);
    return FALSE;
  }
  gint ret = avformat_open_input (&v->fmt, path, NULL, NULL);
  if (ret == AVERROR_EOF)
    return fail_av (error, M3RET_DATA_ERROR_BAD_VALUES, path,
                    "no frames (the file ends before its first frame)", ret);
  if (ret < 0)
    return fail_av (error, M3RET_DATA_ERROR_CORRUPT, path, "not a readable video", ret);
  ret = avformat_find_stream_info (v->fmt, NULL);
  if (ret < 0) {
    video_close (v);
    if (ret == AVERROR_EOF)
      return fail_av (error, M3RET_DATA_ERROR_BAD_VALUES, path,
                      "no frames (the file ends before its first frame)", ret);
    return fail_av (error, M3RET_DATA_ERROR_CORRUPT, path, "cannot read stream information", ret);
  }
  const AVCodec *codec = NULL;
  v->stream = av_find_best_stream (v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (v->stream < 0 || codec == NULL) {
    gboolean no_stream = v->stream == AVERROR_STREAM_NOT_FOUND;
    video_close (v);
    g_set_error (error, M3RET_DATA_ERROR,
                 no_stream ? M3RET_DATA_ERROR_CORRUPT : M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: %s", path, no_stream ? "no video stream" : "no decoder for its video codec");
    return FALSE;
  }
  v->packet = av_packet_alloc ();
  v->frame = av_frame_alloc ();
  if (!with_decoder)
    return TRUE;
  v->dec = avcodec_alloc_context3 (codec);
  avcodec_parameters_to_context (v->dec, v->fmt->streams[v->stream]->codecpar);
  v->dec->thread_count = 1;
  ret = avcodec_open2 (v->dec, codec, NULL);
  if (ret < 0) {
    video_close (v);
    return fail_av (error, M3RET_DATA_ERROR_UNSUPPORTED, path, "cannot open the decoder", ret);
  }
  return TRUE;
}

static gint
compare_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* The frame number of timestamp @ts: the first frame not before it. */
static guint64
frame_of (const M3retReadersVideoInfo *info, gint64 ts)
{
  guint64 lo = 0, hi = info->frames;
  while (lo < hi) {
    guint64 mid = lo + (hi - lo) / 2;
    if (info->pts[mid] < ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  return MIN (lo, info->frames - 1);
}

void
m3ret_readers_video_info_clear (M3retReadersVideoInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->container);
  g_free (info->codec);
  g_free (info->pix_fmt);
  g_free (info->pts);
  memset (info, 0, sizeof *info);
}

gboolean
m3ret_readers_video_probe_file (const gchar *path, const M3retLimits *limits,
                                M3retReadersVideoInfo *info, GError **error)
{
  memset (info, 0, sizeof *info);
  Video v;
  if (!video_open (&v, path, FALSE, error))
    return FALSE;
  AVStream *st = v.fmt->streams[v.stream];
  info->width = st->codecpar->width;
  info->height = st->codecpar->height;
  AVRational rate = av_guess_frame_rate (v.fmt, st, NULL);
  info->fps = rate.den > 0 ? av_q2d (rate) : 0.0;
  info->container = g_strdup (v.fmt->iformat->name);
  info->codec = g_strdup (avcodec_get_name (st->codecpar->codec_id));
  const gchar *pf = av_get_pix_fmt_name (st->codecpar->format);
  info->pix_fmt = g_strdup (pf ? pf : "unknown");
  if (info->width == 0 || info->height == 0) {
    video_close (&v);
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: the video stream declares no frame size", path);
    m3ret_readers_video_info_clear (info);
    return FALSE;
  }
  if (!m3ret_limits_check_frame (limits, path, "video frame", info->width, info->height, error)) {
    video_close (&v);
    m3ret_readers_video_info_clear (info);
    return FALSE;
  }
  guint64 packets = 0;
  gboolean timed = TRUE;
  g_autoptr (GArray) stamps = g_array_new (FALSE, FALSE, sizeof (gint64));
  while (packets <= limits->max_frames && av_read_frame (v.fmt, v.packet) >= 0) {
    if (v.packet->stream_index == v.stream) {
      packets++;
      gint64 ts = v.packet->pts != AV_NOPTS_VALUE ? v.packet->pts : v.packet->dts;
      timed = timed && ts != AV_NOPTS_VALUE;
      if (timed)
        g_array_append_val (stamps, ts);
    }
    av_packet_unref (v.packet);
  }
  video_close (&v);
  info->frames = packets;
  if (!m3ret_limits_check_frames (limits, path, packets, error)) {
    m3ret_readers_video_info_clear (info);
    return FALSE;
  }
  if (timed && stamps->len == packets && packets > 0) {
    g_array_sort (stamps, compare_i64);
    for (guint i = 1; timed && i < stamps->len; i++)
      timed = g_array_index (stamps, gint64, i) != g_array_index (stamps, gint64, i - 1);
    if (timed)
      info->pts = g_memdup2 (stamps->data, stamps->len * sizeof (gint64));
  }
  if (packets == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_BAD_VALUES,
                 "%s: the video has no frames", path);
    m3ret_readers_video_info_clear (info);
    return FALSE;
  }
  return TRUE;
}

/* ---- what the first pass learns, kept per file ---- */

/* Above this many files the cache starts over: a few KB each. */
#define CACHE_MAX_FILES 4096

struct _M3retReadersVideoCache {
  GMutex lock;
  GHashTable *files; /* path → Cached* */
};

typedef struct {
  gint64 size, mtime; /* readers_file_stamp() when probed */
  M3retReadersVideoInfo info;
} Cached;

static void
cached_free (Cached *c)
{
  m3ret_readers_video_info_clear (&c->info);
  g_free (c);
}

M3retReadersVideoCache *
readers_video_cache_new (void)
{
  M3retReadersVideoCache *cache = g_new0 (M3retReadersVideoCache, 1);
  g_mutex_init (&cache->lock);
  cache->files =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) cached_free);
  return cache;
}

void
readers_video_cache_free (M3retReadersVideoCache *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_unref (cache->files);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

static void
info_copy (const M3retReadersVideoInfo *from, M3retReadersVideoInfo *to)
{
  *to = *from;
  to->container = g_strdup (from->container);
  to->codec = g_strdup (from->codec);
  to->pix_fmt = g_strdup (from->pix_fmt);
  to->pts = from->pts ? g_memdup2 (from->pts, from->frames * sizeof (gint64)) : NULL;
}

gboolean
readers_video_probe_cached (M3retReadersVideoCache *cache, const gchar *path,
                            const M3retLimits *limits, M3retReadersVideoInfo *info, GError **error)
{
  gint64 size, mtime;
  if (cache == NULL || !readers_file_stamp (path, &size, &mtime))
    return m3ret_readers_video_probe_file (path, limits, info, error);
  g_mutex_lock (&cache->lock);
  const Cached *hit = g_hash_table_lookup (cache->files, path);
  /* A file rewritten in place (new size or time) is probed again. */
  gboolean fresh = hit != NULL && hit->size == size && hit->mtime == mtime;
  if (fresh)
    info_copy (&hit->info, info);
  g_mutex_unlock (&cache->lock);
  if (fresh)
    return TRUE;
  if (!m3ret_readers_video_probe_file (path, limits, info, error))
    return FALSE;
  Cached *c = g_new0 (Cached, 1);
  c->size = size;
  c->mtime = mtime;
  info_copy (info, &c->info);
  g_mutex_lock (&cache->lock);
  if (g_hash_table_size (cache->files) >= CACHE_MAX_FILES)
    g_hash_table_remove_all (cache->files);
  g_hash_table_replace (cache->files, g_strdup (path), c);
  g_mutex_unlock (&cache->lock);
  return TRUE;
}

/* Converts the decoder's current frame to RGB floats in slot @slot of @vol. */
static gboolean
store_frame (Video *v, M3retVolume *vol, guint slot, guint8 *rgb, gint rgb_stride)
{
  AVFrame *f = v->frame;
  v->sws = sws_getCachedContext (v->sws, f->width, f->height, f->format, vol->width, vol->height,
                                 AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  if (v->sws == NULL)
    return FALSE;
  guint8 *dst[4] = { rgb, NULL, NULL, NULL };
  gint dst_stride[4] = { rgb_stride, 0, 0, 0 };
  sws_scale (v->sws, (const guint8 *const *) f->data, f->linesize, 0, f->height, dst, dst_stride);
  gsize plane = (gsize) vol->depth * vol->height * vol->width;
  for (guint y = 0; y < vol->height; y++) {
    const guint8 *row = rgb + (gsize) y * rgb_stride;
    for (guint c = 0; c < 3; c++) {
      gfloat *out = vol->data + c * plane + ((gsize) slot * vol->height + y) * vol->width;
      for (guint x = 0; x < vol->width; x++)
        out[x] = row[x * 3 + c] * (1.0f / 255.0f);
    }
  }
  return TRUE;
}

static void
copy_slot (M3retVolume *vol, guint from, guint to)
{
  gsize frame = (gsize) vol->height * vol->width, plane = (gsize) vol->depth * frame;
  for (guint c = 0; c < vol->channels; c++)
    memcpy (vol->data + c * plane + to * frame, vol->data + c * plane + from * frame,
            frame * sizeof (gfloat));
}

M3retVolume *
m3ret_readers_video_read (const gchar *path, const M3retReadersVideoInfo *info,
                          const guint64 *index, guint n, const M3retLimits *limits, GError **error)
{
  if (!m3ret_limits_check_frame (limits, path, "video frame", info->width, info->height, error))
    return NULL;
  Video v;
  if (!video_open (&v, path, TRUE, error))
    return NULL;
  g_autoptr (M3retVolume) vol = m3ret_volume_try_new (3, n, info->height, info->width);
  gint rgb_stride = FFALIGN (info->width * 3, 32);
  g_autofree guint8 *rgb = g_try_malloc ((gsize) rgb_stride * info->height + 64);
  if (vol == NULL || rgb == NULL) {
    video_close (&v);
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: cannot allocate %u frames of %u×%u", path, n, info->width, info->height);
    return NULL;
  }
  guint next = 0;          /* next slot to fill */
  guint64 decoded = 0;     /* frames out of the decoder so far */
  guint64 packets = 0;
  guint64 frame = 0;       /* number of the frame just decoded */
  gboolean draining = FALSE, failed = FALSE;
  if (info->pts != NULL && index[0] > 0 &&
      av_seek_frame (v.fmt, v.stream, info->pts[index[0]], AVSEEK_FLAG_BACKWARD) >= 0)
    avcodec_flush_buffers (v.dec);
  while (next < n && !failed) {
    gint ret = avcodec_receive_frame (v.dec, v.frame);
    if (ret == 0) {
      gint64 ts = v.frame->best_effort_timestamp;
      if (info->pts != NULL && ts != AV_NOPTS_VALUE)
        frame = frame_of (info, ts);
      else if (decoded > 0)
        frame++;
      /* A frame asked for but never seen (dropped by the decoder) takes the
       * next one decoded. */
      while (next < n && index[next] <= frame) {
        if (!store_frame (&v, vol, next, rgb, rgb_stride)) {
          failed = TRUE;
          break;
        }
        next++;
      }
      decoded++;
      av_frame_unref (v.frame);
      continue;
    }
    if (ret == AVERROR_EOF || (ret != AVERROR (EAGAIN)))
      break;
    if (draining)
      break;
    /* The decoder wants input. */
    ret = av_read_frame (v.fmt, v.packet);
    if (ret < 0 || ++packets > MAX_PACKETS) {
      avcodec_send_packet (v.dec, NULL);
      draining = TRUE;
      continue;
    }
    if (v.packet->stream_index == v.stream)
      avcodec_send_packet (v.dec, v.packet); /* a corrupt packet is skipped */
    av_packet_unref (v.packet);
  }
  g_debug ("%s: %" G_GUINT64_FORMAT " frames decoded, %" G_GUINT64_FORMAT " packets, %u of %u slots, counted %" G_GUINT64_FORMAT,
           path, decoded, packets, next, n, info->frames);
  video_close (&v);
  if (failed) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: cannot convert its frames to RGB", path);
    return NULL;
  }
  if (next == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: no frame could be decoded (corrupt or truncated video)", path);
    return NULL;
  }
  /* Fewer frames than counted (a truncated or damaged tail): repeat the last. */
  for (guint k = next; k < n; k++)
    copy_slot (vol, next - 1, k);
  return g_steal_pointer (&vol);
}

static gint
compare_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? -1 : x > y;
}

gboolean
m3ret_readers_video_read_views (const M3retReadersVideoModality *m, const gchar *path,
                                const M3retView *views, guint n_views, M3retSample **out,
                                GError **error)
{
  const M3retLimits *limits = &m->common.limits;
  M3retReadersVideoInfo info;
  if (!readers_video_probe_cached (m->cache, path, limits, &info, error))
    return FALSE;
  /* A clip that fits the cache is decoded whole, once, and kept: later reads
   * cut their frames from memory.  Otherwise every view's frames, then their
   * union, are decoded once per read. */
  guint64 clip_bytes = (guint64) info.width * info.height * 3 * sizeof (gfloat) * info.frames;
  gboolean whole = readers_volume_cache_fits (m->clips, clip_bytes);
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 **picks = g_new0 (guint64 *, n_views);
  for (guint i = 0; i < n_views; i++) {
    picks[i] = g_new (guint64, views[i].depth);
    m3ret_select_frames (info.frames, views[i].depth, m->stride, &views[i], picks[i]);
    if (!whole)
      g_array_append_vals (all, picks[i], views[i].depth);
  }
  for (guint64 f = 0; whole && f < info.frames; f++)
    g_array_append_val (all, f);
  g_array_sort (all, compare_u64);
  guint n_unique = 0;
  for (guint i = 0; i < all->len; i++)
    if (n_unique == 0 || g_array_index (all, guint64, i) != g_array_index (all, guint64, n_unique - 1))
      g_array_index (all, guint64, n_unique++) = g_array_index (all, guint64, i);
  ReadersCachedVolume *kept = whole ? readers_volume_cache_lookup (m->clips, path) : NULL;
  if (kept == NULL) {
    M3retVolume *decoded =
      m3ret_readers_video_read (path, &info, (guint64 *) all->data, n_unique, limits, error);
    if (decoded != NULL)
      kept = readers_volume_cache_insert (whole ? m->clips : NULL, path, decoded);
  }
  const M3retVolume *clip = kept != NULL ? readers_cached_volume_get (kept) : NULL;
  /* Each view is rendered straight from the decoded frames it picks: the
   * resampler reads only the part of each frame its crop needs. */
  for (guint i = 0; clip != NULL && i < n_views; i++) {
    g_autofree guint *slots = g_new (guint, views[i].depth);
    for (guint t = 0; t < views[i].depth; t++) {
      guint64 *hit = bsearch (&picks[i][t], all->data, n_unique, sizeof (guint64), compare_u64);
      slots[t] = (guint) (hit - (guint64 *) all->data);
    }
    out[i] = m3ret_render_frames (clip, slots, views[i].depth, &views[i], &m->common.options);
  }
  for (guint i = 0; i < n_views; i++)
    g_free (picks[i]);
  g_free (picks);
  readers_cached_volume_unref (kept);
  m3ret_readers_video_info_clear (&info);
  return clip != NULL;
}

gboolean
m3ret_readers_video_sniff (const gchar *path, const guint8 *head, gsize head_len)
{
  static const gchar *const suffixes[] = { ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm",
                                           ".mpg", ".mpeg", ".ogv", ".wmv", ".flv", NULL };
  if (m3ret_readers_has_suffix (path, suffixes))
    return TRUE;
  if (head_len >= 12 && memcmp (head + 4, "ftyp", 4) == 0)
    return TRUE;
  if (head_len >= 12 && memcmp (head, "RIFF", 4) == 0 && memcmp (head + 8, "AVI ", 4) == 0)
    return TRUE;
  if (head_len >= 4 && head[0] == 0x1a && head[1] == 0x45 && head[2] == 0xdf && head[3] == 0xa3)
    return TRUE;
  return FALSE;
}

gboolean
m3ret_readers_video_inspect (M3retReadersVideoCache *cache, const gchar *path,
                             const M3retLimits *limits, M3retInspectInfo *info, GError **error)
{
  M3retReadersVideoInfo v;
  if (!readers_video_probe_cached (cache, path, limits, &v, error))
    return FALSE;
  /* Statistics from up to 16 frames spread over the clip. */
  guint n = (guint) MIN (v.frames, 16);
  M3retView eval;
  m3ret_view_init_eval (&eval, 1, n, 1);
  g_autofree guint64 *index = g_new (guint64, n);
  m3ret_select_frames (v.frames, n, 1, &eval, index);
  g_autoptr (M3retVolume) clip = m3ret_readers_video_read (path, &v, index, n, limits, error);
  if (clip == NULL) {
    m3ret_readers_video_info_clear (&v);
    return FALSE;
  }
  info->format = g_strdup_printf ("video: %s in %s", v.codec, v.container);
  info->datatype = g_strdup (v.pix_fmt);
  info->width = v.width;
  info->height = v.height;
  info->depth = 1;
  info->channels = 3;
  info->frames = v.frames;
  info->fps = v.fps;
  info->spacing[0] = info->spacing[1] = info->spacing[2] = 1.0;
  m3ret_readers_fill_stats (info, clip);
  readers_scale_stats (info, 255.0);
  m3ret_readers_add_note (info, "statistics: RGB 0-255 over %u frames spread over the clip", n);
  m3ret_readers_video_info_clear (&v);
  return TRUE;
}

void
m3ret_readers_video_global_init (void)
{
  /* Decoders print every damaged macroblock; errors reach the user as GError. */
  av_log_set_level (AV_LOG_QUIET);
}

gpointer
m3ret_readers_video_modality_create (const M3retConfig *config, const M3retKeySpec *keys,
                                     GError **error)
{
  M3retReadersVideoSettings set;
  if (!m3ret_config_fill (config, keys, &set, error))
    return NULL;
  M3retReadersVideoModality *self = g_new0 (M3retReadersVideoModality, 1);
  if (!m3ret_readers_read_common_keys (config, &set.common, FALSE, &self->common, error)) {
    g_free (self);
    return NULL;
  }
  self->stride = (guint) set.stride;
  self->cache = readers_video_cache_new ();
  self->clips = m3ret_readers_volume_cache_new ((guint64) set.cache_mb << 20);
  return self;
}

void
m3ret_readers_video_modality_destroy (gpointer self)
{
  M3retReadersVideoModality *m = self;
  if (m == NULL)
    return;
  readers_video_cache_free (m->cache);
  m3ret_readers_volume_cache_free (m->clips);
  g_free (m);
}
