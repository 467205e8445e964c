/*
 * Checks of the block allocator in csrc/heap/heap.c.
 *
 * tests/test_heap.py compiles this file together with heap.c and links it
 * with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free, as a
 * static build links the extensions.  Every malloc, calloc, realloc and
 * free call in this file then reaches the allocator.  Calls made inside
 * the C library, such as the one in strdup(), are not wrapped, so those
 * blocks come from the C library's heap.
 *
 * The program exits 0 when every check passes.  A failed check prints the
 * section, its line, its condition and the values involved on stderr and
 * exits 1.  It also exits 1 when a forked child fails or does not exit in
 * time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heap/heap.h"

#define MIB ((size_t)1 << 20)
#define ALIGNMENT 16

/* Sizes tested one by one from 0, then around boundaries up to this. */
#define ALL_SIZES_UP_TO 1100
#define MAX_TESTED_SIZE (SCX_HEAP_MAX_BLOCK + 1024)
#define MAX_SIZES 2048

#define THREADS 4
#define THREAD_STEPS 20000
#define OWN_SLOTS 64
#define SHARED_SLOTS 32

#define FORKS 16
#define FORK_THREADS 3
/* Random sizes go up to this many bytes above SCX_HEAP_MAX_BLOCK, so some
 * of them reach the C library's malloc. */
#define LARGE_EXTRA 8192
/* The AddressSanitizer runtime of GCC 12.2 does not hold its allocator's
 * locks across fork() (LLVM's runtime does since December 2023).  So a
 * child deadlocks if another thread was inside the sanitizer's malloc at
 * the fork, and under it the threads of the fork test request only sizes
 * that heap.c serves itself.  glibc's malloc is safe across fork(). */
#ifdef __SANITIZE_ADDRESS__
#define FORK_WORKER_LARGE_EXTRA 0
#else
#define FORK_WORKER_LARGE_EXTRA LARGE_EXTRA
#endif
#define CHILD_ITEMS 200
#define FORK_CHURN 64
/* A child needs milliseconds, or a few seconds when built with
 * AddressSanitizer.  One that runs this long is deadlocked. */
#ifdef __SANITIZE_ADDRESS__
#define CHILD_TIMEOUT_SECONDS 60
#else
#define CHILD_TIMEOUT_SECONDS 10
#endif

/* 8192 blocks of 64 KiB are 512 MiB, far more than the 64 MiB of regions
 * that heap.c maps at most. */
#define MAX_EXHAUSTION_BLOCKS 8192

/* The test running now, for failure messages.  Set by the main thread
 * only, before it starts any thread or child. */
static const char *section = "start";

static void
fail(int line, const char *check, const char *format, ...)
{
    va_list args;

    fprintf(stderr, "heap_test: %s: line %d: check failed: %s: ", section,
            line, check);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    /* _exit, because a failure can happen in a worker thread or a forked
     * child, where running exit handlers is not safe. */
    _exit(1);
}

#define CHECK(condition, ...)                                   \
    do {                                                        \
        if (!(condition))                                       \
            fail(__LINE__, #condition, __VA_ARGS__);            \
    } while (0)

/* Make the compiler assume that `block` escapes and that its memory is
 * read and written here.  Without this, GCC may drop stores to a block
 * that is freed next, or assume that memory from calloc() reads as zero,
 * and the checks would test nothing. */
static void
escape(const void *block)
{
    __asm__ __volatile__("" : : "r"(block) : "memory");
}

static scx_heap_stats
heap_stats(void)
{
    scx_heap_stats stats;

    scx_heap_get_stats(&stats);
    return stats;
}

/* Check that the live blocks and bytes are back at `start`. */
static void
check_all_freed(scx_heap_stats start, int line)
{
    scx_heap_stats now = heap_stats();

    if (now.blocks != start.blocks)
        fail(line, "blocks returned to the start", "%zu live blocks, "
             "expected %zu", now.blocks, start.blocks);
    if (now.bytes != start.bytes)
        fail(line, "bytes returned to the start", "%zu live bytes, "
             "expected %zu", now.bytes, start.bytes);
}

/* The byte that fill() writes at `offset` of a block with `seed`.  It is
 * not periodic, so a copy to the wrong offset shows up as a mismatch. */
static unsigned char
pattern_byte(unsigned int seed, size_t offset)
{
    return (unsigned char)(seed * 131u + offset * 7u + (offset >> 8));
}

static void
fill(void *block, size_t size, unsigned int seed)
{
    unsigned char *bytes = block;
    size_t i;

    for (i = 0; i < size; i++)
        bytes[i] = pattern_byte(seed, i);
    escape(block);
}

/* Return the first offset below `size` that differs from the pattern of
 * `seed`, or `size` when all match. */
static size_t
find_mismatch(const void *block, size_t size, unsigned int seed)
{
    const unsigned char *bytes = block;
    size_t i;

    escape(block);
    for (i = 0; i < size; i++) {
        if (bytes[i] != pattern_byte(seed, i))
            return i;
    }
    return size;
}

static size_t
find_nonzero(const void *block, size_t size)
{
    const unsigned char *bytes = block;
    size_t i;

    escape(block);
    for (i = 0; i < size; i++) {
        if (bytes[i] != 0)
            return i;
    }
    return size;
}

static int
is_aligned(const void *block)
{
    return (uintptr_t)block % ALIGNMENT == 0;
}

/* xorshift64: cheap, and each thread keeps its own state. */
static uint64_t
next_random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* Malloc sizes ------------------------------------------------------------
 *
 * Every size from 0 to ALL_SIZES_UP_TO, then one below, at and above every
 * multiple of 256 up to 8 KiB and of 1 KiB up to MAX_TESTED_SIZE.  That
 * covers every class boundary of heap.c and the switch to the C library
 * above SCX_HEAP_MAX_BLOCK.
 */

typedef struct {
    unsigned char *block;
    size_t size;
} allocation;

static size_t
list_sizes(size_t *sizes)
{
    size_t count = 0, size;

    for (size = 0; size <= ALL_SIZES_UP_TO; size++)
        sizes[count++] = size;
    for (size = 1280; size <= MAX_TESTED_SIZE;
         size += size < 8192 ? 256 : 1024) {
        sizes[count++] = size - 1;
        sizes[count++] = size;
        sizes[count++] = size + 1;
    }
    CHECK(count <= MAX_SIZES, "%zu sizes overflow the array of %d",
          count, MAX_SIZES);
    return count;
}

/* Check what one malloc(size) did to the counters.  A block of the
 * allocator has the size of a class: a multiple of 16 that is at least
 * `size` and at most a quarter plus 16 bytes above it.  heap.c's classes
 * are 16 bytes apart up to 128 and at most 25% apart above, so every size
 * meets that bound. */
static void
check_malloc_counted(size_t size, scx_heap_stats before)
{
    scx_heap_stats after = heap_stats();
    size_t bytes = after.bytes - before.bytes;

    if (size > SCX_HEAP_MAX_BLOCK) {
        CHECK(after.blocks == before.blocks, "malloc(%zu) is above "
              "SCX_HEAP_MAX_BLOCK but counted a block", size);
        CHECK(bytes == 0, "malloc(%zu) is above SCX_HEAP_MAX_BLOCK but "
              "counted %zu bytes", size, bytes);
        return;
    }
    CHECK(after.blocks == before.blocks + 1, "malloc(%zu) counted %zu "
          "blocks, expected 1", size, after.blocks - before.blocks);
    CHECK(bytes % ALIGNMENT == 0, "malloc(%zu) counted %zu bytes", size,
          bytes);
    CHECK(bytes >= size, "malloc(%zu) counted only %zu bytes", size, bytes);
    CHECK(bytes <= size + size / 4 + 16, "malloc(%zu) used a class of %zu "
          "bytes", size, bytes);
}

static int
compare_by_address(const void *left, const void *right)
{
    uintptr_t a = (uintptr_t)((const allocation *)left)->block;
    uintptr_t b = (uintptr_t)((const allocation *)right)->block;

    return a < b ? -1 : a > b;
}

/* Check that no two blocks share a byte.  A block of size 0 counts as one
 * byte, so two equal pointers from malloc(0) overlap too. */
static void
check_no_overlap(allocation *blocks, size_t count)
{
    size_t i;

    qsort(blocks, count, sizeof(blocks[0]), compare_by_address);
    for (i = 1; i < count; i++) {
        uintptr_t end = (uintptr_t)blocks[i - 1].block
                        + (blocks[i - 1].size ? blocks[i - 1].size : 1);

        CHECK(end <= (uintptr_t)blocks[i].block, "the block %p of %zu "
              "bytes overlaps the block %p of %zu bytes",
              (void *)blocks[i - 1].block, blocks[i - 1].size,
              (void *)blocks[i].block, blocks[i].size);
    }
}

static void
test_malloc_sizes(void)
{
    size_t *sizes = malloc(MAX_SIZES * sizeof(*sizes));
    allocation *blocks = malloc(MAX_SIZES * sizeof(*blocks));
    scx_heap_stats start;
    size_t count, i;

    CHECK(sizes != NULL, "no memory for the size list");
    CHECK(blocks != NULL, "no memory for the block list");
    count = list_sizes(sizes);
    start = heap_stats();
    for (i = 0; i < count; i++) {
        scx_heap_stats before = heap_stats();

        blocks[i].size = sizes[i];
        blocks[i].block = malloc(sizes[i]);
        CHECK(blocks[i].block != NULL, "malloc(%zu) returned NULL", sizes[i]);
        CHECK(is_aligned(blocks[i].block), "malloc(%zu) returned %p",
              sizes[i], (void *)blocks[i].block);
        check_malloc_counted(sizes[i], before);
        fill(blocks[i].block, sizes[i], (unsigned int)i);
    }

    /* Every block was written over its whole size before any is read
     * back, so a block that overlaps a later one has lost its pattern. */
    for (i = 0; i < count; i++) {
        size_t bad = find_mismatch(blocks[i].block, blocks[i].size,
                                   (unsigned int)i);

        CHECK(bad == blocks[i].size, "the block of malloc(%zu) changed at "
              "offset %zu", blocks[i].size, bad);
    }
    check_no_overlap(blocks, count);

    for (i = 0; i < count; i++)
        free(blocks[i].block);
    check_all_freed(start, __LINE__);
    free(blocks);
    free(sizes);
}

/* Too large for any allocator: the C library's malloc fails. */
static void
test_malloc_failure(void)
{
    volatile size_t huge = SIZE_MAX - 4096;
    scx_heap_stats start = heap_stats();
    void *block;

    errno = 0;
    block = malloc(huge);
    CHECK(block == NULL, "malloc(%zu) returned %p", (size_t)huge, block);
    CHECK(errno == ENOMEM, "malloc(%zu) set errno %d", (size_t)huge, errno);
    check_all_freed(start, __LINE__);
}

/* calloc ------------------------------------------------------------------ */

#define DIRTY_COUNT 32

/* Fill DIRTY_COUNT blocks of `size` with 0xa5 and free them.  Their
 * addresses go to `freed`. */
static void
free_dirty_blocks(size_t size, uintptr_t *freed)
{
    unsigned char *blocks[DIRTY_COUNT];
    size_t i;

    for (i = 0; i < DIRTY_COUNT; i++) {
        blocks[i] = malloc(size);
        CHECK(blocks[i] != NULL, "malloc(%zu) returned NULL", size);
        memset(blocks[i], 0xa5, size);
        escape(blocks[i]);
        freed[i] = (uintptr_t)blocks[i];
    }
    for (i = 0; i < DIRTY_COUNT; i++)
        free(blocks[i]);
}

static void
check_calloc_clears(size_t size)
{
    uintptr_t freed[DIRTY_COUNT];
    unsigned char *blocks[DIRTY_COUNT];
    size_t i, j, reused = 0, nonzero;

    free_dirty_blocks(size, freed);
    for (i = 0; i < DIRTY_COUNT; i++) {
        /* Both argument orders: only the product may matter. */
        blocks[i] = i % 2 ? calloc(1, size) : calloc(size, 1);
        CHECK(blocks[i] != NULL, "calloc of %zu bytes returned NULL", size);
        for (j = 0; j < DIRTY_COUNT; j++)
            reused += (uintptr_t)blocks[i] == freed[j];
        nonzero = find_nonzero(blocks[i], size);
        CHECK(nonzero == size, "calloc of %zu bytes returned a block with a "
              "nonzero byte at offset %zu", size, nonzero);
    }
    /* Without reuse the test would only see fresh, zeroed pages. */
    if (size <= SCX_HEAP_MAX_BLOCK)
        CHECK(reused > 0, "no calloc of %zu bytes got a freed block back",
              size);
    for (i = 0; i < DIRTY_COUNT; i++)
        free(blocks[i]);
}

static void
test_calloc_clears_reused_blocks(void)
{
    static const size_t sizes[] = {
        0, 1, 15, 16, 17, 100, 1000, 1025, 4096, 5000, 40000, 65535, 65536,
        65537, 200000,
    };
    scx_heap_stats start = heap_stats();
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        check_calloc_clears(sizes[i]);
    check_all_freed(start, __LINE__);
}

static void
check_calloc_overflow(size_t count, size_t size)
{
    void *block;

    errno = 0;
    block = calloc(count, size);
    CHECK(block == NULL, "calloc(%zu, %zu) overflows but returned %p",
          count, size, block);
    CHECK(errno == ENOMEM, "calloc(%zu, %zu) set errno %d, expected ENOMEM",
          count, size, errno);
}

static void
test_calloc_overflow(void)
{
    /* volatile, so that GCC cannot see the overflow and warn about it. */
    volatile size_t half = SIZE_MAX / 2 + 1, max = SIZE_MAX;
    volatile size_t big = (size_t)1 << (sizeof(size_t) * 4);
    scx_heap_stats start = heap_stats();
    void *block;

    check_calloc_overflow(half, 2);
    check_calloc_overflow(2, half);
    check_calloc_overflow(max, max);
    check_calloc_overflow(big, big);
    check_all_freed(start, __LINE__);
    CHECK(heap_stats().fallbacks == start.fallbacks, "an overflow counted "
          "as a fallback");

    /* A product of 0 is no overflow. */
    block = calloc(0, max);
    CHECK(block != NULL, "calloc(0, SIZE_MAX) returned NULL");
    free(block);
    check_all_freed(start, __LINE__);
}

/* realloc ----------------------------------------------------------------- */

static void
test_realloc_null_is_malloc(void)
{
    scx_heap_stats start = heap_stats();
    unsigned char *block = realloc(NULL, 100);

    CHECK(block != NULL, "realloc(NULL, 100) returned NULL");
    CHECK(is_aligned(block), "realloc(NULL, 100) returned %p", (void *)block);
    check_malloc_counted(100, start);
    fill(block, 100, 1);
    CHECK(find_mismatch(block, 100, 1) == 100, "realloc(NULL, 100) block "
          "did not keep its contents");
    free(block);
    check_all_freed(start, __LINE__);
}

/* Resize `block`, whose `old_size` bytes contain the pattern of `seed`, to
 * `size`.  Check the kept prefix, then fill the whole new block. */
static unsigned char *
resize(unsigned char *block, size_t old_size, size_t size, unsigned int seed)
{
    size_t kept = old_size < size ? old_size : size, bad;
    unsigned char *moved = realloc(block, size);

    CHECK(moved != NULL, "realloc from %zu to %zu bytes returned NULL",
          old_size, size);
    CHECK(is_aligned(moved), "realloc from %zu to %zu bytes returned %p",
          old_size, size, (void *)moved);
    bad = find_mismatch(moved, kept, seed);
    CHECK(bad == kept, "realloc from %zu to %zu bytes changed offset %zu",
          old_size, size, bad);
    fill(moved, size, seed);
    return moved;
}

/* Grow one block through every tested size, then shrink it back. */
static void
test_realloc_through_all_sizes(void)
{
    size_t *sizes = malloc(MAX_SIZES * sizeof(*sizes));
    scx_heap_stats start;
    unsigned char *block;
    size_t count, i, old_size;

    CHECK(sizes != NULL, "no memory for the size list");
    count = list_sizes(sizes);
    start = heap_stats();
    block = malloc(1);
    CHECK(block != NULL, "malloc(1) returned NULL");
    fill(block, 1, 7);
    for (i = 2; i < count; i++) {
        block = resize(block, sizes[i - 1], sizes[i], 7);
        /* Up to SCX_HEAP_MAX_BLOCK the block stays the allocator's, and
         * above it the C library's. */
        CHECK(heap_stats().blocks == start.blocks
              + (sizes[i] <= SCX_HEAP_MAX_BLOCK),
              "after realloc to %zu bytes %zu blocks are live, start %zu",
              sizes[i], heap_stats().blocks, start.blocks);
    }
    free(block);
    check_all_freed(start, __LINE__);

    /* Shrinking a block of the allocator keeps it in its class. */
    block = malloc(SCX_HEAP_MAX_BLOCK);
    CHECK(block != NULL, "malloc(%zu) returned NULL", SCX_HEAP_MAX_BLOCK);
    fill(block, SCX_HEAP_MAX_BLOCK, 8);
    old_size = SCX_HEAP_MAX_BLOCK;
    for (i = count; i-- > 1;) {
        if (sizes[i] >= old_size)
            continue;
        block = resize(block, old_size, sizes[i], 8);
        old_size = sizes[i];
        CHECK(heap_stats().blocks == start.blocks + 1, "after realloc to "
              "%zu bytes %zu blocks are live, start %zu", sizes[i],
              heap_stats().blocks, start.blocks);
    }
    free(block);
    check_all_freed(start, __LINE__);
    free(sizes);
}

static void
test_realloc_small_to_large(void)
{
    scx_heap_stats start = heap_stats();
    unsigned char *block = malloc(100);

    CHECK(block != NULL, "malloc(100) returned NULL");
    fill(block, 100, 3);
    block = resize(block, 100, 200000, 3);
    /* The small block went back to the allocator, and the large one is
     * the C library's. */
    check_all_freed(start, __LINE__);
    block = resize(block, 200000, 300000, 3);
    block = resize(block, 300000, 50, 3);
    block = resize(block, 50, 70000, 3);
    free(block);
    check_all_freed(start, __LINE__);
}

/* Shrinking within a class keeps the block in place. */
static void
test_realloc_shrink_in_place(void)
{
    scx_heap_stats start = heap_stats();
    unsigned char *block = malloc(5000);
    uintptr_t address = (uintptr_t)block;

    CHECK(block != NULL, "malloc(5000) returned NULL");
    fill(block, 5000, 4);
    block = resize(block, 5000, 4097, 4);
    CHECK((uintptr_t)block == address, "realloc from 5000 to 4097 bytes "
          "moved the block");
    block = resize(block, 4097, 10, 4);
    free(block);
    check_all_freed(start, __LINE__);
}

static void
test_realloc_to_zero(void)
{
    scx_heap_stats start = heap_stats();
    unsigned char *block = malloc(50), *result;

    CHECK(block != NULL, "malloc(50) returned NULL");
    fill(block, 50, 5);
    /* Like glibc's realloc: free the block and return NULL. */
    result = realloc(block, 0);
    CHECK(result == NULL, "realloc(block, 0) returned %p", (void *)result);
    check_all_freed(start, __LINE__);

    block = malloc(100000);
    CHECK(block != NULL, "malloc(100000) returned NULL");
    result = realloc(block, 0);
    CHECK(result == NULL, "realloc(large block, 0) returned %p",
          (void *)result);
    check_all_freed(start, __LINE__);
}

static void
test_free_null(void)
{
    scx_heap_stats start = heap_stats();

    free(NULL);
    check_all_freed(start, __LINE__);
}

/* Memory of the C library ---------------------------------------------------
 *
 * These blocks come from the C library's own malloc, which --wrap does not
 * redirect.  The wrapped free() and realloc() must hand them back to it.
 */

static void
test_strdup_block_realloc_and_free(void)
{
    static const char text[] = "a block from the C library's malloc";
    scx_heap_stats start = heap_stats();
    char *copy = strdup(text);
    char *bigger;

    CHECK(copy != NULL, "strdup() returned NULL");
    CHECK(heap_stats().blocks == start.blocks, "strdup() took a block of "
          "the allocator");
    bigger = realloc(copy, 10000);
    CHECK(bigger != NULL, "realloc of a strdup() block returned NULL");
    CHECK(strcmp(bigger, text) == 0, "realloc of a strdup() block changed "
          "its text to \"%s\"", bigger);
    memset(bigger + sizeof(text), 'x', 10000 - sizeof(text));
    escape(bigger);
    copy = realloc(bigger, 6);
    CHECK(copy != NULL, "shrinking a strdup() block returned NULL");
    CHECK(memcmp(copy, text, 6) == 0, "shrinking a strdup() block changed "
          "its text");
    CHECK(heap_stats().blocks == start.blocks, "realloc moved a block of "
          "the C library into the allocator");
    free(copy);
    check_all_freed(start, __LINE__);
}

static void
test_other_libc_blocks_free(void)
{
    scx_heap_stats start = heap_stats();
    char *copy, *text = NULL, *result;
    void *aligned = NULL;
    int length;

    copy = strndup("a longer text than kept", 8);
    CHECK(copy != NULL, "strndup() returned NULL");
    CHECK(strcmp(copy, "a longer") == 0, "strndup() returned \"%s\"", copy);
    free(copy);

    length = asprintf(&text, "%d %s", 42, "formatted");
    CHECK(length == 12, "asprintf() returned %d", length);
    CHECK(strcmp(text, "42 formatted") == 0, "asprintf() wrote \"%s\"", text);
    free(text);

    CHECK(posix_memalign(&aligned, 4096, 100) == 0, "posix_memalign() "
          "failed");
    memset(aligned, 1, 100);
    escape(aligned);
    free(aligned);

    aligned = aligned_alloc(64, 128);
    CHECK(aligned != NULL, "aligned_alloc() returned NULL");
    free(aligned);

    copy = strdup("freed by realloc to 0");
    CHECK(copy != NULL, "strdup() returned NULL");
    result = realloc(copy, 0);
    CHECK(result == NULL, "realloc(strdup block, 0) returned %p",
          (void *)result);
    check_all_freed(start, __LINE__);
}

/* Counters and regions ---------------------------------------------------- */

#define REGION_TEST_SIZE 8192
#define MAX_REGION_TEST_BLOCKS 8192

/* Allocate 8 KiB blocks until the live bytes exceed `limit`.  Return how
 * many; all of them are in `blocks`. */
static size_t
allocate_beyond(void **blocks, size_t limit)
{
    size_t count = 0;

    while (heap_stats().bytes <= limit) {
        CHECK(count < MAX_REGION_TEST_BLOCKS, "%d blocks of %d bytes kept "
              "the live bytes at %zu", MAX_REGION_TEST_BLOCKS,
              REGION_TEST_SIZE, heap_stats().bytes);
        blocks[count] = malloc(REGION_TEST_SIZE);
        CHECK(blocks[count] != NULL, "malloc(%d) returned NULL",
              REGION_TEST_SIZE);
        /* Touch both ends, so that the pages really exist. */
        ((unsigned char *)blocks[count])[0] = 1;
        ((unsigned char *)blocks[count])[REGION_TEST_SIZE - 1] = 2;
        escape(blocks[count]);
        count++;
    }
    return count;
}

static void
test_regions_grow_and_are_reused(void)
{
    void **blocks = malloc(MAX_REGION_TEST_BLOCKS * sizeof(*blocks));
    scx_heap_stats start, grown, now;
    size_t count, again, i, limit;

    CHECK(blocks != NULL, "no memory for the block list");
    start = heap_stats();
    /* More than 1 MiB beyond what the regions mapped so far can hold. */
    limit = (start.regions + 1) * MIB;
    count = allocate_beyond(blocks, limit);
    grown = heap_stats();
    CHECK(grown.regions > start.regions + 1, "%zu bytes are live in %zu "
          "regions, %zu at the start", grown.bytes, grown.regions,
          start.regions);
    CHECK(grown.bytes <= grown.regions * MIB, "%zu live bytes do not fit in "
          "%zu regions", grown.bytes, grown.regions);
    CHECK(grown.fallbacks == start.fallbacks, "%zu fallbacks",
          grown.fallbacks - start.fallbacks);
    for (i = 0; i < count; i++)
        free(blocks[i]);
    check_all_freed(start, __LINE__);

    /* The same blocks again come from the free lists. */
    again = allocate_beyond(blocks, limit);
    now = heap_stats();
    CHECK(now.regions == grown.regions, "allocating the same blocks again "
          "mapped %zu more regions", now.regions - grown.regions);
    for (i = 0; i < again; i++)
        free(blocks[i]);
    check_all_freed(start, __LINE__);
    free(blocks);
}

/* Threads ------------------------------------------------------------------
 *
 * Each worker keeps its own items and swaps items with the other workers
 * through shared slots, so blocks are also freed and resized by a thread
 * other than the one that allocated them.
 */

typedef struct {
    unsigned char *data;
    size_t size;
    unsigned int seed;
} item;

typedef struct {
    item *shared[SHARED_SLOTS];
    int stop;                   /* set to end workers with no step limit */
} workplace;

typedef struct {
    pthread_t thread;
    workplace *place;
    uint64_t random_state;
    size_t steps;               /* 0: run until place->stop */
    size_t large_extra;         /* see random_size() */
    size_t churn;               /* quick malloc() and free() pairs per
                                 * step, which keep the heap lock busy */
    size_t done;                /* steps finished, read by the main thread */
} worker;

/* Mostly small sizes, and one in 16 up to `large_extra` bytes above
 * SCX_HEAP_MAX_BLOCK. */
static size_t
random_size(uint64_t *state, size_t large_extra)
{
    uint64_t r = next_random(state);

    if (r % 16 == 0)
        return (size_t)((r >> 8) % (SCX_HEAP_MAX_BLOCK + large_extra + 1));
    return (size_t)((r >> 8) % 600);
}

static item *
new_item(uint64_t *state, size_t large_extra)
{
    item *it = malloc(sizeof(*it));
    int zeroed = next_random(state) % 4 == 0;

    CHECK(it != NULL, "malloc(%zu) returned NULL", sizeof(*it));
    it->size = random_size(state, large_extra);
    it->seed = (unsigned int)next_random(state);
    it->data = zeroed ? calloc(it->size, 1) : malloc(it->size);
    CHECK(it->data != NULL, "allocating %zu bytes returned NULL", it->size);
    CHECK(is_aligned(it->data), "allocating %zu bytes returned %p",
          it->size, (void *)it->data);
    if (zeroed)
        CHECK(find_nonzero(it->data, it->size) == it->size, "calloc of %zu "
              "bytes returned a nonzero byte", it->size);
    fill(it->data, it->size, it->seed);
    return it;
}

static void
check_item(const item *it)
{
    size_t bad = find_mismatch(it->data, it->size, it->seed);

    CHECK(bad == it->size, "a block of %zu bytes changed at offset %zu",
          it->size, bad);
}

static void
release_item(item *it)
{
    if (it == NULL)
        return;
    check_item(it);
    free(it->data);
    free(it);
}

/* Resize an item to at least 1 byte, because realloc() to 0 frees. */
static void
resize_item(item *it, uint64_t *state, size_t large_extra)
{
    size_t size = random_size(state, large_extra) + 1;

    check_item(it);
    it->data = resize(it->data, it->size, size, it->seed);
    it->size = size;
}

static void
swap_item(workplace *place, item **own, uint64_t *state)
{
    size_t slot = (size_t)(next_random(state) % SHARED_SLOTS);

    *own = __atomic_exchange_n(&place->shared[slot], *own, __ATOMIC_ACQ_REL);
    if (*own != NULL)
        check_item(*own);
}

static void
run_step(worker *self, item **own)
{
    uint64_t *state = &self->random_state;
    size_t slot = (size_t)(next_random(state) % OWN_SLOTS);
    unsigned int choice = (unsigned int)(next_random(state) % 8);

    if (choice < 4) {
        release_item(own[slot]);
        own[slot] = new_item(state, self->large_extra);
    }
    else if (choice < 6 && own[slot] != NULL) {
        resize_item(own[slot], state, self->large_extra);
    }
    else if (choice == 6) {
        swap_item(self->place, &own[slot], state);
    }
    else {
        release_item(own[slot]);
        own[slot] = NULL;
    }
}

static void
churn(uint64_t *state, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++) {
        void *block = malloc((size_t)(next_random(state) % 512));

        CHECK(block != NULL, "malloc() of at most 512 bytes returned NULL");
        escape(block);
        free(block);
    }
}

static void *
run_worker(void *argument)
{
    worker *self = argument;
    item *own[OWN_SLOTS] = {NULL};
    size_t i;

    while (self->steps == 0 ? !__atomic_load_n(&self->place->stop,
                                               __ATOMIC_ACQUIRE)
                            : self->done < self->steps) {
        run_step(self, own);
        churn(&self->random_state, self->churn);
        __atomic_store_n(&self->done, self->done + 1, __ATOMIC_RELEASE);
    }
    for (i = 0; i < OWN_SLOTS; i++)
        release_item(own[i]);
    return NULL;
}

static void
start_workers(worker *workers, size_t count, workplace *place, size_t steps,
              size_t large_extra, size_t churn)
{
    size_t i;
    int rc;

    for (i = 0; i < count; i++) {
        workers[i].place = place;
        workers[i].random_state = 0x9e3779b97f4a7c15u * (i + 1);
        workers[i].steps = steps;
        workers[i].large_extra = large_extra;
        workers[i].churn = churn;
        workers[i].done = 0;
        rc = pthread_create(&workers[i].thread, NULL, run_worker,
                            &workers[i]);
        CHECK(rc == 0, "pthread_create() failed: %s", strerror(rc));
    }
}

static void
join_workers(worker *workers, size_t count, workplace *place)
{
    size_t i;

    for (i = 0; i < count; i++)
        pthread_join(workers[i].thread, NULL);
    for (i = 0; i < SHARED_SLOTS; i++) {
        release_item(place->shared[i]);
        place->shared[i] = NULL;
    }
}

static void
test_threads(void)
{
    workplace place = {{NULL}, 0};
    worker workers[THREADS];
    scx_heap_stats start = heap_stats();

    start_workers(workers, THREADS, &place, THREAD_STEPS, LARGE_EXTRA, 0);
    join_workers(workers, THREADS, &place);
    check_all_freed(start, __LINE__);
    CHECK(heap_stats().bytes <= heap_stats().regions * MIB, "the live bytes "
          "exceed the regions");
}

/* fork() -------------------------------------------------------------------
 *
 * A child forked while other threads allocate inherits the heap as it was
 * at the fork.  Its own allocations must neither deadlock on a lock that
 * a vanished thread held nor hand out a block that another thread held.
 */

/* Allocate, resize and free in the child.  The items in the shared slots
 * were complete at the fork and no thread of the child touches them, so
 * they must survive the child's allocations. */
static void
run_child(workplace *place)
{
    scx_heap_stats start = heap_stats();
    uint64_t state = 0x2545f4914f6cdd1du ^ (uint64_t)getpid();
    item *items[CHILD_ITEMS];
    size_t i;

    for (i = 0; i < CHILD_ITEMS; i++)
        items[i] = new_item(&state, LARGE_EXTRA);
    for (i = 0; i < CHILD_ITEMS; i += 2)
        resize_item(items[i], &state, LARGE_EXTRA);
    for (i = 0; i < SHARED_SLOTS; i++) {
        if (place->shared[i] != NULL)
            check_item(place->shared[i]);
    }
    for (i = 0; i < CHILD_ITEMS; i++)
        release_item(items[i]);
    check_all_freed(start, __LINE__);
    _exit(0);
}

static double
seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec)
           + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Wait for `pid` to exit 0.  Kill it and fail if it runs for too long. */
static void
wait_for_child(pid_t pid)
{
    static const struct timespec pause = {0, 1000000};
    struct timespec start;
    pid_t done;
    int status = 0;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        done = waitpid(pid, &status, WNOHANG);
        CHECK(done >= 0, "waitpid(%d) failed: %s", (int)pid, strerror(errno));
        if (done == pid)
            break;
        if (seconds_since(&start) > CHILD_TIMEOUT_SECONDS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail(__LINE__, "child exited in time", "child %d still ran "
                 "after %d s, so it is probably deadlocked; killed it",
                 (int)pid, CHILD_TIMEOUT_SECONDS);
        }
        nanosleep(&pause, NULL);
    }
    CHECK(!WIFSIGNALED(status), "child %d was killed by signal %d",
          (int)pid, WTERMSIG(status));
    CHECK(WEXITSTATUS(status) == 0, "child %d exited with %d", (int)pid,
          WEXITSTATUS(status));
}

/* Wait until every worker finished a step since `seen`, so that each is
 * busy allocating at the next fork. */
static void
wait_for_progress(worker *workers, size_t count, size_t *seen)
{
    size_t i;

    for (i = 0; i < count; i++) {
        while (__atomic_load_n(&workers[i].done, __ATOMIC_ACQUIRE) == seen[i])
            sched_yield();
        seen[i] = __atomic_load_n(&workers[i].done, __ATOMIC_ACQUIRE);
    }
}

static void
test_fork_while_threads_allocate(void)
{
    workplace place = {{NULL}, 0};
    worker workers[FORK_THREADS];
    size_t seen[FORK_THREADS] = {0};
    scx_heap_stats start = heap_stats();
    pid_t pid;
    int i;

    start_workers(workers, FORK_THREADS, &place, 0, FORK_WORKER_LARGE_EXTRA,
                  FORK_CHURN);
    for (i = 0; i < FORKS; i++) {
        wait_for_progress(workers, FORK_THREADS, seen);
        pid = fork();
        CHECK(pid >= 0, "fork() failed: %s", strerror(errno));
        if (pid == 0)
            run_child(&place);
        wait_for_child(pid);
    }
    __atomic_store_n(&place.stop, 1, __ATOMIC_RELEASE);
    join_workers(workers, FORK_THREADS, &place);
    check_all_freed(start, __LINE__);
}

/* Slabs and fork() -----------------------------------------------------------
 *
 * A forked child drops the free lists it inherited and claims a slab that
 * no ancestor has written, so its blocks lie together on fresh pages.
 */

/* Fork, run `body` in the child and return its wait status.  The child
 * exits 0 when `body` returns. */
static int
status_of_child(void (*body)(void *), void *argument)
{
    pid_t pid;
    int status = 0;

    pid = fork();
    CHECK(pid >= 0, "fork() failed: %s", strerror(errno));
    if (pid == 0) {
        body(argument);
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid(%d) failed: %s",
          (int)pid, strerror(errno));
    return status;
}

static void
check_exit_0(int status, const char *what)
{
    CHECK(WIFEXITED(status), "%s: the child was killed, status 0x%x", what,
          status);
    CHECK(WEXITSTATUS(status) == 0, "%s: the child exited with %d", what,
          WEXITSTATUS(status));
}

typedef struct {
    uintptr_t freed;            /* a block on the parent's free list */
    size_t parent_slabs;        /* heap_stats().regions in the parent */
} fresh_slab_check;

static void
check_fresh_slab(void *argument)
{
    const fresh_slab_check *parent = argument;
    unsigned char *first, *second, *zeroed;

    first = malloc(100);
    CHECK(first != NULL, "malloc(100) returned NULL");
    CHECK((uintptr_t)first != parent->freed, "the child reused its "
          "parent's free block %p", (void *)first);
    CHECK(heap_stats().regions == parent->parent_slabs + 1, "the child "
          "has %zu slabs, its parent %zu", heap_stats().regions,
          parent->parent_slabs);
    /* Blocks of different classes follow each other: 112 bytes of the
     * first block's class, then the second block's 16-byte header. */
    second = malloc(20);
    CHECK(second == first + 112 + 16, "malloc(20) returned %p, expected "
          "it right after the block %p", (void *)second, (void *)first);
    zeroed = calloc(1, 3000);
    CHECK(zeroed == second + 32 + 16, "calloc(1, 3000) returned %p, "
          "expected it right after the block %p", (void *)zeroed,
          (void *)second);
    CHECK(find_nonzero(zeroed, 3000) == 3000, "a fresh calloc() block is "
          "not zero");
    free(zeroed);
    free(second);
    free(first);
}

static void
test_child_starts_fresh_slab(void)
{
    scx_heap_stats start = heap_stats();
    fresh_slab_check parent;
    void *block = malloc(100);

    CHECK(block != NULL, "malloc(100) returned NULL");
    parent.freed = (uintptr_t)block;
    free(block);
    parent.parent_slabs = heap_stats().regions;
    check_exit_0(status_of_child(check_fresh_slab, &parent), "fresh slab");
    check_all_freed(start, __LINE__);
}

#define LINEAGE_BLOCKS 64
#define LINEAGE_SIZE 1000

typedef struct {
    unsigned char *blocks[LINEAGE_BLOCKS];
} lineage;

/* In the grandchild: allocate as much as the child did, then check that
 * none of it landed on the child's blocks. */
static void
run_grandchild(void *argument)
{
    lineage *child = argument;
    lineage own;
    size_t i;

    for (i = 0; i < LINEAGE_BLOCKS; i++) {
        own.blocks[i] = malloc(LINEAGE_SIZE);
        CHECK(own.blocks[i] != NULL, "malloc(%d) returned NULL",
              LINEAGE_SIZE);
        fill(own.blocks[i], LINEAGE_SIZE, 0x5000u + (unsigned int)i);
    }
    for (i = 0; i < LINEAGE_BLOCKS; i++) {
        size_t bad = find_mismatch(child->blocks[i], LINEAGE_SIZE,
                                   (unsigned int)i);

        CHECK(bad == LINEAGE_SIZE, "the grandchild's blocks overwrote the "
              "child's block %zu at offset %zu", i, bad);
    }
    for (i = 0; i < LINEAGE_BLOCKS; i++)
        free(own.blocks[i]);
}

static void
run_lineage_child(void *unused)
{
    lineage child;
    size_t i;

    (void)unused;
    for (i = 0; i < LINEAGE_BLOCKS; i++) {
        child.blocks[i] = malloc(LINEAGE_SIZE);
        CHECK(child.blocks[i] != NULL, "malloc(%d) returned NULL",
              LINEAGE_SIZE);
        fill(child.blocks[i], LINEAGE_SIZE, (unsigned int)i);
    }
    check_exit_0(status_of_child(run_grandchild, &child), "grandchild");
    for (i = 0; i < LINEAGE_BLOCKS; i++) {
        size_t bad = find_mismatch(child.blocks[i], LINEAGE_SIZE,
                                   (unsigned int)i);

        CHECK(bad == LINEAGE_SIZE, "the child's block %zu changed at offset "
              "%zu", i, bad);
        free(child.blocks[i]);
    }
}

/* A child's slab is below the counter that its own children inherit, so
 * a grandchild claims another slab instead of writing over the child's
 * live blocks. */
static void
test_grandchild_keeps_child_blocks(void)
{
    check_exit_0(status_of_child(run_lineage_child, NULL), "child");
}

/* Bad frees --------------------------------------------------------------- */

/* The bad pointers pass through a volatile variable, so that GCC cannot
 * see the bad free and reject the program with -Werror. */
static void
free_twice(void *unused)
{
    void *volatile block = malloc(40);

    (void)unused;
    CHECK(block != NULL, "malloc(40) returned NULL");
    free(block);
    free(block);
}

/* Free the pointer `*offset` bytes into a block of 200 bytes: 64 is
 * aligned but not a block's start, 8 is not even aligned. */
static void
free_inside_block(void *offset)
{
    unsigned char *block = malloc(200);
    void *volatile inside;

    CHECK(block != NULL, "malloc(200) returned NULL");
    fill(block, 200, 11);
    inside = block + *(const size_t *)offset;
    free(inside);
}

static void
check_aborts(void (*body)(void *), void *argument, const char *what)
{
    int status = status_of_child(body, argument);

    CHECK(WIFSIGNALED(status), "%s: the child exited with status 0x%x, "
          "expected SIGABRT", what, status);
    CHECK(WTERMSIG(status) == SIGABRT, "%s: the child was killed by signal "
          "%d, expected SIGABRT", what, WTERMSIG(status));
}

static void
test_bad_free_aborts(void)
{
    static const size_t aligned = 64, misaligned = 8;

    check_aborts(free_twice, NULL, "double free");
    check_aborts(free_inside_block, (void *)&aligned,
                 "free of a pointer inside a block");
    check_aborts(free_inside_block, (void *)&misaligned,
                 "free of a misaligned pointer");
}

/* realloc() grows the newest block of the slab in place, which keeps a
 * growing buffer on the pages it already uses. */
static void
grow_last_block(void *unused)
{
    scx_heap_stats before;
    unsigned char *block;
    uintptr_t address;

    (void)unused;
    block = malloc(100);
    CHECK(block != NULL, "malloc(100) returned NULL");
    address = (uintptr_t)block;
    fill(block, 100, 12);
    before = heap_stats();
    block = resize(block, 100, 3000, 12);
    CHECK((uintptr_t)block == address, "realloc from 100 to 3000 bytes "
          "moved the newest block");
    CHECK(heap_stats().blocks == before.blocks, "growing in place changed "
          "the block count");
    CHECK(heap_stats().bytes == before.bytes + 3072 - 112, "growing in "
          "place from 112 to 3072 bytes counted %zu more bytes",
          heap_stats().bytes - before.bytes);
    free(block);
    CHECK(heap_stats().bytes == before.bytes - 112, "freeing the grown "
          "block left %zu bytes counted", heap_stats().bytes);
}

static void
test_realloc_grows_newest_block(void)
{
    check_exit_0(status_of_child(grow_last_block, NULL), "grow in place");
}

/* Grow a small block to a large class and free it, many times over, as
 * building filters in a loop does with libseccomp's program buffer.  The
 * large class's free block must be used again.  Growing every new small
 * block in place instead leaves the small class short each round, so
 * each round cuts fresh memory, and a workload that also claims slabs
 * for other requests keeps claiming them. */
#define GROWTH_ROUNDS 200000

static void
grow_and_free_in_loop(void *unused)
{
    scx_heap_stats start = heap_stats(), settled = start;
    unsigned char *block;
    uintptr_t reused = 0;
    size_t i;

    (void)unused;
    for (i = 0; i < GROWTH_ROUNDS; i++) {
        block = malloc(24);
        CHECK(block != NULL, "malloc(24) returned NULL in round %zu", i);
        fill(block, 24, (unsigned int)i);
        block = resize(block, 24, 2000, (unsigned int)i);
        /* Round 0 grows its block in place; every later round gets that
         * block back from the free list. */
        if (i == 1)
            reused = (uintptr_t)block;
        else if (i > 1)
            CHECK((uintptr_t)block == reused, "round %zu grew a new block "
                  "%p instead of reusing the free block %#zx", i,
                  (void *)block, (size_t)reused);
        free(block);
        if (i == 10)
            settled = heap_stats();
    }
    CHECK(heap_stats().regions == settled.regions, "%d rounds of malloc, "
          "realloc and free claimed %zu more slabs", GROWTH_ROUNDS,
          heap_stats().regions - settled.regions);
    CHECK(heap_stats().fallbacks == start.fallbacks, "%zu requests fell back "
          "to the C library", heap_stats().fallbacks - start.fallbacks);
    check_all_freed(start, __LINE__);
}

/* In a child, whose free lists start empty, as a forked worker's do. */
static void
test_realloc_loop_reuses_blocks(void)
{
    check_exit_0(status_of_child(grow_and_free_in_loop, NULL),
                 "realloc loop");
}

/* Running out of regions ----------------------------------------------------
 *
 * heap.c maps a bounded number of regions and then passes requests to the
 * C library, counting each as a fallback.  This runs last because it
 * leaves every region in use by the free lists.
 */

static void
check_fallback_block(void)
{
    scx_heap_stats before = heap_stats();
    unsigned char *block = malloc(SCX_HEAP_MAX_BLOCK);

    CHECK(block != NULL, "malloc(%zu) returned NULL", SCX_HEAP_MAX_BLOCK);
    CHECK(is_aligned(block), "malloc(%zu) returned %p", SCX_HEAP_MAX_BLOCK,
          (void *)block);
    CHECK(heap_stats().blocks == before.blocks, "a fallback counted a "
          "block");
    CHECK(heap_stats().fallbacks == before.fallbacks + 1, "a fallback was "
          "not counted");
    fill(block, SCX_HEAP_MAX_BLOCK, 9);
    block = resize(block, SCX_HEAP_MAX_BLOCK, 100, 9);
    block = resize(block, 100, 200000, 9);
    free(block);

    block = calloc(SCX_HEAP_MAX_BLOCK, 1);
    CHECK(block != NULL, "calloc(%zu, 1) returned NULL", SCX_HEAP_MAX_BLOCK);
    CHECK(find_nonzero(block, SCX_HEAP_MAX_BLOCK) == SCX_HEAP_MAX_BLOCK,
          "a calloc() fallback returned a nonzero byte");
    free(block);
    check_all_freed(before, __LINE__);
}

static void
test_fallback_when_regions_run_out(void)
{
    void **blocks = malloc(MAX_EXHAUSTION_BLOCKS * sizeof(*blocks));
    scx_heap_stats start, full, before;
    size_t count = 0, i;
    uintptr_t freed;

    CHECK(blocks != NULL, "no memory for the block list");
    start = heap_stats();
    while (heap_stats().fallbacks == start.fallbacks) {
        CHECK(count < MAX_EXHAUSTION_BLOCKS, "%d blocks of %zu bytes mapped "
              "%zu regions and none fell back to the C library",
              MAX_EXHAUSTION_BLOCKS, SCX_HEAP_MAX_BLOCK,
              heap_stats().regions);
        blocks[count] = malloc(SCX_HEAP_MAX_BLOCK);
        CHECK(blocks[count] != NULL, "malloc(%zu) returned NULL",
              SCX_HEAP_MAX_BLOCK);
        ((unsigned char *)blocks[count])[0] = 1;
        escape(blocks[count]);
        count++;
    }
    full = heap_stats();
    CHECK(full.blocks == start.blocks + count - 1, "the fallback block was "
          "counted as the allocator's");

    check_fallback_block();

    /* A block freed back to the allocator is used again first. */
    CHECK(count > 1, "the first malloc(%zu) already fell back",
          SCX_HEAP_MAX_BLOCK);
    freed = (uintptr_t)blocks[0];
    before = heap_stats();
    free(blocks[0]);
    blocks[0] = malloc(SCX_HEAP_MAX_BLOCK);
    CHECK((uintptr_t)blocks[0] == freed, "malloc(%zu) returned %p, not the "
          "freed block %#zx", SCX_HEAP_MAX_BLOCK, blocks[0], (size_t)freed);
    CHECK(heap_stats().fallbacks == before.fallbacks, "reusing a freed "
          "block counted a fallback");

    for (i = 0; i < count; i++)
        free(blocks[i]);
    check_all_freed(start, __LINE__);
    CHECK(heap_stats().regions == full.regions, "regions were mapped after "
          "the limit");
    free(blocks);
}

/* The sections, in the order they run ------------------------------------- */

typedef struct {
    const char *name;
    void (*run)(void);
} test_case;

static const test_case tests[] = {
    {"malloc sizes", test_malloc_sizes},
    {"malloc failure", test_malloc_failure},
    {"calloc clears reused blocks", test_calloc_clears_reused_blocks},
    {"calloc overflow", test_calloc_overflow},
    {"realloc NULL", test_realloc_null_is_malloc},
    {"realloc through all sizes", test_realloc_through_all_sizes},
    {"realloc small to large", test_realloc_small_to_large},
    {"realloc shrink in place", test_realloc_shrink_in_place},
    {"realloc to 0", test_realloc_to_zero},
    {"free NULL", test_free_null},
    {"strdup block", test_strdup_block_realloc_and_free},
    {"other C library blocks", test_other_libc_blocks_free},
    {"regions", test_regions_grow_and_are_reused},
    {"threads", test_threads},
    {"fork", test_fork_while_threads_allocate},
    {"child slab", test_child_starts_fresh_slab},
    {"grandchild", test_grandchild_keeps_child_blocks},
    {"bad free", test_bad_free_aborts},
    {"realloc grows newest block", test_realloc_grows_newest_block},
    {"realloc loop reuses blocks", test_realloc_loop_reuses_blocks},
    {"fallback", test_fallback_when_regions_run_out},
};

int
main(void)
{
    size_t i;

    /* Unbuffered, so that the sections that passed are in the output even
     * when a failed check ends the program with _exit(). */
    setvbuf(stdout, NULL, _IONBF, 0);
    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        section = tests[i].name;
        tests[i].run();
        printf("heap_test: %s: ok\n", tests[i].name);
    }
    return 0;
}
