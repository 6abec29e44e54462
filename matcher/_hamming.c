/*
 * matcher._hamming: the coarse stage of a 1:N search in one pass over the gallery's codes.
 *
 * For every live code, the smallest Hamming distance to any of the probe's variants, and the
 * slots of the k nearest codes. FAISS's binary flat index scans the whole gallery once per probe
 * variant with scalar popcounts; here each code is read once and compared with all variants, and
 * on CPUs with AVX-512 VPOPCNTDQ eight 64-byte codes are counted per instruction group (a
 * transposed horizontal sum gives eight distances in one register). The scan releases the GIL, so
 * several threads can scan disjoint slot ranges of one gallery at once.
 *
 * Only the buffer protocol is used (no NumPy headers are needed at build time).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define MAX_VARIANTS 16
#define NO_DISTANCE 0xFFFFu

/* Portable scan: any code length that is a whole number of 64-bit words. Inlined into a
 * plain and a POPCNT build of its caller, picked at import. */
static inline __attribute__((always_inline)) void
scan_words(const uint64_t *codes, const uint8_t *live, const uint64_t *probes, int n_variants,
             Py_ssize_t words, Py_ssize_t start, Py_ssize_t stop, uint16_t *dist, uint32_t *hist)
{
    for (Py_ssize_t i = start; i < stop; i++) {
        if (!live[i]) {
            dist[i] = NO_DISTANCE;
            continue;
        }
        const uint64_t *code = codes + i * words;
        unsigned best = NO_DISTANCE;
        for (int a = 0; a < n_variants; a++) {
            const uint64_t *probe = probes + a * words;
            unsigned d = 0;
            for (Py_ssize_t w = 0; w < words; w++) {
                d += (unsigned)__builtin_popcountll(code[w] ^ probe[w]);
            }
            if (d < best) {
                best = d;
            }
        }
        dist[i] = (uint16_t)best;
        hist[best]++;
    }
}

static void
scan_plain(const uint64_t *codes, const uint8_t *live, const uint64_t *probes, int n_variants,
           Py_ssize_t words, Py_ssize_t start, Py_ssize_t stop, uint16_t *dist, uint32_t *hist)
{
    scan_words(codes, live, probes, n_variants, words, start, stop, dist, hist);
}

#ifdef HAVE_X86
__attribute__((target("popcnt")))
static void
scan_popcnt(const uint64_t *codes, const uint8_t *live, const uint64_t *probes, int n_variants,
            Py_ssize_t words, Py_ssize_t start, Py_ssize_t stop, uint16_t *dist, uint32_t *hist)
{
    scan_words(codes, live, probes, n_variants, words, start, stop, dist, hist);
}

/* 64-byte codes, eight at a time: lane j of the result is popcount(code_j ^ probe). */
__attribute__((target("avx512f,avx512vpopcntdq")))
static inline __m512i
distances8(const __m512i x[8], __m512i probe)
{
    __m512i p[8];
    for (int j = 0; j < 8; j++) {
        p[j] = _mm512_popcnt_epi64(_mm512_xor_si512(x[j], probe));
    }
    /* Transposed horizontal sums: pairs, then 128-bit lanes, then the halves. */
    __m512i t0 = _mm512_add_epi64(_mm512_unpacklo_epi64(p[0], p[1]), _mm512_unpackhi_epi64(p[0], p[1]));
    __m512i t1 = _mm512_add_epi64(_mm512_unpacklo_epi64(p[2], p[3]), _mm512_unpackhi_epi64(p[2], p[3]));
    __m512i t2 = _mm512_add_epi64(_mm512_unpacklo_epi64(p[4], p[5]), _mm512_unpackhi_epi64(p[4], p[5]));
    __m512i t3 = _mm512_add_epi64(_mm512_unpacklo_epi64(p[6], p[7]), _mm512_unpackhi_epi64(p[6], p[7]));
    __m512i u0 = _mm512_add_epi64(_mm512_shuffle_i64x2(t0, t1, 0x88), _mm512_shuffle_i64x2(t0, t1, 0xDD));
    __m512i u1 = _mm512_add_epi64(_mm512_shuffle_i64x2(t2, t3, 0x88), _mm512_shuffle_i64x2(t2, t3, 0xDD));
    return _mm512_add_epi64(_mm512_shuffle_i64x2(u0, u1, 0x88), _mm512_shuffle_i64x2(u0, u1, 0xDD));
}

__attribute__((target("avx512f,avx512vpopcntdq")))
static void
scan64_avx512(const uint64_t *codes, const uint8_t *live, const uint64_t *probes, int n_variants,
              Py_ssize_t start, Py_ssize_t stop, uint16_t *dist, uint32_t *hist)
{
    __m512i q[MAX_VARIANTS];
    for (int a = 0; a < n_variants; a++) {
        q[a] = _mm512_loadu_si512((const void *)(probes + 8 * a));
    }
    Py_ssize_t i = start;
    for (; i + 8 <= stop; i += 8) {
        __m512i x[8];
        for (int j = 0; j < 8; j++) {
            x[j] = _mm512_loadu_si512((const void *)(codes + 8 * (i + j)));
        }
        __m512i best = distances8(x, q[0]);
        for (int a = 1; a < n_variants; a++) {
            best = _mm512_min_epu64(best, distances8(x, q[a]));
        }
        uint64_t d[8];
        _mm512_storeu_si512((void *)d, best);
        for (int j = 0; j < 8; j++) {
            if (live[i + j]) {
                dist[i + j] = (uint16_t)d[j];
                hist[d[j]]++;
            } else {
                dist[i + j] = NO_DISTANCE;
            }
        }
    }
    scan_popcnt(codes, live, probes, n_variants, 8, i, stop, dist, hist);
}
#endif

static int
have_avx512_popcount(void)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
#else
    return 0;
#endif
}

static int
have_popcount(void)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

static int use_avx512 = 0;
static int use_popcnt = 0;

static int
get_buffer(PyObject *obj, Py_buffer *view, int writable, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous%s buffer", name,
                     writable ? " writable" : "");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(nearest_doc,
"nearest(codes, live, probes, start, stop, k, dist, slots) -> int\n\n"
"Slots in [start, stop) of the k live codes nearest to any probe variant.\n\n"
"codes: (capacity, B) bytes, B a multiple of 8; live: (capacity,) bytes, 0 for a free slot;\n"
"probes: (V, B) bytes, 1 <= V <= 16; dist: writable (capacity,) uint16 scratch;\n"
"slots: writable int64 buffer of at least k entries, filled with the chosen slots, every code\n"
"nearer than the k-th first, ties at the k-th distance in slot order. Returns how many were\n"
"written (fewer than k when fewer codes are live). The GIL is released while scanning.");

static PyObject *
nearest(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *codes_o, *live_o, *probes_o, *dist_o, *slots_o;
    Py_ssize_t start, stop, k;
    if (!PyArg_ParseTuple(args, "OOOnnnOO", &codes_o, &live_o, &probes_o, &start, &stop, &k,
                          &dist_o, &slots_o)) {
        return NULL;
    }
    Py_buffer codes, live, probes, dist, slots;
    if (get_buffer(codes_o, &codes, 0, "codes") < 0) return NULL;
    if (get_buffer(live_o, &live, 0, "live") < 0) goto fail_codes;
    if (get_buffer(probes_o, &probes, 0, "probes") < 0) goto fail_live;
    if (get_buffer(dist_o, &dist, 1, "dist") < 0) goto fail_probes;
    if (get_buffer(slots_o, &slots, 1, "slots") < 0) goto fail_dist;

    Py_ssize_t capacity = live.len;
    Py_ssize_t width = capacity ? codes.len / capacity : 0;
    int n_variants = 0;
    if (capacity == 0 || width == 0 || width % 8 || codes.len != capacity * width) {
        PyErr_SetString(PyExc_ValueError, "codes must hold one row of 8*m bytes per live flag");
        goto fail_all;
    }
    if (probes.len % width || probes.len / width < 1 || probes.len / width > MAX_VARIANTS) {
        PyErr_SetString(PyExc_ValueError, "probes must be 1 to 16 rows as wide as the codes");
        goto fail_all;
    }
    n_variants = (int)(probes.len / width);
    if (start < 0 || stop > capacity || start > stop || k < 1) {
        PyErr_SetString(PyExc_ValueError, "need 0 <= start <= stop <= capacity and k >= 1");
        goto fail_all;
    }
    if (dist.len < capacity * 2 || slots.len < k * 8) {
        PyErr_SetString(PyExc_ValueError, "dist needs capacity uint16, slots k int64 entries");
        goto fail_all;
    }
    Py_ssize_t max_distance = width * 8;
    uint32_t *hist = PyMem_Calloc((size_t)max_distance + 1, sizeof(uint32_t));
    if (hist == NULL) {
        PyErr_NoMemory();
        goto fail_all;
    }
    const uint64_t *c = codes.buf;
    const uint8_t *l = live.buf;
    const uint64_t *p = probes.buf;
    uint16_t *d = dist.buf;
    int64_t *out = slots.buf;
    Py_ssize_t written = 0;

    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_X86
    if (use_avx512 && width == 64) {
        scan64_avx512(c, l, p, n_variants, start, stop, d, hist);
    } else
#endif
#ifdef HAVE_X86
    if (use_popcnt) {
        scan_popcnt(c, l, p, n_variants, width / 8, start, stop, d, hist);
    } else
#endif
    {
        scan_plain(c, l, p, n_variants, width / 8, start, stop, d, hist);
    }
    /* The k-th distance: every code nearer is kept, ties at it in slot order. */
    Py_ssize_t below = 0, threshold = 0;
    while (threshold <= max_distance && below + (Py_ssize_t)hist[threshold] < k) {
        below += hist[threshold];
        threshold++;
    }
    Py_ssize_t ties = k - below;
    for (Py_ssize_t i = start; i < stop && written < k; i++) {
        if (d[i] == NO_DISTANCE) continue;
        if (d[i] < threshold) {
            out[written++] = i;
        } else if (d[i] == threshold && ties > 0) {
            out[written++] = i;
            ties--;
        }
    }
    Py_END_ALLOW_THREADS

    PyMem_Free(hist);
    PyBuffer_Release(&slots);
    PyBuffer_Release(&dist);
    PyBuffer_Release(&probes);
    PyBuffer_Release(&live);
    PyBuffer_Release(&codes);
    return PyLong_FromSsize_t(written);

fail_all:
    PyBuffer_Release(&slots);
fail_dist:
    PyBuffer_Release(&dist);
fail_probes:
    PyBuffer_Release(&probes);
fail_live:
    PyBuffer_Release(&live);
fail_codes:
    PyBuffer_Release(&codes);
    return NULL;
}

static PyObject *
kernel(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(unused))
{
    return PyUnicode_FromString(use_avx512 ? "avx512-vpopcntdq" : use_popcnt ? "popcnt" : "generic");
}

static PyObject *
set_kernel(PyObject *Py_UNUSED(self), PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL) return NULL;
    if (strcmp(name, "generic") == 0) {
        use_avx512 = 0;
        use_popcnt = 0;
    } else if (strcmp(name, "popcnt") == 0 && have_popcount()) {
        use_avx512 = 0;
        use_popcnt = 1;
    } else if (strcmp(name, "avx512-vpopcntdq") == 0 && have_avx512_popcount()) {
        use_avx512 = 1;
        use_popcnt = 1;
    } else {
        PyErr_Format(PyExc_ValueError, "kernel %s is not available on this CPU", name);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"nearest", nearest, METH_VARARGS, nearest_doc},
    {"kernel", kernel, METH_NOARGS, "Name of the scan kernel in use."},
    {"set_kernel", set_kernel, METH_O,
     "Choose the scan kernel ('generic', 'popcnt' or 'avx512-vpopcntdq'); for tests and "
     "benchmarks."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "matcher._hamming",
    "Coarse-stage Hamming scan over a gallery's binary codes (see matcher/_hamming.c).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__hamming(void)
{
    use_popcnt = have_popcount();
    use_avx512 = use_popcnt && have_avx512_popcount();
    return PyModule_Create(&module);
}
