/*
 * A block allocator for the copy of libseccomp that a static build links
 * into an extension.
 *
 * Why: libseccomp makes hundreds of small allocations to build a filter
 * and to generate its BPF, and filters are usually built in a process
 * freshly forked from a larger one.  Such a child shares its parent's
 * pages copy-on-write, and its first write to each page costs a page
 * fault.  Measured on a 2-vCPU x86-64 VM under Linux 6.18, that is about
 * 1.4 us, as long as libseccomp needs to add several rules, and a freshly
 * zeroed page costs the same.  So what matters is how many distinct pages the child writes.
 * With glibc's malloc, libseccomp's blocks come from the free lists of the
 * parent's large, fragmented heap, and nearly every one lies on a
 * different page.
 *
 * How: setup.py links a static build with --wrap for malloc, calloc,
 * realloc and free.  Every call to them from libseccomp and from the
 * extension's own C code then comes here.
 *
 * - Blocks of every size class are cut one after another from the current
 *   slab, each behind a 16-byte header that names its class.  The blocks
 *   of one filter therefore lie densely together.
 * - Slabs are 1 MiB pieces of one address range that is reserved on first
 *   use and never written until a slab is claimed.  Processes claim slabs
 *   in index order, and a forked child inherits the counter.  A slab at or
 *   above the counter is therefore untouched in this process and in every
 *   ancestor, so its memory reads as zero and writing it copies nothing.
 * - A forked child drops the free lists and the current slab that it
 *   inherited, so that its blocks come from a slab of its own rather than
 *   from pages scattered over its parent's.
 *
 * Requests above SCX_HEAP_MAX_BLOCK, and every request once the slabs are
 * used up or cannot be reserved, go to the C library.  free() and
 * realloc() tell the two kinds of block apart by address, so memory that
 * the C library allocated (strdup() inside libseccomp, for one) is freed
 * by the C library.  Freed blocks go to their class's free list, and
 * nothing is returned to the system.
 *
 * One mutex guards the state, and fork handlers hold it across fork() so
 * that a child never inherits it locked.  malloc has no context argument,
 * so this state is process-wide, like the C library's heap.  It is the
 * extension's one mutable global.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "heap.h"

/* The C library's functions, and their replacements, as --wrap names
 * them. */
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *block, size_t size);
void __real_free(void *block);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *block, size_t size);
void __wrap_free(void *block);

#define SLAB_SIZE ((size_t)1 << 20)
/* 64 slabs are 64 MiB of address space, of which only the claimed slabs'
 * touched pages use memory.  Building and exporting one filter of a
 * thousand rules, 750 of them with a comparison, claims two (libseccomp
 * 2.5.4). */
#define MAX_SLABS 64
#define HEADER_SIZE ((size_t)16)
#define HEADER_MAGIC 0x5ecc0b1cU

/* Block sizes: multiples of 16, so that every block is aligned as malloc's
 * are on x86-64 and aarch64, and above 1 KiB at most 25% apart. */
static const uint32_t class_size[] = {
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256,
    320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
    5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384,
    20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
};
#define NCLASSES (sizeof(class_size) / sizeof(class_size[0]))

/* The 16 bytes in front of each block of the allocator.  The magic number
 * and the in_use flag let free() detect a pointer it never handed out and
 * a block freed twice, which would otherwise corrupt the free lists. */
typedef struct {
    uint32_t magic;
    uint16_t class_index;
    uint16_t in_use;
    uint64_t unused;
} block_header;

typedef struct free_block {
    struct free_block *next;
} free_block;

static struct {
    pthread_mutex_t lock;
    /* The reserved range, written once under the lock before it is
     * published through `end`.  owned() reads both without the lock. */
    char *base;
    char *end;
    int reserve_failed;         /* mmap failed once, so reserve no more */
    size_t next_slab;           /* index of the first unclaimed slab */
    char *next;                 /* first unused byte of the current slab */
    char *limit;                /* end of the current slab */
    free_block *free_lists[NCLASSES];
    scx_heap_stats stats;
} heap = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void
lock_heap(void)
{
    pthread_mutex_lock(&heap.lock);
}

static void
unlock_heap(void)
{
    pthread_mutex_unlock(&heap.lock);
}

/* In a forked child: drop the inherited free lists and current slab, so
 * that the child's blocks come from a slab that no process has written.
 * The blocks on the dropped lists stay unused in the child, and they are
 * at most what was free in the parent at the fork. */
static void
start_child_heap(void)
{
    memset(heap.free_lists, 0, sizeof(heap.free_lists));
    heap.next = NULL;
    heap.limit = NULL;
    unlock_heap();
}

/* Register the fork handlers when the extension is loaded.  Without them,
 * a fork() while another thread allocates would leave the child's lock
 * held forever.  Registering them from the first malloc instead would
 * leave a window in which a fork in another thread does the same, since
 * musl, unlike glibc, does not reset a pthread_once() in progress in the
 * child.  If registering fails, that risk remains, as it does for any
 * library that allocates, and a child reuses its parent's free blocks. */
__attribute__((constructor)) static void
register_fork_handlers(void)
{
    pthread_atfork(lock_heap, unlock_heap, start_child_heap);
}

/* Return the smallest class that fits `size` bytes, for a size of at most
 * SCX_HEAP_MAX_BLOCK.  Up to 128 bytes the classes are 16 bytes apart.
 * Above, each range (2^k, 2^(k+1)] has four classes, 2^(k-2) apart. */
static size_t
class_of(size_t size)
{
    size_t rest, k;

    if (size <= 128)
        return size ? (size - 1) / 16 : 0;
    rest = size - 1;
    k = (size_t)(8 * sizeof(unsigned long) - 1)
        - (size_t)__builtin_clzl((unsigned long)rest);
    return 8 + (k - 7) * 4 + ((rest >> (k - 2)) & 3);
}

/* With the lock held: make the next unclaimed slab the current one.
 * Returns 0, or -1 when every slab is claimed or none can be reserved. */
static int
claim_slab(void)
{
    if (heap.end == NULL) {
        char *base;

        /* After one failed mmap, every later request would retry it under
         * the lock and fail again, so the C library serves them all. */
        if (heap.reserve_failed)
            return -1;
        base = mmap(NULL, MAX_SLABS * SLAB_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED) {
            heap.reserve_failed = 1;
            return -1;
        }
        heap.base = base;
        /* Publish the range only once `base` is set. */
        __atomic_store_n(&heap.end, base + MAX_SLABS * SLAB_SIZE,
                         __ATOMIC_RELEASE);
    }
    if (heap.next_slab == MAX_SLABS)
        return -1;
    heap.next = heap.base + heap.next_slab * SLAB_SIZE;
    heap.limit = heap.next + SLAB_SIZE;
    heap.next_slab++;
    heap.stats.regions = heap.next_slab;
    return 0;
}

/* Return whether `block` lies in the reserved range, and so came from
 * here.  The range is published before any of its blocks is handed out,
 * so an unlocked read finds it for every block of this process. */
static int
owned(const void *block)
{
    const char *end = __atomic_load_n(&heap.end, __ATOMIC_ACQUIRE);

    return end != NULL && (const char *)block >= heap.base
           && (const char *)block < end;
}

static block_header *
header_of(void *block)
{
    return (block_header *)((char *)block - HEADER_SIZE);
}

/* Return the header of a block of ours that is in use, or abort.  Any
 * other header means a bad pointer or a second free, and going on would
 * corrupt the heap, so glibc's malloc aborts in that case too.  A pointer
 * too close to the start of the range for a header, or not aligned as
 * blocks are, is bad without reading anything. */
static block_header *
checked_header(void *block)
{
    block_header *header;

    if ((char *)block < heap.base + HEADER_SIZE
        || (uintptr_t)block % HEADER_SIZE != 0)
        abort();
    header = header_of(block);
    if (header->magic != HEADER_MAGIC || header->class_index >= NCLASSES
        || !header->in_use)
        abort();
    return header;
}

/* Return a block of class `index`, or NULL when no slab is left.  Sets
 * *zeroed when the block comes fresh from a slab, whose memory is zero. */
static void *
take_block(size_t index, int *zeroed)
{
    size_t needed = HEADER_SIZE + class_size[index];
    block_header *header = NULL;
    free_block *reused;

    *zeroed = 0;
    lock_heap();
    reused = heap.free_lists[index];
    if (reused != NULL) {
        heap.free_lists[index] = reused->next;
        header = header_of(reused);
    }
    else if ((size_t)(heap.limit - heap.next) >= needed
             || claim_slab() == 0) {
        header = (block_header *)heap.next;
        heap.next += needed;
        header->magic = HEADER_MAGIC;
        header->class_index = (uint16_t)index;
        *zeroed = 1;
    }
    if (header != NULL) {
        header->in_use = 1;
        heap.stats.blocks++;
        heap.stats.bytes += class_size[index];
    }
    else {
        heap.stats.fallbacks++;
    }
    unlock_heap();
    return header != NULL ? (char *)header + HEADER_SIZE : NULL;
}

void *
__wrap_malloc(size_t size)
{
    void *block;
    int zeroed;

    if (size > SCX_HEAP_MAX_BLOCK)
        return __real_malloc(size);
    block = take_block(class_of(size), &zeroed);
    return block != NULL ? block : __real_malloc(size);
}

void *
__wrap_calloc(size_t count, size_t size)
{
    size_t total;
    void *block;
    int zeroed;

    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > SCX_HEAP_MAX_BLOCK)
        return __real_calloc(count, size);
    block = take_block(class_of(total), &zeroed);
    if (block == NULL)
        return __real_calloc(count, size);
    /* A block from the free lists was used before.  A fresh one is zero,
     * and clearing it anyway would only cost time. */
    if (!zeroed)
        memset(block, 0, total);
    return block;
}

void
__wrap_free(void *block)
{
    block_header *header;

    if (block == NULL)
        return;
    if (!owned(block)) {
        __real_free(block);
        return;
    }
    lock_heap();
    header = checked_header(block);
    header->in_use = 0;
    ((free_block *)block)->next = heap.free_lists[header->class_index];
    heap.free_lists[header->class_index] = block;
    heap.stats.blocks--;
    heap.stats.bytes -= class_size[header->class_index];
    unlock_heap();
}

/* With the lock held: grow `header`'s block to class `index` in place,
 * when it is the last block cut from the current slab, the slab has room
 * and class `index` has no free block.  Returns whether it did.  The
 * bytes it takes over were never handed out.  gen_bpf_generate() grows
 * its program this way.  A free block of the larger class is used
 * instead when there is one.  Each block grown in place leaves its small
 * class short by one, so building filters in a loop would otherwise keep
 * cutting fresh blocks of that class from new slabs. */
static int
grow_in_place(block_header *header, size_t index)
{
    char *block_end = (char *)header + HEADER_SIZE
                      + class_size[header->class_index];
    size_t extra = class_size[index] - class_size[header->class_index];

    if (heap.free_lists[index] != NULL || block_end != heap.next
        || (size_t)(heap.limit - heap.next) < extra)
        return 0;
    heap.next += extra;
    heap.stats.bytes += extra;
    header->class_index = (uint16_t)index;
    return 1;
}

void *
__wrap_realloc(void *block, size_t size)
{
    block_header *header;
    size_t old_size;
    int grown = 0;
    void *moved;

    if (block == NULL)
        return __wrap_malloc(size);
    if (!owned(block))
        return __real_realloc(block, size);
    if (size == 0) {
        /* As glibc does: free the block and return NULL.  musl's realloc
         * returns a block here, but neither libseccomp 2.5 nor the
         * extension requests 0 bytes. */
        __wrap_free(block);
        return NULL;
    }
    lock_heap();
    header = checked_header(block);
    old_size = class_size[header->class_index];
    if (size <= SCX_HEAP_MAX_BLOCK && size > old_size)
        grown = grow_in_place(header, class_of(size));
    unlock_heap();
    if (size <= old_size || grown)
        return block;
    moved = __wrap_malloc(size);
    if (moved == NULL)
        return NULL;
    memcpy(moved, block, old_size);
    __wrap_free(block);
    return moved;
}

void
scx_heap_get_stats(scx_heap_stats *stats)
{
    lock_heap();
    *stats = heap.stats;
    unlock_heap();
}
