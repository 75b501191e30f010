/*
 * memhunt's sampled allocation hooks (docs/allocations.md; runtimes/python/lib/memhunt/_alloc.py
 * builds and loads this file). Python C API and libc only; built from source per interpreter.
 *
 * Mechanism (as dd-trace-py's memalloc and tracemalloc do): PyMem_SetAllocator wraps the RAW, MEM
 * and OBJ domains; every wrapper calls the allocator it replaced. Sampling is a Poisson process on
 * bytes: each thread counts down a number of bytes drawn from an exponential distribution of mean
 * `mean`; the allocation that crosses zero is sampled and a new countdown is drawn. A block of
 * size s is then sampled with probability 1 - exp(-s/mean), and its weight (bytes and objects it
 * stands for) is the inverse of that (computed by the agent). A sample keeps the Python stack
 * (code object + line, innermost first, at most `max_frames`), the thread and the wall time.
 *
 * Fast paths (bench/alloc.mjs; BENCHMARKS.md, "Sampled allocations"): an allocation costs one
 * thread-local subtraction and one branch, then a tail call to the wrapped allocator; a free one
 * byte read of the filter below, then a tail call. Everything else (a thread's first allocation,
 * the agent's ignored thread, re-entrant calls, sampling switched off) is folded into the
 * countdown: it is set to BUSY (never reached) or 0 (next allocation takes the slow path), and
 * only the slow path, taken once per `mean` bytes, looks at the flags.
 *
 * Frees: sampled addresses go into an open-addressing table (backward-shift deletion: tombstones
 * made every probe of a free a long chain). Every free consults a counting filter first (one
 * byte read, no lock): only when the address's counter is non-zero is the table locked. The
 * table never grows (no reallocation a lock-free reader could see half done): when it is half
 * full, new samples are dropped and counted.
 *
 * Locking: sampling runs with the GIL held (MEM and OBJ need it; a RAW allocation is sampled only
 * when the calling thread holds the GIL, because a stack needs it). Frees of RAW blocks can happen
 * without the GIL, so the table and the pending events are guarded by a spin lock that is never
 * held across a call into Python or into an allocator of Python's.
 *
 * Re-entrancy: taking a stack allocates nothing on 3.8-3.13 (FRAME_WALK); elsewhere it may (3.14+,
 * or 3.11+ without CPython's internal headers, builds frame objects on demand). While a sample
 * is taken the thread's countdown is BUSY, so allocations inside the hook go straight to the
 * wrapped allocator, unsampled. The agent's own thread keeps it BUSY for good
 * (`ignore_this_thread`): its allocations are not the program's. Frees are always checked.
 *
 * Fork: pthread_atfork takes the lock around fork (the child never inherits it held); the agent
 * calls `reset()` in the child, which forgets the parent's samples.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if PY_VERSION_HEX < 0x03080000
#error "memhunt's allocation hooks need Python 3.8 or newer"
#endif

/*
 * 3.11 to 3.13: a stack is read from the interpreter's own frames (_PyInterpreterFrame, a layout of
 * each version's internal headers, which CPython installs) rather than through PyFrame_GetBack,
 * which creates a frame object (an allocation, maybe a collection) for every frame that has none.
 * Taking a stack then allocates nothing through Python on any version this walk covers (3.8-3.10
 * read their frame objects), which is what lets the MEM/OBJ hooks run without a BUSY bracket
 * (FAST_NESTED below). Other versions, or headers missing: frame objects, bracketed hooks.
 */
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && defined(__has_include)
#if __has_include(<internal/pycore_frame.h>)
#define Py_BUILD_CORE 1
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE
#define FRAME_WALK 1
#endif
#endif
#if PY_VERSION_HEX < 0x030B0000 || defined(FRAME_WALK)
#define CAPTURE_ALLOCATES 0
#else
#define CAPTURE_ALLOCATES 1
#endif
#ifdef Py_GIL_DISABLED
#error "memhunt's allocation hooks do not support free-threaded Python builds"
#endif

#define TLS __thread __attribute__((tls_model("initial-exec")))
#define MAX_PENDING_SAMPLES 20000
#define FILTER_BITS 16

/* line: the line, or (3.11+, while pending) -1 - the frame's instruction offset: resolved at drain. */
typedef struct { PyObject *code; int line; } frame_t;

typedef struct {
    uint64_t id;
    uintptr_t addr;
    size_t size;
    unsigned long thread;
    double wall_ms;
    int nframes;
    int truncated;
    int domain;
    frame_t *frames;
} sample_t;

typedef struct { uint64_t id; double wall_ms; } free_t;

typedef struct { uintptr_t addr; uint64_t id; } slot_t;

typedef struct {
    PyMemAllocatorEx orig;
    int domain;
} hook_ctx_t;

static hook_ctx_t ctx_raw = {{0}, 0}, ctx_mem = {{0}, 1}, ctx_obj = {{0}, 2};
static int installed = 0;
static volatile int sampling = 0;
static double mean_bytes = 524288.0;
static int max_frames = 128;
static uint64_t seed = 0;
static uint64_t thread_counter = 0;
static uint64_t next_id = 1;

static char lock_flag = 0;
static slot_t *table = NULL;
static size_t table_mask = 0;
static size_t table_count = 0;
/* Static (zero until a sample is kept): a free reads it without a NULL check or a pointer load. */
static unsigned char filter[(size_t)1 << FILTER_BITS];

static sample_t *pending = NULL;
static size_t pending_len = 0, pending_cap = 0;
static free_t *frees = NULL;
static size_t frees_len = 0, frees_cap = 0;

static uint64_t stat_samples = 0, stat_frees = 0, stat_dropped = 0, stat_sampled_bytes = 0;

/*
 * One thread-local struct (one TLS offset for the whole hook). countdown: bytes left before the
 * next sample; <= 0 after an allocation sends it to the slow path; BUSY while the thread must not
 * be sampled (inside the hook, the agent's thread, a drain), far beyond any real count.
 */
#define BUSY ((int64_t)1 << 62)
typedef struct {
    int64_t countdown;
    uint64_t rng;
    int ready;   /* rng seeded and a countdown drawn */
    int busy;    /* inside take_sample, drain or reset */
    int ignored; /* the agent's thread */
} tls_t;
static TLS tls_t tl = {0, 0, 0, 0, 0};

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline, cold))

static inline void lock(void) {
    while (__atomic_test_and_set(&lock_flag, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&lock_flag, __ATOMIC_RELAXED)) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

static inline void unlock(void) { __atomic_clear(&lock_flag, __ATOMIC_RELEASE); }

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
}

/*
 * The filter is indexed by the address itself (16-byte granules), not a hash: a free looks at the
 * byte of its own neighbourhood, and blocks freed one after the other (pymalloc hands out blocks
 * of a pool in address order) read the same cache lines. A hashed 1 MiB filter missed the cache
 * on most frees and cost 25-40% on an allocation-heavy loop (bench/alloc.mjs); this one is 64 KiB.
 */
static inline size_t filter_index(uintptr_t a) { return (size_t)((a >> 4) & (((size_t)1 << FILTER_BITS) - 1)); }

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* xorshift64*: per thread, seeded from the global seed and the thread's arrival order. */
static double uniform01(void) {
    uint64_t x = tl.rng;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    tl.rng = x;
    uint64_t r = x * 0x2545F4914F6CDD1DULL;
    return ((double)(r >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
}

static int64_t draw_countdown(void) {
    double v = -log(uniform01()) * mean_bytes;
    if (v < 1.0) v = 1.0;
    if (v > 9.0e18) v = 9.0e18;
    return (int64_t)v;
}

static void thread_init(void) {
    uint64_t n = __atomic_add_fetch(&thread_counter, 1, __ATOMIC_RELAXED);
    tl.rng = mix(seed ^ (n * 0x9E3779B97F4A7C15ULL)) | 1;
    tl.countdown = draw_countdown();
    tl.ready = 1;
}

/* Table operations: the caller holds the lock. */
static int table_insert(uintptr_t addr, uint64_t id) {
    if (table == NULL || table_count >= (table_mask + 1) / 2) return 0;
    size_t i = (size_t)mix((uint64_t)addr) & table_mask;
    while (table[i].addr != 0) {
        if (table[i].addr == addr) { table[i].id = id; return 1; }
        i = (i + 1) & table_mask;
    }
    table[i].addr = addr;
    table[i].id = id;
    table_count++;
    unsigned char *c = &filter[filter_index(addr)];
    if (*c < 255) __atomic_store_n(c, (unsigned char)(*c + 1), __ATOMIC_RELAXED);
    return 1;
}

static int table_remove(uintptr_t addr, uint64_t *id_out) {
    if (table == NULL || table_count == 0) return 0;
    size_t i = (size_t)mix((uint64_t)addr) & table_mask;
    while (table[i].addr != addr) {
        if (table[i].addr == 0) return 0;
        i = (i + 1) & table_mask;
    }
    *id_out = table[i].id;
    /* Backward-shift deletion. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & table_mask;
        if (table[j].addr == 0) break;
        size_t home = (size_t)mix((uint64_t)table[j].addr) & table_mask;
        /* Can the entry at j move to i? Only if its home is not cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            table[i] = table[j];
            i = j;
        }
    }
    table[i].addr = 0;
    table[i].id = 0;
    table_count--;
    unsigned char *c = &filter[filter_index(addr)];
    if (*c > 0 && *c < 255) __atomic_store_n(c, (unsigned char)(*c - 1), __ATOMIC_RELAXED);
    return 1;
}

/* The block at ptr is gone; the filter said it may be a sampled one (the lock is taken here). */
static NOINLINE void note_free_slow(void *ptr) {
    if (ptr == NULL) return;
    uint64_t id;
    lock();
    if (table_remove((uintptr_t)ptr, &id)) {
        stat_frees++;
        if (frees_len == frees_cap) {
            size_t cap = frees_cap ? frees_cap * 2 : 1024;
            free_t *n = (free_t *)realloc(frees, cap * sizeof(free_t));
            if (n != NULL) { frees = n; frees_cap = cap; }
        }
        if (frees_len < frees_cap) {
            frees[frees_len].id = id;
            frees[frees_len].wall_ms = wall_ms();
            frees_len++;
        }
    }
    unlock();
}

/* Can ptr be a sampled block? One byte read, no lock (a relaxed load: a plain mov). */
static inline int maybe_sampled(void *ptr) {
    return __atomic_load_n(&filter[filter_index((uintptr_t)ptr)], __ATOMIC_RELAXED) != 0;
}

static PyThreadState *current_tstate(void) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#else
    return _PyThreadState_UncheckedGet();
#endif
}

/* Takes the stack of the calling thread (GIL held). Returns the number of frames, -1 if none. */
static int capture(frame_t *out, int max, int *truncated) {
    PyThreadState *ts = current_tstate();
    int n = 0;
    *truncated = 0;
    if (ts == NULL) return -1;
#if defined(FRAME_WALK)
    /* What PyThreadState_GetFrame and PyFrame_GetBack walk, without their frame objects: the
     * thread's frames, innermost first, incomplete ones (and the C stack's entry frames) skipped. */
#if PY_VERSION_HEX >= 0x030D0000
    _PyInterpreterFrame *f = ts->current_frame;
#else
    _PyInterpreterFrame *f = ts->cframe != NULL ? ts->cframe->current_frame : NULL;
#endif
    for (; f != NULL; f = f->previous) {
#if PY_VERSION_HEX >= 0x030C0000
        if (f->owner == FRAME_OWNED_BY_CSTACK) continue;
#endif
#if PY_VERSION_HEX >= 0x030D0000
        if (f->f_executable == NULL || !PyCode_Check(f->f_executable)) continue;
#endif
        if (_PyFrame_IsIncomplete(f)) continue;
        if (n >= max) { *truncated = 1; break; }
#if PY_VERSION_HEX >= 0x030D0000
        PyCodeObject *code = (PyCodeObject *)f->f_executable;
#else
        PyCodeObject *code = f->f_code;
#endif
        int lasti = _PyInterpreterFrame_LASTI(f);
        Py_INCREF(code);
        out[n].code = (PyObject *)code;
        /* As PyFrame_GetLasti: a byte offset, resolved to a line at drain. */
        out[n].line = lasti >= 0 ? -1 - lasti * (int)sizeof(_Py_CODEUNIT) : code->co_firstlineno;
        n++;
    }
#elif PY_VERSION_HEX >= 0x03090000
#if PY_VERSION_HEX >= 0x030A0000
    /* 3.11+ builds frame objects on demand: no collection may run inside an allocator. */
    int gc_was = PyGC_Disable();
#endif
    PyFrameObject *f = PyThreadState_GetFrame(ts);
    while (f != NULL && n < max) {
        out[n].code = (PyObject *)PyFrame_GetCode(f);
#if PY_VERSION_HEX >= 0x030B0000
        /* The line table is scanned at drain, once per (code, offset) of the batch, not per sample
         * frame (PyCode_Addr2Line was ~2% of the pandas job's instructions). */
        int lasti = PyFrame_GetLasti(f);
        out[n].line = lasti >= 0 ? -1 - lasti : PyFrame_GetLineNumber(f);
#else
        out[n].line = PyFrame_GetLineNumber(f);
#endif
        n++;
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    if (f != NULL) { *truncated = 1; Py_DECREF(f); }
#if PY_VERSION_HEX >= 0x030A0000
    if (gc_was) PyGC_Enable();
#endif
#else
    PyFrameObject *f = ts->frame;
    while (f != NULL && n < max) {
        Py_INCREF(f->f_code);
        out[n].code = (PyObject *)f->f_code;
        out[n].line = PyFrame_GetLineNumber(f);
        n++;
        f = f->f_back;
    }
    if (f != NULL) *truncated = 1;
#endif
    return n;
}

static void take_sample(void *ptr, size_t size, int domain) {
    frame_t stack[512];
    int truncated = 0;
    int n = capture(stack, max_frames, &truncated);
    if (n < 0) return;
    frame_t *frames = NULL;
    if (n > 0) {
        frames = (frame_t *)malloc((size_t)n * sizeof(frame_t));
        if (frames == NULL) goto drop_refs;
        memcpy(frames, stack, (size_t)n * sizeof(frame_t));
    }
    lock();
    if (pending_len >= MAX_PENDING_SAMPLES || table == NULL) {
        stat_dropped++;
        unlock();
        goto drop_all;
    }
    if (pending_len == pending_cap) {
        size_t cap = pending_cap ? pending_cap * 2 : 256;
        sample_t *p = (sample_t *)realloc(pending, cap * sizeof(sample_t));
        if (p == NULL) { stat_dropped++; unlock(); goto drop_all; }
        pending = p;
        pending_cap = cap;
    }
    uint64_t id = next_id++;
    if (!table_insert((uintptr_t)ptr, id)) {
        stat_dropped++;
        unlock();
        goto drop_all;
    }
    sample_t *s = &pending[pending_len++];
    s->id = id;
    s->addr = (uintptr_t)ptr;
    s->size = size;
    s->thread = PyThread_get_thread_ident();
    s->wall_ms = wall_ms();
    s->nframes = n;
    s->truncated = truncated;
    s->domain = domain;
    s->frames = frames;
    stat_samples++;
    stat_sampled_bytes += size;
    unlock();
    return;
drop_all:
    free(frames);
drop_refs:
    for (int i = 0; i < n; i++) Py_DECREF(stack[i].code);
}

/*
 * The countdown crossed zero with an allocation of `size` bytes (before it is made): returns 1
 * when that block is to be sampled. A fresh countdown is drawn in any case (BUSY for a thread
 * that must not be sampled).
 */
static NOINLINE int crossed(size_t size) {
    if (tl.busy || tl.ignored) { tl.countdown = BUSY; return 0; }
    if (!tl.ready) {
        thread_init();
        tl.countdown -= (int64_t)size;
        if (tl.countdown > 0) return 0;
    }
    tl.countdown = draw_countdown();
    return sampling;
}

/* Samples the block just made (the countdown is BUSY meanwhile: the hook's own allocations are not counted). */
static NOINLINE void sample(void *ptr, size_t size, int domain) {
    if (ptr == NULL) return;
    if ((domain == 0 || domain == 3) && !PyGILState_Check()) return;
    int64_t keep = tl.countdown;
    tl.countdown = BUSY;
    tl.busy = 1;
    take_sample(ptr, size, domain);
    tl.busy = 0;
    tl.countdown = keep;
}

/*
 * pymalloc hands blocks over 512 bytes (and its own arena bookkeeping) to PyMem_RawMalloc, which is
 * hooked too: the inner call must neither count the block a second time nor take a stack while
 * pymalloc is halfway through (new_arena's realloc of its arena array). So the MEM and OBJ hooks
 * ("nested") set the countdown to BUSY around the allocator they wrap and put it back after; the
 * RAW hooks (and numpy's, whose default handler is libc's malloc) count and tail-call.
 */
#define NESTED(h) ((h)->domain != 0)
#define COUNT(size) ((int64_t)(size))

/*
 * Frees of MEM and OBJ blocks are not hooked when both domains are plain pymalloc (the common
 * case; `raw_backed`): PyObject_Free then keeps pymalloc's own fast path (PGO builds inline it
 * into PyObject_Free, which only a hook-free allocator gets). A block those hooks sample is made
 * raw-backed instead: it is asked of pymalloc with at least SMALL_REQUEST_THRESHOLD + 1 bytes,
 * which pymalloc hands to PyMem_RawMalloc (its own counters stay right), and pymalloc gives a
 * block outside its arenas back through PyMem_RawFree / PyMem_RawRealloc, which are hooked: every
 * sampled block's end is seen by a RAW hook. Cost: ~500 bytes per sampled small block (one per
 * `mean` bytes allocated). Under debug hooks, PYTHONMALLOC=malloc or another allocator wrapped
 * before us, frees are hooked in every domain as before.
 */
#define RAW_BACKED_SIZE 513
static int raw_backed = 0;

static inline size_t backed(hook_ctx_t *h, size_t size) {
    return (NESTED(h) && raw_backed && size < RAW_BACKED_SIZE) ? RAW_BACKED_SIZE : size;
}

static NOINLINE void *slow_malloc(hook_ctx_t *h, size_t size) {
    int s = crossed(size);
    int64_t c = tl.countdown;
    tl.countdown = BUSY;
    void *p = h->orig.malloc(h->orig.ctx, s ? backed(h, size) : size);
    tl.countdown = c;
    if (s) sample(p, size, h->domain);
    return p;
}

static NOINLINE void *slow_calloc(hook_ctx_t *h, size_t nelem, size_t elsize) {
    int s = crossed(nelem * elsize);
    int64_t c = tl.countdown;
    tl.countdown = BUSY;
    void *p;
    if (s && backed(h, nelem * elsize) != nelem * elsize) p = h->orig.calloc(h->orig.ctx, 1, RAW_BACKED_SIZE);
    else p = h->orig.calloc(h->orig.ctx, nelem, elsize);
    tl.countdown = c;
    if (s) sample(p, nelem * elsize, h->domain);
    return p;
}

/* Taken when the countdown crossed or the old block may be a sampled one. */
static NOINLINE void *slow_realloc(hook_ctx_t *h, void *ptr, size_t size, int64_t c) {
    int s = 0;
    if (c <= 0) s = crossed(size);
    else tl.countdown = c;
    c = tl.countdown;
    int check = maybe_sampled(ptr);
    tl.countdown = BUSY;
    void *p = h->orig.realloc(h->orig.ctx, ptr, s ? backed(h, size) : size);
    tl.countdown = c;
    if (p != NULL) {
        /* The old block is gone (moved or resized): a sampled one is freed; the new size counts anew. */
        if (check) note_free_slow(ptr);
        if (s) sample(p, size, h->domain);
    }
    return p;
}

/* RAW: count, then a tail call (no frame of our own on the fast path). */
static void *raw_malloc(void *ctx, size_t size) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    int64_t c = tl.countdown - COUNT(size);
    if (UNLIKELY(c <= 0)) return slow_malloc(h, size);
    tl.countdown = c;
    return h->orig.malloc(h->orig.ctx, size);
}

static void *raw_calloc(void *ctx, size_t nelem, size_t elsize) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    int64_t c = tl.countdown - COUNT(nelem * elsize);
    if (UNLIKELY(c <= 0)) return slow_calloc(h, nelem, elsize);
    tl.countdown = c;
    return h->orig.calloc(h->orig.ctx, nelem, elsize);
}

static void *raw_realloc(void *ctx, void *ptr, size_t size) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    int64_t c = tl.countdown - COUNT(size);
    if (UNLIKELY(c <= 0 || maybe_sampled(ptr))) return slow_realloc(h, ptr, size, c);
    tl.countdown = c;
    return h->orig.realloc(h->orig.ctx, ptr, size);
}

/* MEM and OBJ: count, BUSY around the wrapped allocator (see above). */
static void *nested_malloc(void *ctx, size_t size) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    int64_t c = tl.countdown - COUNT(size);
    if (UNLIKELY(c <= 0)) return slow_malloc(h, size);
    tl.countdown = BUSY;
    void *p = h->orig.malloc(h->orig.ctx, size);
    tl.countdown = c;
    return p;
}

static void *nested_calloc(void *ctx, size_t nelem, size_t elsize) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    int64_t c = tl.countdown - COUNT(nelem * elsize);
    if (UNLIKELY(c <= 0)) return slow_calloc(h, nelem, elsize);
    tl.countdown = BUSY;
    void *p = h->orig.calloc(h->orig.ctx, nelem, elsize);
    tl.countdown = c;
    return p;
}

static void *nested_realloc(void *ctx, void *ptr, size_t size) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    int64_t c = tl.countdown - COUNT(size);
    if (UNLIKELY(c <= 0 || maybe_sampled(ptr))) return slow_realloc(h, ptr, size, c);
    tl.countdown = BUSY;
    void *p = h->orig.realloc(h->orig.ctx, ptr, size);
    tl.countdown = c;
    return p;
}

/*
 * FAST_NESTED: MEM and OBJ without the BUSY bracket, when both are plain pymalloc (raw_backed) and
 * taking a stack allocates nothing (CAPTURE_ALLOCATES 0). pymalloc serves blocks of 1..512 bytes
 * itself and hands every other size to PyMem_RawMalloc/RawCalloc/RawRealloc, whose hooks count and
 * sample them: these hooks count only what pymalloc keeps (so nothing is counted twice) and
 * tail-call it. The RAW calls pymalloc makes for its own bookkeeping (the arena array, 3.10+'s
 * arena map) are then counted and may be sampled halfway through pymalloc: safe only because the
 * sample neither allocates through Python nor runs a collection. Frees of MEM/OBJ are not hooked
 * (raw_backed), and a sampled block is raw-backed, so its realloc or free reaches a RAW hook: no
 * filter look-up here either. The slow path (countdown crossed) is the bracketed one above.
 * One double count is left: a sampled (raw-backed) block reallocated to 512 bytes or less is
 * counted here and by the RAW hook pymalloc hands it to (sampled blocks only: one per `mean`).
 */
#define PYMALLOC_KEEPS(size) ((size_t)(size) - 1 < (size_t)(RAW_BACKED_SIZE - 1))

static void *fast_malloc(void *ctx, size_t size) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    if (PYMALLOC_KEEPS(size)) {
        int64_t c = tl.countdown - COUNT(size);
        if (UNLIKELY(c <= 0)) return slow_malloc(h, size);
        tl.countdown = c;
    }
    return h->orig.malloc(h->orig.ctx, size);
}

static void *fast_calloc(void *ctx, size_t nelem, size_t elsize) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    size_t size = nelem * elsize;
    if (PYMALLOC_KEEPS(size)) { /* PyMem_Calloc/PyObject_Calloc refused an overflowing product before */
        int64_t c = tl.countdown - COUNT(size);
        if (UNLIKELY(c <= 0)) return slow_calloc(h, nelem, elsize);
        tl.countdown = c;
    }
    return h->orig.calloc(h->orig.ctx, nelem, elsize);
}

static void *fast_realloc(void *ctx, void *ptr, size_t size) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    if (PYMALLOC_KEEPS(size)) {
        int64_t c = tl.countdown - COUNT(size);
        if (UNLIKELY(c <= 0)) return slow_realloc(h, ptr, size, c);
        tl.countdown = c;
    }
    return h->orig.realloc(h->orig.ctx, ptr, size);
}

static int fast_nested = 0;

static NOINLINE void free_slow(hook_ctx_t *h, void *ptr) {
    note_free_slow(ptr);
    h->orig.free(h->orig.ctx, ptr);
}

/* The slow path is a call of its own so that the fast one keeps no frame (a tail call). */
static void hook_free(void *ctx, void *ptr) {
    hook_ctx_t *h = (hook_ctx_t *)ctx;
    if (UNLIKELY(maybe_sampled(ptr))) { free_slow(h, ptr); return; }
    h->orig.free(h->orig.ctx, ptr);
}

/*
 * numpy (>= 1.22) allocates array data through its own handler (PyDataMem_SetHandler, a capsule
 * named "mem_handler"), not PyMem: without this, numpy buffers would be "not seen". The handler is
 * numpy's policy for the context it is set in (a context variable): set in the thread that
 * imports numpy, it covers that thread and the contexts copied from it (asyncio tasks); threads
 * started with a fresh context use numpy's default and are not seen. The struct layouts are
 * numpy's ndarraytypes.h (PyDataMemAllocator, PyDataMem_Handler, version 1); the C-API slots
 * are numpy's __multiarray_api.h (304 PyDataMem_SetHandler, 305 PyDataMem_GetHandler).
 */
typedef struct {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
} np_allocator_t;

typedef struct {
    char name[127];
    uint8_t version;
    np_allocator_t allocator;
} np_handler_t;

static np_handler_t np_orig, np_mine;
static PyObject *np_orig_capsule = NULL;

/* numpy's hooks are "nested" (BUSY around the handler they wrap, which may itself be a PyMem user's). */
static NOINLINE void *np_slow(int is_realloc, void *ptr, size_t size, int64_t c) {
    int s = 0;
    if (c <= 0) s = crossed(size);
    else tl.countdown = c;
    c = tl.countdown;
    int check = is_realloc && maybe_sampled(ptr);
    tl.countdown = BUSY;
    void *p = is_realloc ? np_orig.allocator.realloc(np_orig.allocator.ctx, ptr, size)
                         : np_orig.allocator.malloc(np_orig.allocator.ctx, size);
    tl.countdown = c;
    if (p != NULL) {
        if (check) note_free_slow(ptr);
        if (s) sample(p, size, 3);
    }
    return p;
}

static void *np_malloc(void *ctx, size_t size) {
    int64_t c = tl.countdown - COUNT(size);
    if (UNLIKELY(c <= 0)) return np_slow(0, NULL, size, c);
    tl.countdown = BUSY;
    void *p = np_orig.allocator.malloc(np_orig.allocator.ctx, size);
    tl.countdown = c;
    return p;
}

static void *np_calloc(void *ctx, size_t nelem, size_t elsize) {
    int64_t c = tl.countdown - COUNT(nelem * elsize);
    if (UNLIKELY(c <= 0)) {
        int s = crossed(nelem * elsize);
        c = tl.countdown;
        tl.countdown = BUSY;
        void *p = np_orig.allocator.calloc(np_orig.allocator.ctx, nelem, elsize);
        tl.countdown = c;
        if (s) sample(p, nelem * elsize, 3);
        return p;
    }
    tl.countdown = BUSY;
    void *p = np_orig.allocator.calloc(np_orig.allocator.ctx, nelem, elsize);
    tl.countdown = c;
    return p;
}

static void *np_realloc(void *ctx, void *ptr, size_t size) {
    int64_t c = tl.countdown - COUNT(size);
    if (UNLIKELY(c <= 0 || maybe_sampled(ptr))) return np_slow(1, ptr, size, c);
    tl.countdown = BUSY;
    void *p = np_orig.allocator.realloc(np_orig.allocator.ctx, ptr, size);
    tl.countdown = c;
    return p;
}

static void np_free(void *ctx, void *ptr, size_t size) {
    if (UNLIKELY(maybe_sampled(ptr))) note_free_slow(ptr);
    np_orig.allocator.free(np_orig.allocator.ctx, ptr, size);
}

/* hook_numpy(_ARRAY_API capsule) -> True when numpy's data allocations are sampled in this context. */
static PyObject *m_hook_numpy(PyObject *self, PyObject *capsule) {
    if (!PyCapsule_CheckExact(capsule)) { PyErr_SetString(PyExc_TypeError, "expected numpy's _ARRAY_API capsule"); return NULL; }
    void **api = (void **)PyCapsule_GetPointer(capsule, NULL);
    if (api == NULL) return NULL;
    PyObject *(*set_handler)(PyObject *) = (PyObject * (*)(PyObject *)) api[304];
    PyObject *(*get_handler)(void) = (PyObject * (*)(void)) api[305];
    if (np_orig_capsule == NULL) {
        PyObject *cur = get_handler();
        if (cur == NULL) return NULL;
        np_handler_t *h = (np_handler_t *)PyCapsule_GetPointer(cur, "mem_handler");
        if (h == NULL) { Py_DECREF(cur); return NULL; }
        if (h->version != 1) { Py_DECREF(cur); Py_RETURN_FALSE; }
        np_orig = *h;
        np_orig_capsule = cur; /* kept: np_orig's context must outlive every array made through it */
        memset(&np_mine, 0, sizeof(np_mine));
        strncpy(np_mine.name, "memhunt_sampling_handler", sizeof(np_mine.name) - 1);
        np_mine.version = 1;
        np_mine.allocator.ctx = NULL;
        np_mine.allocator.malloc = np_malloc;
        np_mine.allocator.calloc = np_calloc;
        np_mine.allocator.realloc = np_realloc;
        np_mine.allocator.free = np_free;
    }
    PyObject *mine = PyCapsule_New(&np_mine, "mem_handler", NULL);
    if (mine == NULL) return NULL;
    PyObject *old = set_handler(mine);
    Py_DECREF(mine);
    if (old == NULL) return NULL;
    Py_DECREF(old);
    Py_RETURN_TRUE;
}

static int ensure_tables(size_t capacity) {
    if (table != NULL) return 0;
    size_t cap = 1024;
    while (cap < capacity) cap <<= 1;
    table = (slot_t *)calloc(cap, sizeof(slot_t));
    if (table == NULL) return -1;
    table_mask = cap - 1;
    return 0;
}

static void atfork_prepare(void) { lock(); }
static void atfork_parent(void) { unlock(); }
static void atfork_child(void) { lock_flag = 0; }

static void install_domain(PyMemAllocatorDomain d, hook_ctx_t *h) {
    PyMemAllocatorEx mine = {h, raw_malloc, raw_calloc, raw_realloc, hook_free};
    PyMem_GetAllocator(d, &h->orig);
    if (NESTED(h)) {
        if (fast_nested) { mine.malloc = fast_malloc; mine.calloc = fast_calloc; mine.realloc = fast_realloc; }
        else { mine.malloc = nested_malloc; mine.calloc = nested_calloc; mine.realloc = nested_realloc; }
        /* pymalloc's free ignores its context (NULL for pymalloc: _PyMem_GetCurrentAllocatorName compared it). */
        if (raw_backed) mine.free = h->orig.free;
    }
    PyMem_SetAllocator(d, &mine);
}

/* "pymalloc" when RAW is malloc and MEM and OBJ are plain pymalloc, with no hook of anyone's (3.8+; found at run time). */
static int plain_pymalloc(void) {
    const char *(*name)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "_PyMem_GetCurrentAllocatorName");
    if (name == NULL) return 0;
    const char *n = name();
    return n != NULL && strcmp(n, "pymalloc") == 0;
}

static void uninstall_domain(PyMemAllocatorDomain d, hook_ctx_t *h) {
    PyMemAllocatorEx cur;
    PyMem_GetAllocator(d, &cur);
    /* Only when ours is still the outermost (tracemalloc started later wraps us: leave it). */
    if (cur.ctx == h && (cur.malloc == raw_malloc || cur.malloc == nested_malloc || cur.malloc == fast_malloc)) PyMem_SetAllocator(d, &h->orig);
}

static PyObject *m_start(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"mean", "max_frames", "seed", "capacity", NULL};
    double mean = 524288.0;
    int frames = 128;
    unsigned long long sd = 0;
    Py_ssize_t capacity = 1 << 18;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|diKn", names, &mean, &frames, &sd, &capacity)) return NULL;
    if (!(mean >= 1.0)) { PyErr_SetString(PyExc_ValueError, "mean must be at least 1 byte"); return NULL; }
    if (frames < 1 || frames > 512) { PyErr_SetString(PyExc_ValueError, "max_frames must be 1..512"); return NULL; }
    if (installed) { PyErr_SetString(PyExc_RuntimeError, "already started"); return NULL; }
    if (ensure_tables((size_t)(capacity > 1024 ? capacity : 1024)) < 0) return PyErr_NoMemory();
    static int atfork_done = 0;
    if (!atfork_done) {
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        atfork_done = 1;
    }
    mean_bytes = mean;
    max_frames = frames;
    seed = sd ? (uint64_t)sd : mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    tl.ready = 0;
    tl.countdown = 0;
    raw_backed = plain_pymalloc();
    fast_nested = raw_backed && !CAPTURE_ALLOCATES && getenv("MEMHUNT_ALLOC_BRACKETED") == NULL;
    install_domain(PYMEM_DOMAIN_RAW, &ctx_raw);
    install_domain(PYMEM_DOMAIN_MEM, &ctx_mem);
    install_domain(PYMEM_DOMAIN_OBJ, &ctx_obj);
    installed = 1;
    sampling = 1;
    Py_RETURN_NONE;
}

static PyObject *m_stop(PyObject *self, PyObject *unused) {
    sampling = 0;
    if (installed) {
        uninstall_domain(PYMEM_DOMAIN_OBJ, &ctx_obj);
        uninstall_domain(PYMEM_DOMAIN_MEM, &ctx_mem);
        uninstall_domain(PYMEM_DOMAIN_RAW, &ctx_raw);
        /* The hooks stay in place if something wrapped them; they pass straight through then. */
    }
    Py_RETURN_NONE;
}

static PyObject *m_ignore_this_thread(PyObject *self, PyObject *unused) {
    tl.ignored = 1;
    tl.countdown = BUSY;
    Py_RETURN_NONE;
}

static void release_pending(sample_t *list, size_t len) {
    for (size_t i = 0; i < len; i++) {
        for (int k = 0; k < list[i].nframes; k++) Py_DECREF(list[i].frames[k].code);
        free(list[i].frames);
    }
    free(list);
}

static PyObject *frame_tuple(frame_t *f) {
    PyCodeObject *c = (PyCodeObject *)f->code;
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *name = c->co_qualname;
#else
    PyObject *name = c->co_name;
#endif
    return Py_BuildValue("(OOi)", c->co_filename, name, f->line);
}

/*
 * Stacks already handed to the agent, by a 64-bit hash of their content (file name and qualified
 * name by their str hashes, which CPython caches, and line; truncation; depth): drain_batch()
 * builds the frames of a stack only the first time, and the agent's per-sample work is one row
 * built here. Content, not code object addresses: a code object freed and another made at the
 * same address must not inherit its stack. Touched only with the GIL held (drain, reset).
 */
/* Pending frames keep an instruction offset (3.11+): their lines, through a per-batch cache keyed
 * by (code, offset) (the samples hold their code objects, so the addresses are stable meanwhile). */
typedef struct { PyObject *code; int key; int line; } line_slot_t;

static void resolve_lines(sample_t *list, size_t len) {
    size_t cap = 4096;
    line_slot_t *cache = (line_slot_t *)calloc(cap, sizeof(line_slot_t));
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        for (int k = 0; k < list[i].nframes; k++) {
            frame_t *fr = &list[i].frames[k];
            if (fr->line >= 0) continue;
            int lasti = -1 - fr->line;
            if (cache == NULL) { fr->line = PyCode_Addr2Line((PyCodeObject *)fr->code, lasti); continue; }
            size_t j = (size_t)mix((uint64_t)(uintptr_t)fr->code ^ ((uint64_t)(unsigned)lasti << 48)) & (cap - 1);
            while (cache[j].code != NULL && !(cache[j].code == fr->code && cache[j].key == lasti)) j = (j + 1) & (cap - 1);
            if (cache[j].code != NULL) { fr->line = cache[j].line; continue; }
            int line = PyCode_Addr2Line((PyCodeObject *)fr->code, lasti);
            fr->line = line;
            if (used < cap / 2) { cache[j].code = fr->code; cache[j].key = lasti; cache[j].line = line; used++; }
        }
    }
    free(cache);
}

typedef struct { uint64_t hash; uint32_t id; uint32_t own; } known_t;
static known_t *known = NULL;
static size_t known_mask = 0, known_count = 0;
static uint32_t next_stack_id = 1;

static PyObject *code_name(PyCodeObject *c) {
#if PY_VERSION_HEX >= 0x030B0000
    return c->co_qualname;
#else
    return c->co_name;
#endif
}

static uint64_t stack_hash(const sample_t *s) {
    uint64_t h = mix(0x9E3779B97F4A7C15ULL ^ (uint64_t)s->nframes ^ ((uint64_t)s->truncated << 40));
    for (int k = 0; k < s->nframes; k++) {
        PyCodeObject *c = (PyCodeObject *)s->frames[k].code;
        uint64_t hf = (uint64_t)PyObject_Hash(c->co_filename);
        uint64_t hn = (uint64_t)PyObject_Hash(code_name(c));
        h = mix(h ^ hf);
        h = mix(h ^ (hn + 0x9E3779B97F4A7C15ULL * (uint64_t)(uint32_t)s->frames[k].line));
    }
    return h ? h : 1;
}

/* The entry of hash h (hash 0: a free slot to fill), or NULL when the table cannot grow. */
static known_t *known_slot(uint64_t h) {
    if (known == NULL || known_count + 1 > (known_mask + 1) / 2) {
        size_t cap = known ? (known_mask + 1) * 2 : 1024;
        known_t *n = (known_t *)calloc(cap, sizeof(known_t));
        if (n == NULL) return NULL;
        for (size_t i = 0; known != NULL && i <= known_mask; i++) {
            if (known[i].hash == 0) continue;
            size_t j = (size_t)known[i].hash & (cap - 1);
            while (n[j].hash != 0) j = (j + 1) & (cap - 1);
            n[j] = known[i];
        }
        free(known);
        known = n;
        known_mask = cap - 1;
    }
    size_t i = (size_t)h & known_mask;
    while (known[i].hash != 0 && known[i].hash != h) i = (i + 1) & known_mask;
    return &known[i];
}

static PyObject *round3(double ms) { return PyFloat_FromDouble(round(ms * 1000.0) / 1000.0); }

/* [[file, name, line], ...] (+ the cut marker), or NULL. *own: a frame's file is under own_prefix. */
static PyObject *stack_frames(const sample_t *s, PyObject *own_prefix, int *own) {
    PyObject *list = PyList_New(s->nframes + (s->truncated ? 1 : 0));
    if (list == NULL) return NULL;
    *own = 0;
    for (int k = 0; k < s->nframes; k++) {
        PyCodeObject *c = (PyCodeObject *)s->frames[k].code;
        if (own_prefix != NULL && !*own) {
            Py_ssize_t m = PyUnicode_Tailmatch(c->co_filename, own_prefix, 0, PY_SSIZE_T_MAX, -1);
            if (m < 0) { Py_DECREF(list); return NULL; }
            *own = (int)m;
        }
        PyObject *f = Py_BuildValue("[OOi]", c->co_filename, code_name(c), s->frames[k].line);
        if (f == NULL) { Py_DECREF(list); return NULL; }
        PyList_SET_ITEM(list, k, f);
    }
    if (s->truncated) {
        PyObject *f = Py_BuildValue("[ssi]", "...", "(deeper frames cut)", 0);
        if (f == NULL) { Py_DECREF(list); return NULL; }
        PyList_SET_ITEM(list, s->nframes, f);
    }
    return list;
}

/*
 * drain_batch(own_prefix) -> (rows, stacks, frees), ready for the agent's `alloc` event:
 * rows [[id, stack id, size, thread, wall_ms], ...] of the samples whose stack has no frame in a
 * file under own_prefix (the agent's own work in the program's threads), stacks [[stack id,
 * [[file, name, line], ...]], ...] first seen in this batch (own ones left out), frees [[id,
 * wall_ms], ...]; times rounded to the microsecond.
 */
static PyObject *m_drain_batch(PyObject *self, PyObject *own_prefix) {
    if (!PyUnicode_Check(own_prefix)) { PyErr_SetString(PyExc_TypeError, "own_prefix must be a str"); return NULL; }
    int was_busy = tl.busy;
    int64_t keep = tl.countdown;
    tl.busy = 1;
    tl.countdown = BUSY;
    lock();
    sample_t *s = pending; size_t ns = pending_len;
    free_t *f = frees; size_t nf = frees_len;
    pending = NULL; pending_len = pending_cap = 0;
    frees = NULL; frees_len = frees_cap = 0;
    unlock();
    resolve_lines(s, ns);
    PyObject *rows = PyList_New(0), *stacks = PyList_New(0), *freed = PyList_New((Py_ssize_t)nf);
    PyObject *result = NULL;
    if (rows == NULL || stacks == NULL || freed == NULL) goto done;
    for (size_t i = 0; i < ns; i++) {
        uint64_t h = stack_hash(&s[i]);
        known_t *e = known_slot(h);
        if (e == NULL) { PyErr_NoMemory(); goto done; }
        if (e->hash == 0) {
            int own = 0;
            PyObject *frames = stack_frames(&s[i], own_prefix, &own);
            if (frames == NULL) goto done;
            uint32_t id = next_stack_id++;
            if (!own) {
                PyObject *st = Py_BuildValue("[IN]", (unsigned int)id, frames);
                if (st == NULL || PyList_Append(stacks, st) < 0) { Py_XDECREF(st); goto done; }
                Py_DECREF(st);
            } else {
                Py_DECREF(frames);
            }
            e->hash = h;
            e->id = id;
            e->own = (uint32_t)own;
            known_count++;
        }
        if (e->own) continue;
        PyObject *row = Py_BuildValue("[KInkN]", (unsigned long long)s[i].id, (unsigned int)e->id, (Py_ssize_t)s[i].size,
                                      s[i].thread, round3(s[i].wall_ms));
        if (row == NULL || PyList_Append(rows, row) < 0) { Py_XDECREF(row); goto done; }
        Py_DECREF(row);
    }
    for (size_t i = 0; i < nf; i++) {
        PyObject *item = Py_BuildValue("[KN]", (unsigned long long)f[i].id, round3(f[i].wall_ms));
        if (item == NULL) goto done;
        PyList_SET_ITEM(freed, (Py_ssize_t)i, item);
    }
    result = PyTuple_Pack(3, rows, stacks, freed);
done:
    Py_XDECREF(rows);
    Py_XDECREF(stacks);
    Py_XDECREF(freed);
    release_pending(s, ns);
    free(f);
    tl.busy = was_busy;
    tl.countdown = keep;
    return result;
}

/* drain() -> (samples, frees): samples [(id, size, thread, wall_ms, domain, truncated, ((file, name, line), ...)), ...], frees [(id, wall_ms), ...] */
static PyObject *m_drain(PyObject *self, PyObject *unused) {
    int was_busy = tl.busy;
    int64_t keep = tl.countdown;
    tl.busy = 1;
    tl.countdown = BUSY;
    lock();
    sample_t *s = pending; size_t ns = pending_len;
    free_t *f = frees; size_t nf = frees_len;
    pending = NULL; pending_len = pending_cap = 0;
    frees = NULL; frees_len = frees_cap = 0;
    unlock();
    resolve_lines(s, ns);
    PyObject *samples = PyList_New((Py_ssize_t)ns);
    PyObject *freed = PyList_New((Py_ssize_t)nf);
    PyObject *result = NULL;
    if (samples == NULL || freed == NULL) goto done;
    for (size_t i = 0; i < ns; i++) {
        PyObject *stack = PyTuple_New(s[i].nframes);
        if (stack == NULL) goto done;
        for (int k = 0; k < s[i].nframes; k++) {
            PyObject *ft = frame_tuple(&s[i].frames[k]);
            if (ft == NULL) { Py_DECREF(stack); goto done; }
            PyTuple_SET_ITEM(stack, k, ft);
        }
        PyObject *item = Py_BuildValue("(KnkdiiN)", (unsigned long long)s[i].id, (Py_ssize_t)s[i].size, s[i].thread,
                                       s[i].wall_ms, s[i].domain, s[i].truncated, stack);
        if (item == NULL) goto done;
        PyList_SET_ITEM(samples, (Py_ssize_t)i, item);
    }
    for (size_t i = 0; i < nf; i++) {
        PyObject *item = Py_BuildValue("(Kd)", (unsigned long long)f[i].id, f[i].wall_ms);
        if (item == NULL) goto done;
        PyList_SET_ITEM(freed, (Py_ssize_t)i, item);
    }
    result = PyTuple_Pack(2, samples, freed);
done:
    Py_XDECREF(samples);
    Py_XDECREF(freed);
    release_pending(s, ns);
    free(f);
    tl.busy = was_busy;
    tl.countdown = keep;
    return result;
}

static PyObject *m_stats(PyObject *self, PyObject *unused) {
    lock();
    unsigned long long a = stat_samples, b = stat_frees, c = stat_dropped, d = stat_sampled_bytes;
    Py_ssize_t live = (Py_ssize_t)table_count;
    size_t own = (table_mask + 1) * sizeof(slot_t) + ((size_t)1 << FILTER_BITS) + pending_cap * sizeof(sample_t) + frees_cap * sizeof(free_t)
                 + (known ? (known_mask + 1) * sizeof(known_t) : 0);
    unlock();
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:n,s:n,s:d,s:i}", "samples", a, "frees", b, "dropped", c, "sampledBytes", d,
                         "liveSamples", live, "ownBytes", (Py_ssize_t)own, "mean", mean_bytes, "sampling", (int)sampling);
}

/* In a fork child (GIL held): forget the parent's samples; sampling goes on with fresh countdowns. */
static PyObject *m_reset(PyObject *self, PyObject *unused) {
    lock_flag = 0;
    lock();
    sample_t *s = pending; size_t ns = pending_len;
    pending = NULL; pending_len = pending_cap = 0;
    free(frees); frees = NULL; frees_len = frees_cap = 0;
    if (table != NULL) memset(table, 0, (table_mask + 1) * sizeof(slot_t));
    memset(filter, 0, sizeof(filter));
    table_count = 0;
    stat_samples = stat_frees = stat_dropped = stat_sampled_bytes = 0;
    unlock();
    int was_busy = tl.busy;
    tl.busy = 1;
    tl.countdown = BUSY;
    release_pending(s, ns);
    tl.busy = was_busy;
    tl.ready = 0;
    tl.countdown = 0; /* the next allocation draws a fresh countdown */
    free(known); known = NULL; known_mask = known_count = 0; next_stack_id = 1; /* the child's agent starts its stacks afresh */
    Py_RETURN_NONE;
}

/* raw_backed() -> True when frees of MEM and OBJ blocks are left unhooked (plain pymalloc; see RAW_BACKED_SIZE). */
static PyObject *m_raw_backed(PyObject *self, PyObject *unused) { return PyBool_FromLong(raw_backed); }

/* fast_nested() -> True when the MEM and OBJ hooks count without a BUSY bracket (FAST_NESTED). */
static PyObject *m_fast_nested(PyObject *self, PyObject *unused) { return PyBool_FromLong(fast_nested); }

static PyMethodDef methods[] = {
    {"raw_backed", m_raw_backed, METH_NOARGS, "True when MEM and OBJ frees are not hooked (plain pymalloc: sampled small blocks are raw-backed)"},
    {"fast_nested", m_fast_nested, METH_NOARGS, "True when the MEM and OBJ hooks count without a BUSY bracket (plain pymalloc, stacks taken without allocating)"},
    {"start", (PyCFunction)(void (*)(void))m_start, METH_VARARGS | METH_KEYWORDS, "start(mean=524288.0, max_frames=128, seed=0, capacity=262144)"},
    {"stop", m_stop, METH_NOARGS, "stop sampling and restore the allocators when ours are outermost"},
    {"drain", m_drain, METH_NOARGS, "take the samples and frees recorded since the last drain"},
    {"drain_batch", m_drain_batch, METH_O, "drain_batch(own_prefix) -> (rows, new stacks, frees) for the agent's alloc event"},
    {"stats", m_stats, METH_NOARGS, "counters"},
    {"reset", m_reset, METH_NOARGS, "in a fork child: forget the parent's samples"},
    {"hook_numpy", m_hook_numpy, METH_O, "sample numpy's array data too (numpy >= 1.22; the calling context)"},
    {"ignore_this_thread", m_ignore_this_thread, METH_NOARGS, "never sample allocations of the calling thread"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_memhunt_alloc", "memhunt's sampled allocation hooks", -1, methods,
                                       NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__memhunt_alloc(void) { return PyModule_Create(&moduledef); }
