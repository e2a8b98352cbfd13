/* fileio.c — crash-safe file writing (temporary, fsync, rename) and CRC-32. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "m3ret-fileio.h"

G_DEFINE_QUARK (m3ret-format-error-quark, m3ret_format_error)

gboolean
m3ret_format_fail (GError **error, gint code, const gchar *file, const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, M3RET_FORMAT_ERROR, code, "%s: %s", file, reason);
  return FALSE;
}

#define BUFFER_SIZE (1u << 20)

struct _M3retAtomicFile {
  gchar *path;
  gchar *tmp_path;
  gint fd;
  guint8 *buffer;
  gsize buffered;
  guint64 written;
};

static gboolean
set_errno_error (GError **error, gint err, const gchar *path, const gchar *what)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "%s: cannot %s: %s", path, what,
               g_strerror (err));
  return FALSE;
}

/* The reason part of an input error, for a G_FILE_ERROR code. */
static const gchar *
plain_reason (gint code)
{
  switch (code) {
  case G_FILE_ERROR_NOENT: return "no such file";
  case G_FILE_ERROR_ISDIR: return "is a folder, not a file";
  case G_FILE_ERROR_ACCES:
  case G_FILE_ERROR_PERM: return "permission denied";
  case G_FILE_ERROR_NOTDIR: return "a folder on its path is a file";
  case G_FILE_ERROR_NAMETOOLONG: return "the name is too long";
  case G_FILE_ERROR_LOOP: return "too many symbolic links";
  case G_FILE_ERROR_NXIO:
  case G_FILE_ERROR_NODEV: return "not a regular file";
  default: return NULL;
  }
}

const gchar *
m3ret_file_reason (gint err)
{
  const gchar *reason = plain_reason (g_file_error_from_errno (err));
  return reason != NULL ? reason : g_strerror (err);
}

static gboolean
set_read_error (GError **error, gint code, gint err, const gchar *path)
{
  const gchar *reason = plain_reason (code);
  g_set_error (error, G_FILE_ERROR, code, "%s: %s", path,
               reason ? reason : err ? g_strerror (err) : "cannot be read");
  return FALSE;
}

gboolean
m3ret_file_check_readable (const gchar *path, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  GStatBuf st;
  if (*path == '\0')
    return set_read_error (error, G_FILE_ERROR_NOENT, 0, "(empty file name)");
  if (g_stat (path, &st) != 0) {
    gint err = errno;
    return set_read_error (error, g_file_error_from_errno (err), err, path);
  }
  if (S_ISDIR (st.st_mode))
    return set_read_error (error, G_FILE_ERROR_ISDIR, 0, path);
  return TRUE;
}

/* GLib's error of a read, said again the plain way. */
static void
restate (GError *local, const gchar *path, GError **error)
{
  if (local->domain == G_FILE_ERROR && plain_reason (local->code) != NULL)
    set_read_error (error, local->code, 0, path);
  else
    g_set_error (error, G_FILE_ERROR, local->domain == G_FILE_ERROR ? local->code
                                                                     : G_FILE_ERROR_FAILED,
                 "%s: cannot be read", path);
  g_error_free (local);
}

GMappedFile *
m3ret_file_map (const gchar *path, GError **error)
{
  if (!m3ret_file_check_readable (path, error))
    return NULL;
  GError *local = NULL;
  GMappedFile *map = g_mapped_file_new (path, FALSE, &local);
  if (map == NULL)
    restate (local, path, error);
  return map;
}

gboolean
m3ret_file_read_all (const gchar *path, gchar **contents, gsize *length, GError **error)
{
  if (!m3ret_file_check_readable (path, error))
    return FALSE;
  GError *local = NULL;
  if (!g_file_get_contents (path, contents, length, &local)) {
    restate (local, path, error);
    return FALSE;
  }
  return TRUE;
}

M3retAtomicFile *
m3ret_atomic_file_new (const gchar *path, GError **error)
{
  g_return_val_if_fail (path != NULL && *path != '\0', NULL);
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "%s: cannot write: is a folder", path);
    return NULL;
  }
  /* Same folder as the destination, so rename() is atomic (one file system). */
  g_autofree gchar *name = g_strdup_printf (".%s.XXXXXX", base);
  gchar *tmp_path = g_build_filename (dir, name, NULL);
  gint fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0) {
    gint err = errno;
    set_errno_error (error, err, path, "create a temporary file beside it");
    g_free (tmp_path);
    return NULL;
  }
  M3retAtomicFile *file = g_new0 (M3retAtomicFile, 1);
  file->path = g_strdup (path);
  file->tmp_path = tmp_path;
  file->fd = fd;
  file->buffer = g_malloc (BUFFER_SIZE);
  return file;
}

static gboolean
write_all (M3retAtomicFile *file, const guint8 *data, gsize len, GError **error)
{
  while (len > 0) {
    gssize n = write (file->fd, data, MIN (len, (gsize) G_MAXSSIZE));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return set_errno_error (error, errno, file->path, "write");
    }
    data += n;
    len -= (gsize) n;
  }
  return TRUE;
}

static gboolean
flush_buffer (M3retAtomicFile *file, GError **error)
{
  gsize n = file->buffered;
  file->buffered = 0;
  return write_all (file, file->buffer, n, error);
}

gboolean
m3ret_atomic_file_write (M3retAtomicFile *file, gconstpointer data, gsize len, GError **error)
{
  g_return_val_if_fail (file != NULL && (data != NULL || len == 0), FALSE);
  if (len == 0) /* memcpy() may not be handed NULL, even for no bytes */
    return TRUE;
  file->written += len;
  if (file->buffered + len <= BUFFER_SIZE) {
    memcpy (file->buffer + file->buffered, data, len);
    file->buffered += len;
    return TRUE;
  }
  if (!flush_buffer (file, error))
    return FALSE;
  if (len >= BUFFER_SIZE)
    return write_all (file, data, len, error);
  memcpy (file->buffer, data, len);
  file->buffered = len;
  return TRUE;
}

const gchar *
m3ret_atomic_file_get_path (const M3retAtomicFile *file)
{
  g_return_val_if_fail (file != NULL, NULL);
  return file->path;
}

guint64
m3ret_atomic_file_tell (const M3retAtomicFile *file)
{
  g_return_val_if_fail (file != NULL, 0);
  return file->written;
}

static void
atomic_file_free (M3retAtomicFile *file)
{
  if (file->fd >= 0)
    close (file->fd);
  g_free (file->buffer);
  g_free (file->tmp_path);
  g_free (file->path);
  g_free (file);
}

void
m3ret_atomic_file_abort (M3retAtomicFile *file)
{
  if (file == NULL)
    return;
  if (file->fd >= 0) {
    close (file->fd);
    file->fd = -1;
  }
  g_unlink (file->tmp_path);
  atomic_file_free (file);
}

/* The rename is only durable once the folder's entry is on disk too. */
static void
sync_folder (const gchar *path)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  gint fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync (fd);
    close (fd);
  }
}

/* Flushes, fsyncs and closes the temporary; it is then ready to rename. */
static gboolean
finish_temporary (M3retAtomicFile *file, GError **error)
{
  gboolean ok = flush_buffer (file, error);
  if (ok && fsync (file->fd) != 0)
    ok = set_errno_error (error, errno, file->path, "sync to disk");
  if (ok) {
    gint fd = file->fd;
    file->fd = -1;
    if (close (fd) != 0)
      ok = set_errno_error (error, errno, file->path, "close");
  }
  return ok;
}

static gboolean
rename_into_place (M3retAtomicFile *file, GError **error)
{
  if (g_rename (file->tmp_path, file->path) != 0)
    return set_errno_error (error, errno, file->path, "rename the temporary file into place");
  return TRUE;
}

gboolean
m3ret_atomic_file_commit (M3retAtomicFile *file, GError **error)
{
  g_return_val_if_fail (file != NULL, FALSE);
  if (!finish_temporary (file, error) || !rename_into_place (file, error)) {
    m3ret_atomic_file_abort (file);
    return FALSE;
  }
  sync_folder (file->path);
  atomic_file_free (file);
  return TRUE;
}

gboolean
m3ret_atomic_file_commit_pair (M3retAtomicFile *primary, M3retAtomicFile *companion,
                               GError **error)
{
  g_return_val_if_fail (primary != NULL && companion != NULL, FALSE);
  /* Both complete on disk before either destination changes. */
  gboolean ok = finish_temporary (primary, error) && finish_temporary (companion, error);
  /* Then the old primary goes first and comes back last: whenever the
   * primary exists, its companion is the one written with it. */
  if (ok && g_unlink (primary->path) != 0 && errno != ENOENT)
    ok = set_errno_error (error, errno, primary->path, "remove the previous version");
  if (ok) {
    sync_folder (primary->path);
    ok = rename_into_place (companion, error);
  }
  if (ok) {
    sync_folder (companion->path);
    ok = rename_into_place (primary, error);
  }
  if (!ok) {
    m3ret_atomic_file_abort (primary);
    m3ret_atomic_file_abort (companion);
    return FALSE;
  }
  sync_folder (primary->path);
  atomic_file_free (primary);
  atomic_file_free (companion);
  return TRUE;
}

gboolean
m3ret_file_commit_temporary (const gchar *tmp_path, const gchar *path, GError **error)
{
  g_return_val_if_fail (tmp_path != NULL && path != NULL, FALSE);
  gint fd = g_open (tmp_path, O_RDONLY | O_CLOEXEC, 0);
  gboolean ok = fd >= 0 || set_errno_error (error, errno, path, "reopen the temporary file");
  if (ok && fsync (fd) != 0)
    ok = set_errno_error (error, errno, path, "sync to disk");
  if (fd >= 0)
    close (fd);
  if (ok && g_rename (tmp_path, path) != 0)
    ok = set_errno_error (error, errno, path, "rename the temporary file into place");
  if (!ok) {
    g_unlink (tmp_path);
    return FALSE;
  }
  sync_folder (path);
  return TRUE;
}

/* m3ret_atomic_file_new()'s temporaries: ".BASE." then six letters or digits. */
static gboolean
is_temporary_of (const gchar *name, const gchar *base)
{
  gsize n = strlen (base);
  if (name[0] != '.' || strncmp (name + 1, base, n) != 0 || name[n + 1] != '.')
    return FALSE;
  const gchar *tail = name + n + 2;
  if (strlen (tail) != 6)
    return FALSE;
  for (gint i = 0; i < 6; i++)
    if (!g_ascii_isalnum (tail[i]))
      return FALSE;
  return TRUE;
}

guint
m3ret_atomic_file_remove_stale (const gchar *path)
{
  g_return_val_if_fail (path != NULL, 0);
  g_autofree gchar *dir_path = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  guint removed = 0;
  const gchar *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    if (!is_temporary_of (name, base))
      continue;
    g_autofree gchar *stale = g_build_filename (dir_path, name, NULL);
    if (g_unlink (stale) == 0)
      removed++;
  }
  return removed;
}

gboolean
m3ret_file_write_atomic (const gchar *path, gconstpointer data, gssize len, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  gsize n = len < 0 ? strlen (data) : (gsize) len;
  M3retAtomicFile *file = m3ret_atomic_file_new (path, error);
  if (file == NULL)
    return FALSE;
  if (!m3ret_atomic_file_write (file, data, n, error)) {
    m3ret_atomic_file_abort (file);
    return FALSE;
  }
  return m3ret_atomic_file_commit (file, error);
}

/* Slicing-by-8 CRC-32: eight tables so the loop consumes 8 bytes a step. */
static guint32 crc_tables[8][256];

static void
crc_init_tables (void)
{
  for (guint32 i = 0; i < 256; i++) {
    guint32 c = i;
    for (gint j = 0; j < 8; j++)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_tables[0][i] = c;
  }
  for (guint32 i = 0; i < 256; i++)
    for (gint t = 1; t < 8; t++)
      crc_tables[t][i] = (crc_tables[t - 1][i] >> 8) ^ crc_tables[0][crc_tables[t - 1][i] & 0xff];
}

guint32
m3ret_crc32_update (guint32 crc, gconstpointer data, gsize len)
{
  static gsize tables_ready = 0;
  if (g_once_init_enter (&tables_ready)) {
    crc_init_tables ();
    g_once_init_leave (&tables_ready, 1);
  }
  const guint8 *p = data;
  guint32 c = ~crc;
  while (len >= 8) {
    guint32 lo = c ^ ((guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 |
                      (guint32) p[3] << 24);
    c = crc_tables[7][lo & 0xff] ^ crc_tables[6][(lo >> 8) & 0xff] ^
        crc_tables[5][(lo >> 16) & 0xff] ^ crc_tables[4][lo >> 24] ^ crc_tables[3][p[4]] ^
        crc_tables[2][p[5]] ^ crc_tables[1][p[6]] ^ crc_tables[0][p[7]];
    p += 8;
    len -= 8;
  }
  while (len-- > 0)
    c = crc_tables[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}
