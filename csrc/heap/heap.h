/*
 * The block allocator that a static build gives its copy of libseccomp.
 * heap.c explains why and how.
 */
#ifndef SECCOMPX_HEAP_H
#define SECCOMPX_HEAP_H

#include <stddef.h>

/* Largest request that the allocator serves itself.  Larger ones go to
 * the C library. */
#define SCX_HEAP_MAX_BLOCK ((size_t)64 << 10)

typedef struct {
    size_t blocks;              /* blocks handed out and not freed */
    size_t bytes;               /* their size, rounded up to the class */
    size_t regions;             /* 1 MiB slabs claimed by this process
                                 * and, before it forked, its ancestors */
    size_t fallbacks;           /* requests up to SCX_HEAP_MAX_BLOCK that
                                 * went to the C library because no slab
                                 * was left or none could be reserved */
} scx_heap_stats;

/* Copy the allocator's counters into `stats`. */
void scx_heap_get_stats(scx_heap_stats *stats);

#endif
