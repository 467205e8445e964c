/*
 * A block allocator for the copy of libseccomp that a static build links
 * into an extension.
 *
 * Why: libseccomp makes hundreds of small allocations to build a filter
 * and to generate its BPF.  In a child forked from a Python process, glibc
 * serves them from the free lists of the parent's large, fragmented heap.
 * Nearly every allocation then writes to a different page that the child
 * still shares with its parent, and each first write to such a page is a
 * copy-on-write page fault.  Blocks of the regions below lie close
 * together, so the same allocations touch far fewer pages.
 *
 * How: setup.py links a static build with --wrap for malloc, calloc,
 * realloc and free.  Every call to them from libseccomp and from the
 * extension's own C code then comes here.  Requests up to
 * SCX_HEAP_MAX_BLOCK bytes get a block of one of the size classes below,
 * cut from 64 KiB runs of 1 MiB regions.  Larger requests, and every
 * request once no region can be mapped, go to the C library.  free() and
 * realloc() tell the two kinds of block apart by address, so memory that
 * the C library allocated (strdup() inside libseccomp, for one) is freed
 * by the C library.
 *
 * Freed blocks go back to their class's free list, and runs stay with
 * their class: nothing is returned to the system.  Each class therefore
 * keeps the most memory its blocks ever used at once, and all classes
 * together keep at most MAX_REGIONS regions.  One mutex guards the state,
 * and fork handlers hold it across fork() so that a child never inherits
 * it locked.
 *
 * malloc has no context argument, so this state is process-wide, like the
 * C library's heap.  It is the extension's one mutable global.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
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

#define REGION_SIZE ((size_t)1 << 20)
#define RUN_SIZE ((size_t)64 << 10)
#define RUNS_PER_REGION (REGION_SIZE / RUN_SIZE)
/* 64 regions are 64 MiB.  Building and exporting one filter of a thousand
 * rules, 750 of them with a comparison, mapped four (libseccomp 2.5.4). */
#define MAX_REGIONS 64
#define NO_CLASS 0xff

/* Block sizes: multiples of 16, so that every block is aligned as malloc's
 * are on x86-64 and aarch64, and above 1 KiB at most 25% apart.  A run
 * holds blocks of one size only. */
static const uint32_t class_size[] = {
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256,
    320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
    5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384,
    20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
};
#define NCLASSES (sizeof(class_size) / sizeof(class_size[0]))

typedef struct free_block {
    struct free_block *next;
} free_block;

typedef struct {
    free_block *free_list;
    char *next;                 /* first unused byte of the class's run */
    char *end;                  /* end of that run; a tail shorter than
                                 * one block stays unused */
} size_class;

typedef struct {
    char *base;                 /* aligned to REGION_SIZE */
    uint8_t run_class[RUNS_PER_REGION];
} region;

static struct {
    pthread_mutex_t lock;
    /* Written under the lock, read without it by block_class(). */
    size_t nregions;
    size_t used_runs;           /* runs handed out in the last region */
    region regions[MAX_REGIONS];
    size_class classes[NCLASSES];
    int map_failed;             /* mmap failed once: map no more regions */
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

/* Register the fork handlers when the extension is loaded.  Without them,
 * a fork() while another thread allocates would leave the child's lock
 * held forever.  Registering them from the first malloc instead would
 * leave a window in which a fork in another thread does the same, since
 * musl, unlike glibc, does not reset a pthread_once() in progress in the
 * child.  If registering fails, that risk remains, as it does for any
 * library that allocates. */
__attribute__((constructor)) static void
register_fork_handlers(void)
{
    pthread_atfork(lock_heap, unlock_heap, unlock_heap);
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

/* Map a region aligned to its size, or return NULL. */
static char *
map_region(void)
{
    char *raw, *aligned;
    size_t head;

    raw = mmap(NULL, 2 * REGION_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    aligned = (char *)(((uintptr_t)raw + REGION_SIZE - 1)
                       & ~(uintptr_t)(REGION_SIZE - 1));
    head = (size_t)(aligned - raw);
    if (head)
        munmap(raw, head);
    munmap(aligned + REGION_SIZE, REGION_SIZE - head);
    return aligned;
}

/* With the lock held: give class `index` a fresh run.  Returns 0, or -1
 * when no region is left or can be mapped. */
static int
add_run(size_t index)
{
    region *last = heap.nregions ? &heap.regions[heap.nregions - 1] : NULL;
    size_class *class = &heap.classes[index];

    if (last == NULL || heap.used_runs == RUNS_PER_REGION) {
        char *base = NULL;

        /* After one failed mmap, every later request would retry it under
         * the lock and fail again, so the C library serves them all. */
        if (heap.nregions < MAX_REGIONS && !heap.map_failed) {
            base = map_region();
            heap.map_failed = base == NULL;
        }
        if (base == NULL)
            return -1;
        last = &heap.regions[heap.nregions];
        last->base = base;
        memset(last->run_class, NO_CLASS, sizeof(last->run_class));
        heap.used_runs = 0;
        /* Publish the region only once its entry is complete. */
        __atomic_store_n(&heap.nregions, heap.nregions + 1, __ATOMIC_RELEASE);
        heap.stats.regions++;
    }
    last->run_class[heap.used_runs] = (uint8_t)index;
    class->next = last->base + heap.used_runs * RUN_SIZE;
    class->end = class->next + RUN_SIZE;
    heap.used_runs++;
    return 0;
}

/* Return a block of class `index`, or NULL when no region is left. */
static void *
take_block(size_t index)
{
    size_class *class = &heap.classes[index];
    void *block = NULL;

    lock_heap();
    if (class->free_list != NULL) {
        block = class->free_list;
        class->free_list = class->free_list->next;
    }
    else if ((size_t)(class->end - class->next) >= class_size[index]
             || add_run(index) == 0) {
        block = class->next;
        class->next += class_size[index];
    }
    if (block != NULL) {
        heap.stats.blocks++;
        heap.stats.bytes += class_size[index];
    }
    else {
        heap.stats.fallbacks++;
    }
    unlock_heap();
    return block;
}

/* Return the class of a block of ours, or NO_CLASS for the C library's. */
static unsigned int
block_class(const void *block)
{
    uintptr_t address = (uintptr_t)block;
    size_t i, count;

    /* Regions are only ever added, each published after its entry is
     * written, and a region's runs are assigned before any of its blocks
     * is handed out.  So an unlocked read finds the region and run of any
     * block that this process got from here. */
    count = __atomic_load_n(&heap.nregions, __ATOMIC_ACQUIRE);
    for (i = 0; i < count; i++) {
        uintptr_t base = (uintptr_t)heap.regions[i].base;

        if (address - base < REGION_SIZE)
            return heap.regions[i].run_class[(address - base) / RUN_SIZE];
    }
    return NO_CLASS;
}

void *
__wrap_malloc(size_t size)
{
    void *block;

    if (size > SCX_HEAP_MAX_BLOCK)
        return __real_malloc(size);
    block = take_block(class_of(size));
    return block != NULL ? block : __real_malloc(size);
}

void *
__wrap_calloc(size_t count, size_t size)
{
    size_t total;
    void *block;

    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > SCX_HEAP_MAX_BLOCK)
        return __real_calloc(count, size);
    block = __wrap_malloc(total);
    /* Blocks are reused, so even a block from a fresh run is cleared. */
    if (block != NULL)
        memset(block, 0, total);
    return block;
}

void
__wrap_free(void *block)
{
    unsigned int index;

    if (block == NULL)
        return;
    index = block_class(block);
    if (index == NO_CLASS) {
        __real_free(block);
        return;
    }
    lock_heap();
    ((free_block *)block)->next = heap.classes[index].free_list;
    heap.classes[index].free_list = block;
    heap.stats.blocks--;
    heap.stats.bytes -= class_size[index];
    unlock_heap();
}

void *
__wrap_realloc(void *block, size_t size)
{
    unsigned int index;
    void *moved;

    if (block == NULL)
        return __wrap_malloc(size);
    index = block_class(block);
    if (index == NO_CLASS)
        return __real_realloc(block, size);
    if (size == 0) {
        /* As glibc does: free the block and return NULL.  musl's realloc
         * returns a block here, but neither libseccomp 2.5 nor the
         * extension requests 0 bytes. */
        __wrap_free(block);
        return NULL;
    }
    if (size <= class_size[index])
        return block;
    moved = __wrap_malloc(size);
    if (moved == NULL)
        return NULL;
    memcpy(moved, block, class_size[index]);
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
