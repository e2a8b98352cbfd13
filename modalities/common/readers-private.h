/* readers-private.h — what the readers' own files share and libm3ret-readers
 * does not export (nothing here is named m3ret_readers_*, the only symbols
 * the library keeps) nor install. */
#ifndef M3RET_READERS_PRIVATE_H
#define M3RET_READERS_PRIVATE_H

#include "m3ret-readers.h"

G_BEGIN_DECLS

/* Multiplies the statistics of @info by @factor (from [0,1] to stored units). */
void readers_scale_stats (M3retInspectInfo *info, gdouble factor);

/* A file's size and modification time in ns, as the caches compare them;
 * FALSE when it cannot be stat'ed. */
gboolean readers_file_stamp (const gchar *path, gint64 *size, gint64 *mtime);

/* ---- an M3retReadersVolumeCache's entries (cache.c) ---- */

typedef struct _ReadersCachedVolume ReadersCachedVolume;

/* The volume decoded from @path, if kept and the file's size and
 * modification time are unchanged; NULL otherwise (also for a NULL @cache).
 * Returns: (transfer full) a reference, or NULL. */
ReadersCachedVolume *readers_volume_cache_lookup (M3retReadersVolumeCache *cache,
                                                  const gchar *path);
/* Takes @volume (transfer full), keeps it when it fits the budget (dropping
 * the least recently used), and returns a reference for the caller either
 * way.  The volume must not change afterwards.  Returns: (transfer full). */
ReadersCachedVolume *readers_volume_cache_insert (M3retReadersVolumeCache *cache,
                                                  const gchar *path, M3retVolume *volume);
/* Whether a volume of @bytes would be kept by @cache (NULL: no). */
gboolean readers_volume_cache_fits (const M3retReadersVolumeCache *cache, guint64 bytes);
/* (transfer none) the volume of @entry, valid while the reference is held. */
const M3retVolume *readers_cached_volume_get (const ReadersCachedVolume *entry);
void readers_cached_volume_unref (ReadersCachedVolume *entry);

/* ---- the probed videos (video.c) ---- */

M3retReadersVideoCache *readers_video_cache_new (void);
void readers_video_cache_free (M3retReadersVideoCache *cache);
/* m3ret_readers_video_probe_file() through @cache (NULL: no cache); a file
 * whose size or modification time changed is probed again. */
gboolean readers_video_probe_cached (M3retReadersVideoCache *cache, const gchar *path,
                                     const M3retLimits *limits, M3retReadersVideoInfo *info,
                                     GError **error);

G_END_DECLS

#endif /* M3RET_READERS_PRIVATE_H */
