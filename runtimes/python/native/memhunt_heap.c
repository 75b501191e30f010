/*
 * memhunt's heap helpers in C (runtimes/python/lib/memhunt/_native.py builds and loads this file,
 * per interpreter, as _alloc.py does memhunt_alloc.c). Python C API and libc only. Two parts:
 *
 * 1. census_walk: the census's traversal (_census.walk with a CensusVisitor) in one C loop.
 *    The objects are gc.get_objects() plus the untracked objects reached from them through
 *    tp_traverse (what gc.get_referents returns), each counted once: an untracked referent whose
 *    reference count is 1 has no other holder and cannot be reached again; the others go through
 *    a pointer hash set. Sizes follow the census's rules per type, decided once per type by the
 *    census itself (a Python callback, classify): a fixed size, the type's C __sizeof__ plus a
 *    header, or sys.getsizeof. Objects of the census's special types (numpy, pandas) are handed
 *    back to Python (special) in batches; the extra objects it returns (numpy bases, the items of
 *    object arrays) are walked as referents. No Python code runs inside tp_traverse: referents
 *    that need Python (an unknown type, getsizeof) are held (a new reference) on a work stack.
 *
 * 2. dup_hash / dup_equal: the duplicate search's reads (_largest.py). A source is a bytes-like
 *    buffer, an ASCII str, a list or tuple of exact floats (as float64) or ints (as int64), or a
 *    numpy array described by its __array_interface__ (any strides; a 2-D Fortran-order array is
 *    read in C order by tiles, without a transposing copy of more than one piece). Data are read
 *    as raw bytes or as values cast to a numeric type (C casts, as numpy's astype 'unsafe').
 *    The GIL is held throughout a call, so no Python code changes a source while it is read.
 *
 * 3. trim: glibc's malloc_trim(0) after a census (_requests.take_census). The census runs in the
 *    agent's thread, which glibc gives an arena of its own: the walk's buffers (the object list,
 *    the hash set, the visitor's tables) are freed there, but pages below the blocks that stay
 *    (what the census keeps for the next one, the modules its first request imported) are not
 *    given back by free(), and stayed resident: +1.3-1.8 MiB per process after the first census
 *    (BENCHMARKS.md, "What a census leaves"). malloc_trim also gives back free pages of the other
 *    arenas (the program's): memory the program had freed already, never its live data.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if PY_VERSION_HEX < 0x03090000
#define VCALL _PyObject_Vectorcall
#define GC_TRACKED(o) (PyObject_IS_GC(o) && _PyObject_GC_IS_TRACKED(o))
#else
#define VCALL PyObject_Vectorcall
#define GC_TRACKED(o) (PyObject_IS_GC(o) && PyObject_GC_IsTracked(o))
#endif

/* ------------------------------------------------------------------------------------------ */
/* pointer set: a bitmap of 16-byte granules per 1 MiB region of the address space (objects are
 * 16-byte aligned on 64-bit builds, 8 on 32-bit), regions found through a small hash table. The
 * objects of a heap sit in few regions, so the bitmaps stay in the CPU caches where a hash set of
 * pointers would not (a set insert was most of the walk's time on the 2 M-object heap). */

#define REGION_SHIFT 20
#if SIZEOF_VOID_P >= 8
#define GRAIN_SHIFT 4
#else
#define GRAIN_SHIFT 3
#endif
#define REGION_BITS (1u << (REGION_SHIFT - GRAIN_SHIFT))

typedef struct {
    uintptr_t key;        /* region number + 1 (0: empty slot) */
    uint64_t *bits;
} region_t;

typedef struct {
    region_t *slots;
    size_t mask;
    size_t used;
    region_t *last;
} pset_t;

static int pset_init(pset_t *s, size_t cap) {
    (void)cap;
    s->slots = (region_t *)calloc(256, sizeof(region_t));
    if (!s->slots) return -1;
    s->mask = 255;
    s->used = 0;
    s->last = NULL;
    return 0;
}

static void pset_free(pset_t *s) {
    if (!s->slots) return;
    for (size_t i = 0; i <= s->mask; i++) free(s->slots[i].bits);
    free(s->slots);
    s->slots = NULL;
}

static inline size_t phash(uintptr_t p) {
    uint64_t x = (uint64_t)p;
    x *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(x ^ (x >> 29));
}

static region_t *pset_region(pset_t *s, uintptr_t key) {
    size_t j = phash(key) & s->mask;
    for (;;) {
        region_t *r = &s->slots[j];
        if (r->key == key) return r;
        if (!r->key) break;
        j = (j + 1) & s->mask;
    }
    if ((s->used + 1) * 2 > s->mask + 1) {
        size_t n = (s->mask + 1) * 2;
        region_t *ns = (region_t *)calloc(n, sizeof(region_t));
        if (!ns) return NULL;
        for (size_t i = 0; i <= s->mask; i++) {
            if (!s->slots[i].key) continue;
            size_t k = phash(s->slots[i].key) & (n - 1);
            while (ns[k].key) k = (k + 1) & (n - 1);
            ns[k] = s->slots[i];
        }
        free(s->slots);
        s->slots = ns;
        s->mask = n - 1;
        j = phash(key) & s->mask;
        while (s->slots[j].key) j = (j + 1) & s->mask;
    }
    uint64_t *bits = (uint64_t *)calloc(REGION_BITS / 64, sizeof(uint64_t));
    if (!bits) return NULL;
    s->slots[j].key = key;
    s->slots[j].bits = bits;
    s->used++;
    return &s->slots[j];
}

static int pset_has(pset_t *s, void *ptr) {
    uintptr_t p = (uintptr_t)ptr;
    uintptr_t key = (p >> REGION_SHIFT) + 1;
    size_t j = phash(key) & s->mask;
    for (;;) {
        region_t *r = &s->slots[j];
        if (!r->key) return 0;
        if (r->key == key) {
            size_t g = (p & ((1u << REGION_SHIFT) - 1)) >> GRAIN_SHIFT;
            return (r->bits[g >> 6] >> (g & 63)) & 1;
        }
        j = (j + 1) & s->mask;
    }
}

/* 1: added, 0: was there, -1: no memory */
static inline int pset_add(pset_t *s, void *ptr) {
    uintptr_t p = (uintptr_t)ptr;
    uintptr_t key = (p >> REGION_SHIFT) + 1;
    region_t *r = s->last;
    if (!r || r->key != key) {
        r = pset_region(s, key);
        if (!r) return -1;
        s->last = r;
    }
    size_t g = (p & ((1u << REGION_SHIFT) - 1)) >> GRAIN_SHIFT;
    uint64_t m = (uint64_t)1 << (g & 63);
    uint64_t *w = &r->bits[g >> 6];
    if (*w & m) return 0;
    *w |= m;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* census                                                                                      */

enum { M_FIXED = 0, M_METHOD = 1, M_GETSIZEOF = 2 };
/* how an M_METHOD size is computed: the C function, or its formula for object's and list's */
enum { F_CALL = 0, F_OBJECT = 1, F_LIST = 2 };
static PyCFunction object_sizeof = NULL, list_sizeof = NULL;

typedef struct {
    PyTypeObject *type;   /* a strong reference while the walk runs */
    int mode;
    int special;
    int is_gc;            /* has a tp_traverse: untracked instances are expanded */
    int leaf;             /* counted inside the traverse callback (no Python code needed) */
    Py_ssize_t size;      /* M_FIXED: the size; M_METHOD: the header */
    PyCFunction cfunc;    /* M_METHOD: the type's C __sizeof__ */
    int formula;          /* F_* */
    PyObject *descr;      /* M_METHOD: the descriptor, when cfunc cannot be called directly */
    Py_ssize_t count;
    long long bytes;
} tinfo_t;

typedef struct {
    tinfo_t *items;
    size_t mask;
    size_t used;
    tinfo_t *last;
} ttab_t;

typedef struct {
    PyObject **items;
    size_t n, cap;
} ostack_t;

typedef struct {
    ttab_t types;
    pset_t seen;
    pset_t skip;          /* objects the caller left out (its own) */
    int has_skip;
    ostack_t stack;       /* strong references */
    PyObject *specials;   /* list */
    PyObject *classify, *special_cb, *getsizeof, *safe_sizeof;
    Py_ssize_t total;
    int untracked;
    PyObject *collect;    /* list of (object, size) of the objects sized one by one that reach collect_min */
    Py_ssize_t collect_min;
    int failed;           /* a C failure (memory): the walk stops, the caller falls back */
} walk_t;

static int ostack_push(ostack_t *s, PyObject *o) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        PyObject **ni = (PyObject **)realloc(s->items, cap * sizeof(PyObject *));
        if (!ni) return -1;
        s->items = ni;
        s->cap = cap;
    }
    Py_INCREF(o);
    s->items[s->n++] = o;
    return 0;
}

static int ttab_init(ttab_t *t) {
    t->items = (tinfo_t *)calloc(256, sizeof(tinfo_t));
    if (!t->items) return -1;
    t->mask = 255;
    t->used = 0;
    t->last = NULL;
    return 0;
}

static inline size_t thash(PyTypeObject *tp) { return phash((uintptr_t)tp); }

static tinfo_t *ttab_find(ttab_t *t, PyTypeObject *tp) {
    if (t->last && t->last->type == tp) return t->last;
    size_t j = thash(tp) & t->mask;
    for (;;) {
        tinfo_t *e = &t->items[j];
        if (e->type == tp) { t->last = e; return e; }
        if (!e->type) return NULL;
        j = (j + 1) & t->mask;
    }
}

static tinfo_t *ttab_insert(ttab_t *t, PyTypeObject *tp) {
    if ((t->used + 1) * 2 > t->mask + 1) {
        size_t n = (t->mask + 1) * 2;
        tinfo_t *ni = (tinfo_t *)calloc(n, sizeof(tinfo_t));
        if (!ni) return NULL;
        for (size_t i = 0; i <= t->mask; i++) {
            if (!t->items[i].type) continue;
            size_t j = thash(t->items[i].type) & (n - 1);
            while (ni[j].type) j = (j + 1) & (n - 1);
            ni[j] = t->items[i];
        }
        free(t->items);
        t->items = ni;
        t->mask = n - 1;
    }
    t->last = NULL;
    size_t j = thash(tp) & t->mask;
    while (t->items[j].type) j = (j + 1) & t->mask;
    tinfo_t *e = &t->items[j];
    memset(e, 0, sizeof(*e));
    Py_INCREF(tp);
    e->type = tp;
    t->used++;
    return e;
}

/* The census's decision for a new type (classify(type, sample) -> (mode, size, descr, special)). */
static tinfo_t *classify(walk_t *w, PyObject *o) {
    PyTypeObject *tp = Py_TYPE(o);
    PyObject *r = PyObject_CallFunctionObjArgs(w->classify, (PyObject *)tp, o, NULL);
    if (!r) return NULL;
    int mode = 0, special = 0;
    Py_ssize_t size = 0;
    PyObject *descr = NULL;
    if (!PyArg_ParseTuple(r, "inOp", &mode, &size, &descr, &special)) { Py_DECREF(r); return NULL; }
    tinfo_t *e = ttab_insert(&w->types, tp);
    if (!e) { Py_DECREF(r); PyErr_NoMemory(); return NULL; }
    e->mode = mode;
    e->size = size;
    e->special = special;
    e->is_gc = PyType_IS_GC(tp) && tp->tp_traverse != NULL;
    if (mode == M_METHOD) {
        if (Py_TYPE(descr) == &PyMethodDescr_Type &&
            (((PyMethodDescrObject *)descr)->d_method->ml_flags & (METH_NOARGS | METH_VARARGS | METH_KEYWORDS
#ifdef METH_FASTCALL
                | METH_FASTCALL
#endif
                )) == METH_NOARGS) {
            e->cfunc = ((PyMethodDescrObject *)descr)->d_method->ml_meth;
            if (e->cfunc == object_sizeof) e->formula = F_OBJECT;
            else if (e->cfunc == list_sizeof && PyType_IsSubtype(tp, &PyList_Type)) e->formula = F_LIST;
        }
        Py_INCREF(descr);
        e->descr = descr;
    }
    /* Counted in the traverse callback: sized without Python code, nothing to expand or hand back. */
    e->leaf = !e->special && !e->is_gc && (mode == M_FIXED || (mode == M_METHOD && e->cfunc != NULL));
    Py_DECREF(r);
    return e;
}

/* The size of o by its type's C __sizeof__ (plus the header), or -1. Runs no Python code. */
static inline Py_ssize_t c_size(tinfo_t *e, PyObject *o) {
    if (e->formula == F_OBJECT) {
        Py_ssize_t n = Py_TYPE(o)->tp_basicsize;
        if (Py_TYPE(o)->tp_itemsize > 0) n += Py_SIZE(o) * Py_TYPE(o)->tp_itemsize;
        return n + e->size;
    }
    if (e->formula == F_LIST) return Py_TYPE(o)->tp_basicsize + ((PyListObject *)o)->allocated * (Py_ssize_t)sizeof(void *) + e->size;
    PyObject *r = e->cfunc(o, NULL);
    if (!r) return -1;
    Py_ssize_t n = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    if (n < 0) return -1;
    return n + e->size;
}

/* Counts and sizes o; may run Python code unless e->leaf. 0, or -1 with an exception set. */
static int collect(walk_t *w, PyObject *o, Py_ssize_t n) {
    if (!w->collect || n < w->collect_min) return 0;
    PyObject *t = Py_BuildValue("(On)", o, n);
    if (!t) return -1;
    int r = PyList_Append(w->collect, t);
    Py_DECREF(t);
    return r;
}

static int count_obj(walk_t *w, tinfo_t *e, PyObject *o) {
    e->count++;
    w->total++;
    if (e->mode == M_FIXED) return 0;
    PyObject *r;
    if (e->mode == M_METHOD) {
        if (e->cfunc) {
            Py_ssize_t n = c_size(e, o);
            if (n >= 0) {
                e->bytes += n;
                return collect(w, o, n);
            }
            r = NULL;
        } else r = PyObject_CallFunctionObjArgs(e->descr, o, NULL);
        if (r) {
            Py_ssize_t n = PyLong_AsSsize_t(r);
            Py_DECREF(r);
            if (!(n == -1 && PyErr_Occurred())) {
                e->bytes += n + e->size;
                return 0;
            }
        }
        PyErr_Clear();
        r = PyObject_CallFunctionObjArgs(w->safe_sizeof, o, NULL);
    } else {
        PyObject *args[1] = {o};
        r = VCALL(w->getsizeof, args, 1, NULL);
        if (!r) {
            PyErr_Clear();
            r = PyObject_CallFunctionObjArgs(w->safe_sizeof, o, NULL);
        }
    }
    if (!r) return -1;
    Py_ssize_t n = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    if (n == -1 && PyErr_Occurred()) return -1;
    e->bytes += n;
    return collect(w, o, n);
}

static int visit_ref(PyObject *o, void *arg) {
    walk_t *w = (walk_t *)arg;
    if (o == NULL || w->failed) return 0;
    if (GC_TRACKED(o)) return 0;
    if (Py_REFCNT(o) != 1) {
        int r = pset_add(&w->seen, o);
        if (r < 0) { w->failed = 1; return 0; }
        if (r == 0) return 0;
    }
    tinfo_t *e = ttab_find(&w->types, Py_TYPE(o));
    if (e && e->leaf) {
        e->count++;
        w->total++;
        if (e->mode == M_METHOD) {
            Py_ssize_t n = c_size(e, o);
            if (n < 0) { PyErr_Clear(); n = e->size; }
            e->bytes += n;
            if (collect(w, o, n) < 0) { PyErr_Clear(); w->failed = 1; }
        }
        return 0;
    }
    if (ostack_push(&w->stack, o) < 0) w->failed = 1;
    return 0;
}

static void traverse(walk_t *w, PyObject *o) {
    traverseproc tr = Py_TYPE(o)->tp_traverse;
    if (tr && PyObject_IS_GC(o)) tr(o, visit_ref, w);
}

/* An extra object (numpy base, object array item): walked when untracked and not seen. */
static int extra_ref(walk_t *w, PyObject *o) {
    if (GC_TRACKED(o)) return 0;
    int r = pset_add(&w->seen, o);
    if (r < 0) { w->failed = 1; return 0; }
    if (r == 0) return 0;
    if (ostack_push(&w->stack, o) < 0) w->failed = 1;
    return 0;
}

static int handle_obj(walk_t *w, PyObject *o, int expand) {
    tinfo_t *e = ttab_find(&w->types, Py_TYPE(o));
    if (!e) {
        e = classify(w, o);
        if (!e) return -1;
    }
    if (count_obj(w, e, o) < 0) return -1;
    if (e->special && PyList_Append(w->specials, o) < 0) return -1;
    if (expand && e->is_gc) traverse(w, o);
    return 0;
}

static int drain(walk_t *w) {
    while (w->stack.n && !w->failed) {
        PyObject *o = w->stack.items[--w->stack.n];
        int r = handle_obj(w, o, 1);
        Py_DECREF(o);
        if (r < 0) return -1;
    }
    return 0;
}

static int run_specials(walk_t *w) {
    while (PyList_GET_SIZE(w->specials) && !w->failed) {
        PyObject *batch = w->specials;
        w->specials = PyList_New(0);
        if (!w->specials) { w->specials = batch; return -1; }
        PyObject *r = PyObject_CallFunctionObjArgs(w->special_cb, batch, NULL);
        Py_DECREF(batch);
        if (!r) return -1;
        if (!w->untracked) { Py_DECREF(r); continue; }
        PyObject *extra = NULL, *parts = NULL;
        if (!PyArg_ParseTuple(r, "OO", &extra, &parts)) { Py_DECREF(r); return -1; }
        if (extra != Py_None) {
            PyObject *seq = PySequence_Fast(extra, "extra");
            if (!seq) { Py_DECREF(r); return -1; }
            for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++)
                extra_ref(w, PySequence_Fast_GET_ITEM(seq, i));
            Py_DECREF(seq);
            if (drain(w) < 0) { Py_DECREF(r); return -1; }
        }
        if (parts != Py_None) {
            PyObject *it = PyObject_GetIter(parts);
            if (!it) { Py_DECREF(r); return -1; }
            PyObject *part;
            while ((part = PyIter_Next(it)) != NULL) {
                PyObject *seq = PySequence_Fast(part, "items");
                Py_DECREF(part);
                if (!seq) { Py_DECREF(it); Py_DECREF(r); return -1; }
                for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++)
                    extra_ref(w, PySequence_Fast_GET_ITEM(seq, i));
                Py_DECREF(seq);
                if (drain(w) < 0) { Py_DECREF(it); Py_DECREF(r); return -1; }
            }
            Py_DECREF(it);
            if (PyErr_Occurred()) { Py_DECREF(r); return -1; }
        }
        Py_DECREF(r);
    }
    return 0;
}

#define SPECIAL_BATCH 8192

/* census_walk(objs, untracked, classify, special, getsizeof, safe_sizeof[, skip, collect_min, collect])
 *   -> (total, [(type, count, bytes), ...]) */
static PyObject *m_census_walk(PyObject *self, PyObject *args) {
    PyObject *objs;
    int untracked;
    walk_t w;
    memset(&w, 0, sizeof(w));
    PyObject *skip = Py_None, *coll = Py_None;
    Py_ssize_t coll_min = 0;
    if (!PyArg_ParseTuple(args, "O!pOOOO|OnO", &PyList_Type, &objs, &untracked, &w.classify, &w.special_cb,
                          &w.getsizeof, &w.safe_sizeof, &skip, &coll_min, &coll))
        return NULL;
    if (coll != Py_None) {
        if (!PyList_Check(coll)) { PyErr_SetString(PyExc_TypeError, "collect: a list"); return NULL; }
        w.collect = coll;
        w.collect_min = coll_min;
    }
    w.untracked = untracked;
    PyObject *out = NULL;
    if (ttab_init(&w.types) < 0 || pset_init(&w.seen, 1 << 16) < 0) { PyErr_NoMemory(); goto done; }
    w.specials = PyList_New(0);
    if (!w.specials) goto done;
    if (skip != Py_None) {
        PyObject *seq = PySequence_Fast(skip, "skip");
        if (!seq) goto done;
        if (pset_init(&w.skip, 0) < 0) { Py_DECREF(seq); PyErr_NoMemory(); goto done; }
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
            if (pset_add(&w.skip, PySequence_Fast_GET_ITEM(seq, i)) < 0) { Py_DECREF(seq); PyErr_NoMemory(); goto done; }
            w.has_skip = 1;
        }
        Py_DECREF(seq);
    }
    /* The tracked objects (the list holds them: no one frees them meanwhile), each counted, then
     * its untracked referents. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs) && !w.failed; i++) {
        PyObject *o = PyList_GET_ITEM(objs, i);
        if (w.has_skip && pset_has(&w.skip, o)) continue;
        Py_INCREF(o);
        int r = handle_obj(&w, o, 0);
        if (r == 0 && untracked) {
            traverse(&w, o);
            r = drain(&w);
        }
        Py_DECREF(o);
        if (r < 0) goto done;
        if (PyList_GET_SIZE(w.specials) >= SPECIAL_BATCH && run_specials(&w) < 0) goto done;
    }
    if (run_specials(&w) < 0) goto done;
    if (w.failed) { PyErr_NoMemory(); goto done; }
    PyObject *rows = PyList_New(0);
    if (!rows) goto done;
    for (size_t i = 0; i <= w.types.mask; i++) {
        tinfo_t *e = &w.types.items[i];
        if (!e->type || !e->count) continue;
        PyObject *row = Py_BuildValue("(OnL)", (PyObject *)e->type, e->count, e->bytes);
        if (!row || PyList_Append(rows, row) < 0) { Py_XDECREF(row); Py_DECREF(rows); goto done; }
        Py_DECREF(row);
    }
    out = Py_BuildValue("(nN)", w.total, rows);
done:
    while (w.stack.n) Py_DECREF(w.stack.items[--w.stack.n]);
    free(w.stack.items);
    if (w.types.items) {
        for (size_t i = 0; i <= w.types.mask; i++) {
            Py_XDECREF(w.types.items[i].descr);
            Py_XDECREF((PyObject *)w.types.items[i].type);
        }
        free(w.types.items);
    }
    pset_free(&w.seen);
    pset_free(&w.skip);
    Py_XDECREF(w.specials);
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* duplicate search: sources                                                                   */

enum { S_CONTIG = 0, S_LIST = 1, S_F2 = 2, S_STRIDED = 3 };
#define MAXDIM 32

typedef struct {
    int kind;
    const char *ptr;
    Py_ssize_t nbytes;
    PyObject *seq;         /* S_LIST: the list or tuple (borrowed from the caller's args) */
    Py_ssize_t n;          /* elements */
    char ek;               /* element kind: 'f', 'i', 'u', 'b', or 0 (raw only) */
    int isz;               /* element size */
    int ndim;
    Py_ssize_t shape[MAXDIM], strides[MAXDIM];
    Py_ssize_t R, C;       /* S_F2: rows, columns */
    Py_buffer view;
    int has_view;
} src_t;

static void src_release(src_t *s) {
    if (s->has_view) PyBuffer_Release(&s->view);
    s->has_view = 0;
}

/* typestr ('<f8', '|u1', '=i4', ...): the element kind and size, or kind 0 when not castable here. */
static void parse_typestr(const char *t, char *ek, int *isz) {
    *ek = 0;
    *isz = 0;
    if (!t || strlen(t) < 3) return;
    int size = atoi(t + 2);
    *isz = size;
    char order = t[0];
    int little = 1;
    {
        uint16_t one = 1;
        little = *(uint8_t *)&one == 1;
    }
    int native = order == '|' || order == '=' || (order == '<' && little) || (order == '>' && !little);
    if (!native) return;
    char k = t[1];
    if (k == 'f' && (size == 4 || size == 8)) *ek = 'f';
    else if ((k == 'i' || k == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) *ek = k;
    else if (k == 'b' && size == 1) *ek = 'b';
}

/* src_open(obj, kind, code): kind 'buf' | 'ascii' | 'list' | 'arr'. 0, or -1 with an exception. */
static int src_open(src_t *s, PyObject *obj, const char *kind, const char *code) {
    memset(s, 0, sizeof(*s));
    if (!strcmp(kind, "buf")) {
        if (PyObject_GetBuffer(obj, &s->view, PyBUF_SIMPLE) < 0) return -1;
        s->has_view = 1;
        s->kind = S_CONTIG;
        s->ptr = (const char *)s->view.buf;
        s->nbytes = s->view.len;
        s->isz = 1;
        s->ek = 'u';
        s->n = s->nbytes;
        return 0;
    }
    if (!strcmp(kind, "ascii")) {
        if (!PyUnicode_Check(obj) || PyUnicode_READY(obj) < 0 || PyUnicode_KIND(obj) != PyUnicode_1BYTE_KIND ||
            !PyUnicode_IS_ASCII(obj)) {
            PyErr_SetString(PyExc_ValueError, "not an ASCII str");
            return -1;
        }
        s->kind = S_CONTIG;
        s->ptr = (const char *)PyUnicode_DATA(obj);
        s->nbytes = PyUnicode_GET_LENGTH(obj);
        s->isz = 1;
        s->ek = 'u';
        s->n = s->nbytes;
        return 0;
    }
    if (!strcmp(kind, "list")) {
        if (!PyList_CheckExact(obj) && !PyTuple_CheckExact(obj)) {
            PyErr_SetString(PyExc_ValueError, "not a list");
            return -1;
        }
        s->kind = S_LIST;
        s->seq = obj;
        s->n = PySequence_Fast_GET_SIZE(obj);
        s->isz = 8;
        s->ek = (code && code[0] == 'd') ? 'f' : 'i';
        s->nbytes = s->n * 8;
        return 0;
    }
    if (!strcmp(kind, "arr")) {
        PyObject *ai = PyObject_GetAttrString(obj, "__array_interface__");
        if (!ai) return -1;
        int rc = -1;
        PyObject *data = PyDict_GetItemString(ai, "data");
        PyObject *shape = PyDict_GetItemString(ai, "shape");
        PyObject *strides = PyDict_GetItemString(ai, "strides");
        PyObject *typestr = PyDict_GetItemString(ai, "typestr");
        if (!data || !PyTuple_Check(data) || PyTuple_GET_SIZE(data) < 1 || !shape || !PyTuple_Check(shape) ||
            !typestr || !PyUnicode_Check(typestr) || PyTuple_GET_SIZE(shape) > MAXDIM) {
            PyErr_SetString(PyExc_ValueError, "unexpected __array_interface__");
            goto arr_done;
        }
        if (PyDict_GetItemString(ai, "mask") || (PyDict_GetItemString(ai, "descr") && 0)) {
            PyErr_SetString(PyExc_ValueError, "masked array");
            goto arr_done;
        }
        {
            void *p = PyLong_AsVoidPtr(PyTuple_GET_ITEM(data, 0));
            if (!p && PyErr_Occurred()) goto arr_done;
            const char *ts = PyUnicode_AsUTF8(typestr);
            if (!ts) goto arr_done;
            parse_typestr(ts, &s->ek, &s->isz);
            {
                /* The typestr's number is not always the size ('<U5' is 20 bytes): numpy's itemsize. */
                PyObject *isz = PyObject_GetAttrString(obj, "itemsize");
                if (!isz) goto arr_done;
                long v = PyLong_AsLong(isz);
                Py_DECREF(isz);
                if (v == -1 && PyErr_Occurred()) goto arr_done;
                if (v != s->isz) s->ek = 0;
                s->isz = (int)v;
            }
            if (s->isz <= 0) {
                PyErr_SetString(PyExc_ValueError, "unexpected typestr");
                goto arr_done;
            }
            s->ndim = (int)PyTuple_GET_SIZE(shape);
            s->n = 1;
            for (int d = 0; d < s->ndim; d++) {
                s->shape[d] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, d));
                if (s->shape[d] < 0) { if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "shape"); goto arr_done; }
                s->n *= s->shape[d];
            }
            int contig = 1;
            if (strides && strides != Py_None) {
                if (!PyTuple_Check(strides) || PyTuple_GET_SIZE(strides) != s->ndim) {
                    PyErr_SetString(PyExc_ValueError, "strides");
                    goto arr_done;
                }
                Py_ssize_t want = s->isz;
                for (int d = s->ndim - 1; d >= 0; d--) {
                    s->strides[d] = PyLong_AsSsize_t(PyTuple_GET_ITEM(strides, d));
                    if (s->strides[d] == -1 && PyErr_Occurred()) goto arr_done;
                    if (s->shape[d] > 1 && s->strides[d] != want) contig = 0;
                    want *= s->shape[d];
                }
            } else {
                Py_ssize_t want = s->isz;
                for (int d = s->ndim - 1; d >= 0; d--) {
                    s->strides[d] = want;
                    want *= s->shape[d];
                }
            }
            s->ptr = (const char *)p;
            s->nbytes = s->n * s->isz;
            if (contig || s->n <= 1) s->kind = S_CONTIG;
            else if (s->ndim == 2 && s->strides[0] == s->isz && s->strides[1] == s->isz * s->shape[0]) {
                s->kind = S_F2;
                s->R = s->shape[0];
                s->C = s->shape[1];
            } else s->kind = S_STRIDED;
            rc = 0;
        }
    arr_done:
        Py_DECREF(ai);
        return rc;
    }
    PyErr_Format(PyExc_ValueError, "unknown source kind %s", kind);
    return -1;
}

/* Elements [e0, e1) of a list source into dst as float64 or int64. -1: not numbers (exception set). */
static int list_gather(src_t *s, Py_ssize_t e0, Py_ssize_t e1, char *dst) {
    if (PySequence_Fast_GET_SIZE(s->seq) != s->n || e1 > s->n) {
        PyErr_SetString(PyExc_ValueError, "the list changed");
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(s->seq);
    if (s->ek == 'f') {
        double *d = (double *)dst;
        for (Py_ssize_t i = e0; i < e1; i++) {
            PyObject *o = items[i];
            if (i + 16 < e1) __builtin_prefetch(items[i + 16]);
            if (Py_TYPE(o) != &PyFloat_Type) { PyErr_SetString(PyExc_ValueError, "not floats"); return -1; }
            d[i - e0] = PyFloat_AS_DOUBLE(o);
        }
    } else {
        int64_t *d = (int64_t *)dst;
        for (Py_ssize_t i = e0; i < e1; i++) {
            PyObject *o = items[i];
            if (Py_TYPE(o) != &PyLong_Type) { PyErr_SetString(PyExc_ValueError, "not ints"); return -1; }
            int overflow = 0;
            long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
            if (overflow || (v == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                PyErr_SetString(PyExc_ValueError, "int out of range");
                return -1;
            }
            d[i - e0] = (int64_t)v;
        }
    }
    return 0;
}

/* Elements [e0, e1) of an array source in C order, raw, into dst (isz bytes each). */
static void arr_gather(src_t *s, Py_ssize_t e0, Py_ssize_t e1, char *dst) {
    int isz = s->isz;
    if (s->kind == S_CONTIG) {
        memcpy(dst, s->ptr + e0 * isz, (size_t)(e1 - e0) * isz);
        return;
    }
    if (s->kind == S_F2) {
        Py_ssize_t R = s->R, C = s->C;
        Py_ssize_t e = e0;
        char *out = dst;
        /* the first partial row */
        while (e < e1 && (e % C) != 0) {
            Py_ssize_t i = e / C, j = e % C;
            memcpy(out, s->ptr + (j * R + i) * isz, isz);
            out += isz;
            e++;
        }
        Py_ssize_t r0 = e / C, r1 = e1 / C;
        if (r1 > r0) {
            /* whole rows [r0, r1): by tiles of 32 rows x 64 columns (both sides read in runs) */
            const Py_ssize_t TI = 32, TJ = 64;
            for (Py_ssize_t i0 = r0; i0 < r1; i0 += TI) {
                Py_ssize_t i1 = i0 + TI < r1 ? i0 + TI : r1;
                for (Py_ssize_t j0 = 0; j0 < C; j0 += TJ) {
                    Py_ssize_t j1 = j0 + TJ < C ? j0 + TJ : C;
                    for (Py_ssize_t j = j0; j < j1; j++) {
                        const char *col = s->ptr + (j * R) * isz;
                        if (isz == 8) {
                            for (Py_ssize_t i = i0; i < i1; i++)
                                memcpy(out + ((i - r0) * C + j) * 8, col + i * 8, 8);
                        } else if (isz == 4) {
                            for (Py_ssize_t i = i0; i < i1; i++)
                                memcpy(out + ((i - r0) * C + j) * 4, col + i * 4, 4);
                        } else {
                            for (Py_ssize_t i = i0; i < i1; i++)
                                memcpy(out + ((i - r0) * C + j) * isz, col + i * isz, isz);
                        }
                    }
                }
            }
            out += (r1 - r0) * C * isz;
            e = r1 * C;
        }
        while (e < e1) {
            Py_ssize_t i = e / C, j = e % C;
            memcpy(out, s->ptr + (j * R + i) * isz, isz);
            out += isz;
            e++;
        }
        return;
    }
    /* any strides: an n-d index stepped in C order */
    Py_ssize_t idx[MAXDIM];
    Py_ssize_t rem = e0;
    Py_ssize_t off = 0;
    for (int d = s->ndim - 1; d >= 0; d--) {
        idx[d] = s->shape[d] ? rem % s->shape[d] : 0;
        rem = s->shape[d] ? rem / s->shape[d] : 0;
        off += idx[d] * s->strides[d];
    }
    for (Py_ssize_t e = e0; e < e1; e++) {
        memcpy(dst, s->ptr + off, isz);
        dst += isz;
        for (int d = s->ndim - 1; d >= 0; d--) {
            idx[d]++;
            off += s->strides[d];
            if (idx[d] < s->shape[d]) break;
            off -= idx[d] * s->strides[d];
            idx[d] = 0;
        }
    }
}

static int gather(src_t *s, Py_ssize_t e0, Py_ssize_t e1, char *dst) {
    if (s->kind == S_LIST) return list_gather(s, e0, e1, dst);
    arr_gather(s, e0, e1, dst);
    return 0;
}

#define LOAD(T) { const T *p = (const T *)src; for (Py_ssize_t i = 0; i < n; i++) STORE(p[i]); }
#define CONVERT_FROM(sk, ssz)                                                             \
    do {                                                                                  \
        if (sk == 'f' && ssz == 8) LOAD(double)                                           \
        else if (sk == 'f' && ssz == 4) LOAD(float)                                       \
        else if (sk == 'i' && ssz == 8) LOAD(int64_t)                                     \
        else if (sk == 'i' && ssz == 4) LOAD(int32_t)                                     \
        else if (sk == 'i' && ssz == 2) LOAD(int16_t)                                     \
        else if (sk == 'i' && ssz == 1) LOAD(int8_t)                                      \
        else if (sk == 'u' && ssz == 8) LOAD(uint64_t)                                    \
        else if (sk == 'u' && ssz == 4) LOAD(uint32_t)                                    \
        else if (sk == 'u' && ssz == 2) LOAD(uint16_t)                                    \
        else if (sk == 'u' && ssz == 1) LOAD(uint8_t)                                     \
        else if (sk == 'b' && ssz == 1) LOAD(uint8_t)                                     \
    } while (0)

/* n elements of kind (sk, ssz) at src cast to (tk, tsz) at dst (C casts, as numpy's unsafe astype). */
static void convert(const char *src, char sk, int ssz, char *dst, char tk, int tsz, Py_ssize_t n) {
#define CASE(TK, TSZ, T)                                                                  \
    if (tk == TK && tsz == TSZ) {                                                         \
        T *q = (T *)dst;                                                                  \
        Py_ssize_t k = 0;                                                                 \
        (void)k;
#define END_CASE return; }
    if (tk == 'b') {
        uint8_t *q = (uint8_t *)dst;
#define STORE(v) (q[i] = (uint8_t)((v) != 0))
        CONVERT_FROM(sk, ssz);
#undef STORE
        return;
    }
#define STORE(v) (q[i] = (v))
    CASE('f', 8, double) CONVERT_FROM(sk, ssz); END_CASE
    CASE('f', 4, float) CONVERT_FROM(sk, ssz); END_CASE
#undef STORE
#define STORE(v) (q[i] = (__typeof__(q[0]))(v))
    CASE('i', 8, int64_t) CONVERT_FROM(sk, ssz); END_CASE
    CASE('i', 4, int32_t) CONVERT_FROM(sk, ssz); END_CASE
    CASE('i', 2, int16_t) CONVERT_FROM(sk, ssz); END_CASE
    CASE('i', 1, int8_t) CONVERT_FROM(sk, ssz); END_CASE
    CASE('u', 8, uint64_t) CONVERT_FROM(sk, ssz); END_CASE
    CASE('u', 4, uint32_t) CONVERT_FROM(sk, ssz); END_CASE
    CASE('u', 2, uint16_t) CONVERT_FROM(sk, ssz); END_CASE
    CASE('u', 1, uint8_t) CONVERT_FROM(sk, ssz); END_CASE
#undef STORE
#undef CASE
#undef END_CASE
}

typedef struct {
    char tk;      /* 0: raw bytes (units are bytes); else the target element kind (units are elements) */
    int tsz;
} mode_t_;

/* A read buffer of the source, grown as needed. */
typedef struct {
    char *buf, *tmp;
    size_t cap, tcap;
} rbuf_t;

static char *rb_get(char **p, size_t *cap, size_t n) {
    if (*cap < n) {
        char *q = (char *)realloc(*p, n);
        if (!q) { PyErr_NoMemory(); return NULL; }
        *p = q;
        *cap = n;
    }
    return *p;
}

/* Units [lo, hi) of s in mode m: a pointer to (hi - lo) units of bytes (into s or into rb). */
static const char *read_units(src_t *s, mode_t_ m, Py_ssize_t lo, Py_ssize_t hi, rbuf_t *rb) {
    if (m.tk == 0) {
        if (s->kind == S_CONTIG) return s->ptr + lo;
        Py_ssize_t isz = s->isz;
        Py_ssize_t e0 = lo / isz, e1 = (hi + isz - 1) / isz;
        char *b = rb_get(&rb->buf, &rb->cap, (size_t)(e1 - e0) * isz + 8);
        if (!b || gather(s, e0, e1, b) < 0) return NULL;
        return b + (lo - e0 * isz);
    }
    if (s->ek == 0) {
        PyErr_SetString(PyExc_ValueError, "dtype not castable here");
        return NULL;
    }
    if (s->ek == m.tk && s->isz == m.tsz) {
        if (s->kind == S_CONTIG) return s->ptr + lo * s->isz;
        char *b = rb_get(&rb->buf, &rb->cap, (size_t)(hi - lo) * s->isz + 8);
        if (!b || gather(s, lo, hi, b) < 0) return NULL;
        return b;
    }
    const char *raw;
    if (s->kind == S_CONTIG) raw = s->ptr + lo * s->isz;
    else {
        char *t = rb_get(&rb->tmp, &rb->tcap, (size_t)(hi - lo) * s->isz + 8);
        if (!t || gather(s, lo, hi, t) < 0) return NULL;
        raw = t;
    }
    char *b = rb_get(&rb->buf, &rb->cap, (size_t)(hi - lo) * m.tsz + 8);
    if (!b) return NULL;
    convert(raw, s->ek, s->isz, b, m.tk, m.tsz, hi - lo);
    return b;
}

static int parse_mode(PyObject *target, mode_t_ *m) {
    m->tk = 0;
    m->tsz = 1;
    if (target == Py_None) return 0;
    const char *t = PyUnicode_AsUTF8(target);
    if (!t) return -1;
    char ek;
    int isz;
    parse_typestr(t, &ek, &isz);
    if (!ek) {
        PyErr_Format(PyExc_ValueError, "target %s not castable here", t);
        return -1;
    }
    m->tk = ek;
    m->tsz = isz;
    return 0;
}

/* Units per piece: 1 MiB, or whole tiles of rows for a Fortran-order source. */
static Py_ssize_t piece_units(src_t *s, mode_t_ m) {
    Py_ssize_t unit = m.tk ? m.tsz : 1;
    Py_ssize_t p = (1 << 20) / unit;
    if (s->kind == S_F2 && s->R * s->isz > 4096) {
        Py_ssize_t rows = 32 * s->C;  /* elements */
        Py_ssize_t u = m.tk ? rows : rows * s->isz;
        if (u > p) p = u;
    }
    return p;
}

/* 128-bit hash: two 64-bit lanes over 8-byte words (an index; equality is always confirmed). */
typedef struct { uint64_t a, b; } h128_t;

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static void h_update(h128_t *h, const char *p, Py_ssize_t n) {
    uint64_t a = h->a, b = h->b;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a = rotl(a ^ (w * 0x87C37B91114253D5ULL), 31) * 0x4CF5AD432745937FULL;
        b = (b ^ w) * 0x100000001B3ULL + 0x9E3779B97F4A7C15ULL;
    }
    for (; i < n; i++) {
        uint64_t w = (uint8_t)p[i];
        a = rotl(a ^ (w * 0x87C37B91114253D5ULL), 31) * 0x4CF5AD432745937FULL;
        b = (b ^ w) * 0x100000001B3ULL;
    }
    h->a = a;
    h->b = b;
}

#define SAMPLES 32
#define SAMPLE_BYTES 4096

/* dup_hash(obj, kind, code, target, total) -> 16 bytes: the length and SAMPLES pieces over [0, total). */
static PyObject *m_dup_hash(PyObject *self, PyObject *args) {
    PyObject *obj, *target;
    const char *kind, *code;
    Py_ssize_t total;
    if (!PyArg_ParseTuple(args, "OszOn", &obj, &kind, &code, &target, &total)) return NULL;
    mode_t_ m;
    if (parse_mode(target, &m) < 0) return NULL;
    src_t s;
    if (src_open(&s, obj, kind, code) < 0) return NULL;
    Py_ssize_t have = m.tk ? s.n : s.nbytes;
    PyObject *out = NULL;
    rbuf_t rb = {0};
    if (have < total) {
        PyErr_SetString(PyExc_ValueError, "the data is shorter than asked");
        goto done;
    }
    h128_t h = {0x243F6A8885A308D3ULL ^ (uint64_t)total, 0x13198A2E03707344ULL + (uint64_t)total};
    Py_ssize_t unit = m.tk ? m.tsz : 1;
    Py_ssize_t piece = SAMPLE_BYTES / unit;
    if (piece < 1) piece = 1;
    if (total <= piece * SAMPLES) {
        const char *p = read_units(&s, m, 0, total, &rb);
        if (!p) goto done;
        h_update(&h, p, total * unit);
    } else {
        Py_ssize_t span = total - piece;
        for (int k = 0; k < SAMPLES; k++) {
            Py_ssize_t lo = span * k / (SAMPLES - 1);
            const char *p = read_units(&s, m, lo, lo + piece, &rb);
            if (!p) goto done;
            h_update(&h, p, piece * unit);
        }
    }
    {
        char digest[16];
        memcpy(digest, &h.a, 8);
        memcpy(digest + 8, &h.b, 8);
        out = PyBytes_FromStringAndSize(digest, 16);
    }
done:
    free(rb.buf);
    free(rb.tmp);
    src_release(&s);
    return out;
}

/* ---- comparing by tiles: a 2-D Fortran-order array against data of the same C-order values ----
 * Read in C order, a Fortran-order array of R rows x C columns touches one page per element when
 * R is large; read by tiles of TILE x TILE, each column of the tile is a run of TILE elements and
 * each row of the other side too: both are read page by page. */
#define TILE 512

static int tile_ok(src_t *s, src_t *f, mode_t_ m) {
    if (s->kind == S_CONTIG) return 1;
    if (s->kind == S_F2) return s->R == f->R && s->C == f->C && (m.tk || s->isz == f->isz);
    if (s->kind == S_LIST) return m.tk || f->isz == 8;
    return 0;
}

/* The tile [i0, i1) x [j0, j1) of s (values at C-order positions i*C + j) into dst, row by row,
 * each value in `usz` bytes: raw (m.tk == 0, usz the array's element size) or cast. */
static int tile_gather(src_t *s, mode_t_ m, Py_ssize_t C, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0,
                       Py_ssize_t j1, char *dst, char *tmp, int usz) {
    Py_ssize_t W = j1 - j0, H = i1 - i0;
    if (s->kind == S_F2) {
        int isz = s->isz;
        char *raw = (m.tk && !(s->ek == m.tk && s->isz == m.tsz)) ? tmp : dst;
        /* by blocks of 8 x 8: a cache line of each of 8 columns into a line of each of 8 rows
         * (element by element, the tile's rows, 4 KiB apart, evicted each other from the caches) */
        for (Py_ssize_t jb = j0; jb < j1; jb += 8) {
            Py_ssize_t je = jb + 8 < j1 ? jb + 8 : j1;
            for (Py_ssize_t ib = i0; ib < i1; ib += 8) {
                Py_ssize_t ie = ib + 8 < i1 ? ib + 8 : i1;
                for (Py_ssize_t j = jb; j < je; j++) {
                    const char *col = s->ptr + (j * s->R) * isz;
                    char *out = raw + (j - j0) * isz;
                    if (isz == 8) {
                        for (Py_ssize_t i = ib; i < ie; i++) memcpy(out + (i - i0) * W * 8, col + i * 8, 8);
                    } else if (isz == 4) {
                        for (Py_ssize_t i = ib; i < ie; i++) memcpy(out + (i - i0) * W * 4, col + i * 4, 4);
                    } else {
                        for (Py_ssize_t i = ib; i < ie; i++) memcpy(out + (i - i0) * W * isz, col + i * isz, isz);
                    }
                }
            }
        }
        if (raw != dst) {
            if (!s->ek) { PyErr_SetString(PyExc_ValueError, "dtype not castable here"); return -1; }
            convert(raw, s->ek, isz, dst, m.tk, m.tsz, W * H);
        }
        return 0;
    }
    for (Py_ssize_t i = i0; i < i1; i++) {
        Py_ssize_t e0 = i * C + j0, e1 = i * C + j1;
        char *out = dst + (i - i0) * W * usz;
        if (m.tk == 0) {
            if (s->kind == S_CONTIG) memcpy(out, s->ptr + e0 * usz, (size_t)W * usz);
            else if (list_gather(s, e0, e1, out) < 0) return -1;  /* usz == 8 (tile_ok) */
        } else {
            if (s->kind == S_CONTIG) {
                if (s->ek == m.tk && s->isz == m.tsz) memcpy(out, s->ptr + e0 * s->isz, (size_t)W * usz);
                else if (!s->ek) { PyErr_SetString(PyExc_ValueError, "dtype not castable here"); return -1; }
                else convert(s->ptr + e0 * s->isz, s->ek, s->isz, out, m.tk, m.tsz, W);
            } else {
                if (list_gather(s, e0, e1, tmp) < 0) return -1;
                if (s->ek == m.tk && 8 == m.tsz) memcpy(out, tmp, (size_t)W * 8);
                else convert(tmp, s->ek, 8, out, m.tk, m.tsz, W);
            }
        }
    }
    return 0;
}

/* 1 equal, 0 not, -1 error; -2: not applicable (the linear compare runs). */
static int tile_equal(src_t *a, src_t *b, mode_t_ m, Py_ssize_t total) {
    src_t *f = a->kind == S_F2 ? a : (b->kind == S_F2 ? b : NULL);
    if (!f || (Py_ssize_t)f->R * f->isz <= 4096 || f->C < 2) return -2;
    if (!tile_ok(a, f, m) || !tile_ok(b, f, m)) return -2;
    int usz = m.tk ? m.tsz : f->isz;
    if ((m.tk ? f->n : f->nbytes) != total) return -2;
    size_t cap = (size_t)TILE * TILE * (usz > 8 ? usz : 8);
    char *ba = (char *)malloc(cap), *bb = (char *)malloc(cap), *tmp = (char *)malloc(cap);
    int rc = 1;
    if (!ba || !bb || !tmp) { PyErr_NoMemory(); rc = -1; goto out; }
    for (Py_ssize_t i0 = 0; i0 < f->R && rc == 1; i0 += TILE) {
        Py_ssize_t i1 = i0 + TILE < f->R ? i0 + TILE : f->R;
        for (Py_ssize_t j0 = 0; j0 < f->C; j0 += TILE) {
            Py_ssize_t j1 = j0 + TILE < f->C ? j0 + TILE : f->C;
            /* A C-contiguous side read in its units is compared in place, row by row. */
            src_t *direct = NULL, *other = b;
            if (a->kind == S_CONTIG && (!m.tk || (a->ek == m.tk && a->isz == m.tsz))) { direct = a; other = b; }
            else if (b->kind == S_CONTIG && (!m.tk || (b->ek == m.tk && b->isz == m.tsz))) { direct = b; other = a; }
            if (direct) {
                if (tile_gather(other, m, f->C, i0, i1, j0, j1, ba, tmp, usz) < 0) { rc = -1; break; }
                Py_ssize_t W = j1 - j0;
                for (Py_ssize_t i = i0; i < i1; i++) {
                    if (memcmp(ba + (i - i0) * W * usz, direct->ptr + (i * f->C + j0) * usz, (size_t)W * usz) != 0) { rc = 0; break; }
                }
                if (rc != 1) break;
                continue;
            }
            if (tile_gather(a, m, f->C, i0, i1, j0, j1, ba, tmp, usz) < 0 ||
                tile_gather(b, m, f->C, i0, i1, j0, j1, bb, tmp, usz) < 0) { rc = -1; break; }
            if (memcmp(ba, bb, (size_t)(i1 - i0) * (j1 - j0) * usz) != 0) { rc = 0; break; }
        }
    }
out:
    free(ba);
    free(bb);
    free(tmp);
    return rc;
}

/* dup_equal(obj1, kind1, code1, obj2, kind2, code2, target, total) -> bool */
static PyObject *m_dup_equal(PyObject *self, PyObject *args) {
    PyObject *o1, *o2, *target;
    const char *k1, *k2, *c1, *c2;
    Py_ssize_t total;
    if (!PyArg_ParseTuple(args, "OszOszOn", &o1, &k1, &c1, &o2, &k2, &c2, &target, &total)) return NULL;
    mode_t_ m;
    if (parse_mode(target, &m) < 0) return NULL;
    src_t s1, s2;
    if (src_open(&s1, o1, k1, c1) < 0) return NULL;
    if (src_open(&s2, o2, k2, c2) < 0) { src_release(&s1); return NULL; }
    PyObject *out = NULL;
    rbuf_t r1 = {0}, r2 = {0};
    Py_ssize_t have1 = m.tk ? s1.n : s1.nbytes, have2 = m.tk ? s2.n : s2.nbytes;
    if (have1 < total || have2 < total) {
        PyErr_SetString(PyExc_ValueError, "the data is shorter than asked");
        goto done;
    }
    {
        int t = tile_equal(&s1, &s2, m, total);
        if (t == -1) goto done;
        if (t >= 0) {
            out = PyBool_FromLong(t);
            goto done;
        }
    }
    {
        Py_ssize_t p1 = piece_units(&s1, m), p2 = piece_units(&s2, m);
        Py_ssize_t step = p1 > p2 ? p1 : p2;
        Py_ssize_t unit = m.tk ? m.tsz : 1;
        int same = 1;
        for (Py_ssize_t lo = 0; lo < total && same; lo += step) {
            Py_ssize_t hi = lo + step < total ? lo + step : total;
            const char *a = read_units(&s1, m, lo, hi, &r1);
            if (!a) goto done;
            const char *b = read_units(&s2, m, lo, hi, &r2);
            if (!b) goto done;
            if (memcmp(a, b, (size_t)(hi - lo) * unit) != 0) same = 0;
        }
        out = PyBool_FromLong(same);
    }
done:
    free(r1.buf);
    free(r1.tmp);
    free(r2.buf);
    free(r2.tmp);
    src_release(&s1);
    src_release(&s2);
    return out;
}

static PyObject *m_trim(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
#if defined(__GLIBC__)
    int released;
    Py_BEGIN_ALLOW_THREADS
    released = malloc_trim(0);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(released);
#else
    Py_RETURN_NONE;
#endif
}

static PyMethodDef methods[] = {
    {"census_walk", m_census_walk, METH_VARARGS, "the census's walk (see the file's comment)"},
    {"dup_hash", m_dup_hash, METH_VARARGS, "hash of the length and 32 pieces of a source's data"},
    {"dup_equal", m_dup_equal, METH_VARARGS, "whether two sources hold equal data"},
    {"trim", m_trim, METH_NOARGS, "malloc_trim(0) where the C library has it: True when memory was given back, None without it"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_memhunt_heap", "memhunt's heap helpers (census, duplicates)", -1, methods,
                                       NULL, NULL, NULL, NULL};

static PyCFunction sizeof_of(PyObject *type) {
    PyObject *d = PyObject_GetAttrString(type, "__sizeof__");
    PyCFunction f = NULL;
    if (d && Py_TYPE(d) == &PyMethodDescr_Type) f = ((PyMethodDescrObject *)d)->d_method->ml_meth;
    Py_XDECREF(d);
    PyErr_Clear();
    return f;
}

PyMODINIT_FUNC PyInit__memhunt_heap(void) {
    object_sizeof = sizeof_of((PyObject *)&PyBaseObject_Type);
    list_sizeof = sizeof_of((PyObject *)&PyList_Type);
    return PyModule_Create(&moduledef);
}
