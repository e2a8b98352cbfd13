/* arena.c — bump allocation over backend blocks; see arena-private.h. */
#include "config.h"

#include "arena-private.h"

#define ALIGN 64

struct _Arena {
  M3retDevice *device;
  GPtrArray *blocks;  /* device memory */
  GArray *sizes;      /* gsize per block */
  gsize offset;       /* in the last block */
  gsize next_block;   /* size of the next block to allocate */
  gsize used;         /* this step */
  gsize peak;
  gsize reserved;
};

Arena *
arena_new (M3retDevice *device, gsize first_block)
{
  Arena *arena = g_new0 (Arena, 1);
  arena->device = device;
  arena->blocks = g_ptr_array_new ();
  arena->sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  arena->next_block = MAX (first_block, (gsize) 1 << 20);
  return arena;
}

static void
release_blocks (Arena *arena)
{
  for (guint i = 0; i < arena->blocks->len; i++)
    m3ret_device_free_mem (arena->device, arena->blocks->pdata[i]);
  g_ptr_array_set_size (arena->blocks, 0);
  g_array_set_size (arena->sizes, 0);
  arena->reserved = 0;
  arena->offset = 0;
}

void
arena_free (Arena *arena)
{
  if (arena == NULL)
    return;
  release_blocks (arena);
  g_ptr_array_unref (arena->blocks);
  g_array_unref (arena->sizes);
  g_free (arena);
}

gpointer
arena_alloc (Arena *arena, gsize nbytes, GError **error)
{
  nbytes = (MAX (nbytes, 1) + ALIGN - 1) & ~(gsize) (ALIGN - 1);
  guint n = arena->blocks->len;
  if (n == 0 || arena->offset + nbytes > g_array_index (arena->sizes, gsize, n - 1)) {
    gsize size = MAX (arena->next_block, nbytes);
    gpointer block = m3ret_device_alloc (arena->device, size, error);
    if (block == NULL)
      return NULL;
    g_ptr_array_add (arena->blocks, block);
    g_array_append_val (arena->sizes, size);
    arena->reserved += size;
    arena->offset = 0;
    /* grow geometrically so a first step needs few blocks */
    arena->next_block = size * 2;
  }
  gpointer p = (guint8 *) arena->blocks->pdata[arena->blocks->len - 1] + arena->offset;
  arena->offset += nbytes;
  arena->used += nbytes;
  arena->peak = MAX (arena->peak, arena->used);
  return p;
}

void
arena_reset (Arena *arena)
{
  if (arena->blocks->len > 1) {
    /* merge: one block holding the largest step seen, with a little room */
    gsize size = arena->peak + arena->peak / 16;
    release_blocks (arena);
    arena->next_block = size;
  }
  arena->offset = 0;
  arena->used = 0;
}

ArenaMark
arena_mark (const Arena *arena)
{
  ArenaMark m = { arena->blocks->len, arena->offset, arena->used };
  return m;
}

void
arena_rewind (Arena *arena, const ArenaMark *mark)
{
  if (arena->blocks->len == mark->block)
    arena->offset = mark->offset;
  arena->used = mark->used;
}

gsize
arena_get_reserved (const Arena *arena)
{
  return arena->reserved;
}

gsize
arena_get_peak (const Arena *arena)
{
  return arena->peak;
}
