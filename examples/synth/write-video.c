/* write-video.c — RGB frame sequences as h264 .mp4 (libx264) or, where this
 * FFmpeg lacks libx264, mpeg4 .avi, through libavcodec/libavformat.
 *
 * Deterministic by construction: one encoder thread, no B-frames, the
 * bit-exact flags on the muxer, encoder and colour converter, and no
 * creation time in the container.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <string.h>

#include "synth-private.h"

/* Spare bytes behind each source frame handed to sws_scale(). */
#define SWS_INPUT_PADDING 64

gboolean
synth_video_codec_find (const gchar *want, SynthVideoCodec *codec, GError **error)
{
  static const SynthVideoCodec h264 = { "libx264", "mp4", ".mp4", "h264" };
  static const SynthVideoCodec mpeg4 = { "mpeg4", "avi", ".avi", "mpeg4" };
  /* FFmpeg logs encoder banners and statistics; failures reach the caller
   * as GErrors, so the log is only noise here. */
  av_log_set_level (AV_LOG_QUIET);
  if (want != NULL && strcmp (want, "h264") != 0 && strcmp (want, "mpeg4") != 0) {
    g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_ARGUMENT,
                 "unknown video codec '%s' (choose h264 or mpeg4)", want);
    return FALSE;
  }
  gboolean any = want == NULL;
  if ((any || strcmp (want, "h264") == 0) && avcodec_find_encoder_by_name (h264.encoder) != NULL) {
    *codec = h264;
    return TRUE;
  }
  if ((any || strcmp (want, "mpeg4") == 0) && avcodec_find_encoder_by_name (mpeg4.encoder) != NULL) {
    *codec = mpeg4;
    return TRUE;
  }
  g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_CODEC, "this FFmpeg has no %s encoder",
               any ? "libx264 or mpeg4" : strcmp (want, "h264") == 0 ? "libx264" : "mpeg4");
  return FALSE;
}

typedef struct {
  AVFormatContext *oc;
  AVCodecContext *cc;
  AVStream *st;
  AVPacket *pkt;
} Encoder;

/* Sends @frame (NULL: flush) and writes every packet that comes out. */
static int
encode (Encoder *e, AVFrame *frame)
{
  int ret = avcodec_send_frame (e->cc, frame);
  while (ret >= 0) {
    ret = avcodec_receive_packet (e->cc, e->pkt);
    if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
      return 0;
    if (ret < 0)
      break;
    /* Without a duration the last frame ends where it starts, and MP4 edit
     * lists then hide it from readers. */
    if (e->pkt->duration == 0)
      e->pkt->duration = 1;
    av_packet_rescale_ts (e->pkt, e->cc->time_base, e->st->time_base);
    e->pkt->stream_index = e->st->index;
    ret = av_interleaved_write_frame (e->oc, e->pkt);
  }
  return ret;
}

static int
open_encoder (Encoder *e, const SynthVideoCodec *codec, const SynthVideo *v, const gchar *tmp)
{
  int ret = avformat_alloc_output_context2 (&e->oc, NULL, codec->muxer, tmp);
  if (ret < 0)
    return ret;
  e->oc->flags |= AVFMT_FLAG_BITEXACT;
  const AVCodec *enc = avcodec_find_encoder_by_name (codec->encoder);
  e->st = avformat_new_stream (e->oc, NULL);
  e->cc = avcodec_alloc_context3 (enc);
  e->pkt = av_packet_alloc ();
  if (enc == NULL || e->st == NULL || e->cc == NULL || e->pkt == NULL)
    return AVERROR (ENOMEM);
  AVCodecContext *cc = e->cc;
  cc->width = (int) v->width;
  cc->height = (int) v->height;
  cc->pix_fmt = AV_PIX_FMT_YUV420P;
  cc->time_base = (AVRational) { 1, (int) v->fps };
  cc->framerate = (AVRational) { (int) v->fps, 1 };
  cc->gop_size = (int) v->n_frames;
  cc->max_b_frames = 0;
  cc->thread_count = 1;
  cc->flags |= AV_CODEC_FLAG_BITEXACT;
  if (e->oc->oformat->flags & AVFMT_GLOBALHEADER)
    cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (g_str_equal (codec->encoder, "libx264")) {
    av_opt_set (cc->priv_data, "preset", "veryfast", 0);
    av_opt_set (cc->priv_data, "crf", "20", 0);
  } else {
    cc->flags |= AV_CODEC_FLAG_QSCALE;
    cc->global_quality = FF_QP2LAMBDA * 3;
  }
  if ((ret = avcodec_open2 (cc, enc, NULL)) < 0)
    return ret;
  if ((ret = avcodec_parameters_from_context (e->st->codecpar, cc)) < 0)
    return ret;
  e->st->time_base = cc->time_base;
  if ((ret = avio_open (&e->oc->pb, tmp, AVIO_FLAG_WRITE)) < 0)
    return ret;
  return avformat_write_header (e->oc, NULL);
}

static int
write_frames (Encoder *e, const SynthVideo *v)
{
  AVFrame *frame = av_frame_alloc ();
  struct SwsContext *sws =
    sws_getContext ((int) v->width, (int) v->height, AV_PIX_FMT_RGB24, (int) v->width,
                    (int) v->height, AV_PIX_FMT_YUV420P,
                    SWS_BILINEAR | SWS_BITEXACT | SWS_ACCURATE_RND, NULL, NULL, NULL);
  int ret = frame && sws ? 0 : AVERROR (ENOMEM);
  if (ret == 0) {
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = (int) v->width;
    frame->height = (int) v->height;
    ret = av_frame_get_buffer (frame, 0);
  }
  gsize frame_bytes = (gsize) v->width * v->height * 3;
  /* swscale's SIMD input loops read up to 16 bytes past the last pixel, so
   * each frame is copied into a buffer with room to spare behind it. */
  guint8 *padded = g_malloc0 (frame_bytes + SWS_INPUT_PADDING);
  for (guint f = 0; ret >= 0 && f < v->n_frames; f++) {
    if ((ret = av_frame_make_writable (frame)) < 0)
      break;
    memcpy (padded, v->rgb + f * frame_bytes, frame_bytes);
    const uint8_t *src[1] = { padded };
    const int stride[1] = { (int) v->width * 3 };
    sws_scale (sws, src, stride, 0, (int) v->height, frame->data, frame->linesize);
    frame->pts = f;
    ret = encode (e, frame);
  }
  if (ret >= 0)
    ret = encode (e, NULL);
  g_free (padded);
  sws_freeContext (sws);
  av_frame_free (&frame);
  return ret;
}

gboolean
synth_write_video (const gchar *path, const SynthVideoCodec *codec, const SynthVideo *v,
                   GError **error)
{
  g_autofree gchar *tmp = synth_temp_path (path);
  Encoder e = { 0 };
  int ret = open_encoder (&e, codec, v, tmp);
  if (ret >= 0)
    ret = write_frames (&e, v);
  if (ret >= 0)
    ret = av_write_trailer (e.oc);
  if (e.oc != NULL && e.oc->pb != NULL) {
    int closed = avio_closep (&e.oc->pb);
    if (ret >= 0)
      ret = closed;
  }
  av_packet_free (&e.pkt);
  avcodec_free_context (&e.cc);
  avformat_free_context (e.oc);
  if (ret < 0) {
    char reason[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror (ret, reason, sizeof reason);
    g_unlink (tmp);
    g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_CODEC, "%s: cannot encode %s video: %s",
                 path, codec->name, reason);
    return FALSE;
  }
  return synth_commit_file (tmp, path, error);
}

void
synth_video_clear (SynthVideo *video)
{
  g_clear_pointer (&video->rgb, g_free);
}
