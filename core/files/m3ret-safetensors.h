/* m3ret-safetensors.h — reading and writing .safetensors files.
 *
 * The format of Hugging Face's safetensors: an 8-byte little-endian header
 * length, a JSON header mapping tensor names to {dtype, shape,
 * data_offsets} plus an optional "__metadata__" string map, then the raw
 * little-endian data.  m3ret writes float32 only; it reads F32, F16 and
 * BF16 (released ViT weights) and converts them to float32.
 */
#ifndef M3RET_SAFETENSORS_H
#define M3RET_SAFETENSORS_H

#include <glib.h>

G_BEGIN_DECLS

#define M3RET_SAFETENSORS_MAX_DIMS 8

typedef struct _M3retSafetensorsWriter M3retSafetensorsWriter;
typedef struct _M3retSafetensors M3retSafetensors;

/* Returns: (transfer full) an empty writer. */
M3retSafetensorsWriter *m3ret_safetensors_writer_new (void);
void m3ret_safetensors_writer_free (M3retSafetensorsWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retSafetensorsWriter, m3ret_safetensors_writer_free)

/* Adds a float32 tensor; @data is copied. Names must be unique. */
void m3ret_safetensors_writer_add (M3retSafetensorsWriter *writer, const gchar *name,
                                   const gint64 *shape, guint n_dims, const gfloat *data);
void m3ret_safetensors_writer_set_metadata (M3retSafetensorsWriter *writer, const gchar *key,
                                            const gchar *value);
/* Writes @path atomically (temporary, fsync, rename). Tensors are stored in
 * name order, as the reference implementation does. */
gboolean m3ret_safetensors_writer_write (M3retSafetensorsWriter *writer, const gchar *path,
                                         GError **error);

/* Returns: (transfer full) the file, mapped and with its header checked
 * (offsets in bounds, contiguous, sizes matching dtype × shape), or NULL
 * with @error (M3RET_FORMAT_ERROR or G_FILE_ERROR) naming @path. */
M3retSafetensors *m3ret_safetensors_open (const gchar *path, GError **error);
void m3ret_safetensors_close (M3retSafetensors *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retSafetensors, m3ret_safetensors_close)

/* (transfer none) tensor names, in file order. */
const GPtrArray *m3ret_safetensors_names (const M3retSafetensors *file);
/* (transfer none) a metadata value, or NULL. */
const gchar *m3ret_safetensors_get_metadata (const M3retSafetensors *file, const gchar *key);
/* Shape of @name: returns FALSE if there is no such tensor. */
gboolean m3ret_safetensors_get_shape (const M3retSafetensors *file, const gchar *name,
                                      gint64 *shape, guint *n_dims);
/* Returns: (transfer full) the values of @name as float32 (g_free), or NULL
 * with @error when missing, or when its element count is not @n_expected
 * (pass 0 to accept any). */
gfloat *m3ret_safetensors_read (const M3retSafetensors *file, const gchar *name, gsize n_expected,
                                GError **error);

G_END_DECLS

#endif /* M3RET_SAFETENSORS_H */
