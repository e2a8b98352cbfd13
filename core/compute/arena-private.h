/* arena-private.h — per-step device memory, released in one call.
 *
 * A bump allocator over blocks of backend memory.  When a step needs more
 * than the current block, another block is added; at reset, several blocks
 * are replaced by one of their total size, so from then on every step
 * fits in a single block and nothing is allocated.
 */
#ifndef M3RET_ARENA_PRIVATE_H
#define M3RET_ARENA_PRIVATE_H

#include "m3ret-device.h"

G_BEGIN_DECLS

typedef struct _Arena Arena;

Arena *arena_new (M3retDevice *device, gsize first_block);
void arena_free (Arena *arena);
/* (transfer none) 64-byte aligned, or NULL with @error */
gpointer arena_alloc (Arena *arena, gsize nbytes, GError **error);
void arena_reset (Arena *arena);

/* A point in the step's allocations to come back to. */
typedef struct {
  guint block;
  gsize offset, used;
} ArenaMark;

ArenaMark arena_mark (const Arena *arena);
/* Everything allocated after @mark is dead: its memory serves the next
 * allocations (when a block was added since, only the accounting goes
 * back, so that the merged block at reset is sized for the rewound step). */
void arena_rewind (Arena *arena, const ArenaMark *mark);
gsize arena_get_reserved (const Arena *arena);
gsize arena_get_peak (const Arena *arena);

G_END_DECLS

#endif
