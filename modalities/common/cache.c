/* cache.c — decoded volumes kept per file for the next read, bounded in bytes.
 *
 * Training reads the same files again and again, and each read of a volume
 * or clip decodes the whole file to cut one small view from it.  A plugin
 * instance keeps what it decoded (after its file-level intensity mapping,
 * before any view) in a least-recently-used list under a byte budget; a
 * view rendered from a kept volume is the same as one from a fresh decode,
 * so batches do not depend on what was kept.  Entries are shared with
 * readers by reference count: eviction never frees a volume being rendered.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "readers-private.h"

struct _ReadersCachedVolume {
  gint ref;               /* atomic */
  M3retVolume *volume;
  gchar *path;
  gint64 size, mtime;     /* of the file when it was decoded; mtime in ns */
  gsize bytes;
  GList link;             /* in M3retReadersVolumeCache.lru while kept */
};

struct _M3retReadersVolumeCache {
  GMutex lock;
  guint64 max_bytes;
  guint64 bytes;
  GHashTable *files;      /* path → ReadersCachedVolume* (a reference) */
  GQueue lru;             /* most recently used first */
};

M3retReadersVolumeCache *
m3ret_readers_volume_cache_new (guint64 max_bytes)
{
  M3retReadersVolumeCache *cache = g_new0 (M3retReadersVolumeCache, 1);
  g_mutex_init (&cache->lock);
  cache->max_bytes = max_bytes;
  cache->files = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&cache->lru);
  return cache;
}

void
readers_cached_volume_unref (ReadersCachedVolume *entry)
{
  if (entry == NULL || !g_atomic_int_dec_and_test (&entry->ref))
    return;
  m3ret_volume_free (entry->volume);
  g_free (entry->path);
  g_free (entry);
}

gboolean
readers_volume_cache_fits (const M3retReadersVolumeCache *cache, guint64 bytes)
{
  return cache != NULL && bytes > 0 && bytes <= cache->max_bytes;
}

const M3retVolume *
readers_cached_volume_get (const ReadersCachedVolume *entry)
{
  return entry->volume;
}

/* Under the lock: forgets @entry (readers holding it keep it alive). */
static void
drop (M3retReadersVolumeCache *cache, ReadersCachedVolume *entry)
{
  g_hash_table_remove (cache->files, entry->path);
  g_queue_unlink (&cache->lru, &entry->link);
  cache->bytes -= entry->bytes;
  readers_cached_volume_unref (entry);
}

void
m3ret_readers_volume_cache_free (M3retReadersVolumeCache *cache)
{
  if (cache == NULL)
    return;
  while (cache->lru.head != NULL)
    drop (cache, cache->lru.head->data);
  g_hash_table_unref (cache->files);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

gboolean
readers_file_stamp (const gchar *path, gint64 *size, gint64 *mtime)
{
  GStatBuf st;
  /* FOLDER#MEMBER (a DICOM series) is stamped by its folder, whose time
   * changes when a file is added or removed. */
  g_autofree gchar *folder = NULL;
  if (g_stat (path, &st) != 0) {
    const gchar *hash = strrchr (path, '#');
    if (hash == NULL)
      return FALSE;
    folder = g_strndup (path, (gsize) (hash - path));
    if (g_stat (folder, &st) != 0)
      return FALSE;
  }
  *size = (gint64) st.st_size;
  /* Nanoseconds where the platform has them: a file rewritten within the
   * same second with the same size must still read as changed. */
#if defined(__linux__) || defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200809L
  *mtime = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st.st_mtim.tv_nsec;
#else
  *mtime = (gint64) st.st_mtime * G_GINT64_CONSTANT (1000000000);
#endif
  return TRUE;
}

ReadersCachedVolume *
readers_volume_cache_lookup (M3retReadersVolumeCache *cache, const gchar *path)
{
  gint64 size, mtime;
  if (cache == NULL || cache->max_bytes == 0 || !readers_file_stamp (path, &size, &mtime))
    return NULL;
  g_mutex_lock (&cache->lock);
  ReadersCachedVolume *hit = g_hash_table_lookup (cache->files, path);
  if (hit != NULL && (hit->size != size || hit->mtime != mtime)) {
    drop (cache, hit); /* the file was rewritten: decode it again */
    hit = NULL;
  }
  if (hit != NULL) {
    g_atomic_int_inc (&hit->ref);
    g_queue_unlink (&cache->lru, &hit->link);
    g_queue_push_head_link (&cache->lru, &hit->link);
  }
  g_mutex_unlock (&cache->lock);
  return hit;
}

ReadersCachedVolume *
readers_volume_cache_insert (M3retReadersVolumeCache *cache, const gchar *path, M3retVolume *volume)
{
  ReadersCachedVolume *entry = g_new0 (ReadersCachedVolume, 1);
  entry->ref = 1;
  entry->volume = volume;
  entry->path = g_strdup (path);
  entry->link.data = entry;
  entry->bytes = m3ret_volume_n_values (volume) * sizeof (gfloat);
  /* Stamped after decoding: a file changed meanwhile is only caught at the
   * next change, as with any stat-based cache. */
  if (cache == NULL || entry->bytes > cache->max_bytes ||
      !readers_file_stamp (path, &entry->size, &entry->mtime))
    return entry;
  g_mutex_lock (&cache->lock);
  ReadersCachedVolume *old = g_hash_table_lookup (cache->files, path);
  if (old != NULL) /* another thread decoded it too */
    drop (cache, old);
  while (cache->bytes + entry->bytes > cache->max_bytes && cache->lru.tail != NULL)
    drop (cache, cache->lru.tail->data);
  g_atomic_int_inc (&entry->ref); /* the cache's reference */
  g_hash_table_insert (cache->files, entry->path, entry);
  g_queue_push_head_link (&cache->lru, &entry->link);
  cache->bytes += entry->bytes;
  g_mutex_unlock (&cache->lock);
  return entry;
}

gboolean
m3ret_readers_cached_read_views (M3retReadersVolumeCache *cache, const gchar *path,
                                 M3retReadersDecodeFunc decode, gpointer self, M3retLayout layout,
                                 const M3retRenderOptions *options, const M3retView *views,
                                 guint n_views, M3retSample **out, GError **error)
{
  ReadersCachedVolume *entry = readers_volume_cache_lookup (cache, path);
  if (entry == NULL) {
    M3retVolume *volume = decode (self, path, error);
    if (volume == NULL)
      return FALSE;
    entry = readers_volume_cache_insert (cache, path, volume);
  }
  m3ret_readers_render_views (entry->volume, layout, options, views, n_views, out);
  readers_cached_volume_unref (entry);
  return TRUE;
}
