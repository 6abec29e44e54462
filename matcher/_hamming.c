/*
 * matcher._hamming: the coarse stage of a 1:N search in one pass over the gallery's codes.
 *
 * For every live code, the smallest distance to any of the probe's variants, and the slots of
 * the k nearest codes. Each variant comes with a weight mask: bits outside it are the probe's
 * fragile bits (block votes that were tied) and count as half a difference whatever the code
 * holds, so the distance, in half bits, is 2 * popcount((code ^ probe) & weight) plus the number
 * of bits outside the weight (see matcher/codes.py). FAISS's binary flat index scans the whole gallery once per probe
 * variant with scalar popcounts; here each code is read once and compared with all variants, and
 * on CPUs with AVX-512 VPOPCNTDQ eight 64-byte codes are counted per instruction group (a
 * transposed horizontal sum gives eight distances in one register); on CPUs with AVX2 only, the
 * same eight codes are counted with Mula's nibble-lookup popcount (VPSHUFB): on an AMD EPYC
 * here, 1M codes x 5 variants on one thread took 12.9 ms against 16.1 ms for the unrolled
 * scalar POPCNT kernel (before the probe weights and the VPSADBW sums; whole 1M searches now
 * alternate at 7.95 ms with AVX2 vs 12.2 ms with POPCNT in `palmvein bench identify`). The scan releases the GIL, so
 * several threads can scan disjoint slot ranges of one gallery at once.
 *
 * Only the buffer protocol is used (no NumPy headers are needed at build time).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define MAX_VARIANTS 16
#define MAX_CODE_ROWS 64
#define MAX_CODE_PLANES 16
#define NO_DISTANCE 0xFFFFu

/* Portable scan: any code length that is a whole number of 64-bit words. Inlined into a
 * plain and a POPCNT build of its caller, picked at import. */
static inline __attribute__((always_inline)) void
scan_words(const uint64_t *codes, const uint8_t *live, const uint64_t *probes,
           const uint64_t *weights, const unsigned *offsets, int n_variants, Py_ssize_t words,
           Py_ssize_t start, Py_ssize_t stop, uint16_t *dist, uint32_t *hist)
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
            const uint64_t *weight = weights + a * words;
            unsigned d = 0;
            for (Py_ssize_t w = 0; w < words; w++) {
                d += (unsigned)__builtin_popcountll((code[w] ^ probe[w]) & weight[w]);
            }
            d = 2 * d + offsets[a];
            if (d < best) {
                best = d;
            }
        }
        dist[i] = (uint16_t)best;
        hist[best]++;
    }
}

static void
scan_plain(const uint64_t *codes, const uint8_t *live, const uint64_t *probes,
           const uint64_t *weights, const unsigned *offsets, int n_variants, Py_ssize_t words,
           Py_ssize_t start, Py_ssize_t stop, uint16_t *dist, uint32_t *hist)
{
    scan_words(codes, live, probes, weights, offsets, n_variants, words, start, stop, dist, hist);
}

#ifdef HAVE_X86
__attribute__((target("popcnt")))
static void
scan_popcnt(const uint64_t *codes, const uint8_t *live, const uint64_t *probes,
            const uint64_t *weights, const unsigned *offsets, int n_variants, Py_ssize_t words,
            Py_ssize_t start, Py_ssize_t stop, uint16_t *dist, uint32_t *hist)
{
    if (words == 8) {
        /* The common width as a constant: the word loop unrolls (measured: 30 % less time on
         * 500k codes in cache, the same once the scan is memory-bound). */
        scan_words(codes, live, probes, weights, offsets, n_variants, 8, start, stop, dist,
                   hist);
    } else {
        scan_words(codes, live, probes, weights, offsets, n_variants, words, start, stop, dist,
                   hist);
    }
}

/* The distances of codes i .. i+7, kept for the live ones and counted in the histogram. */
static inline __attribute__((always_inline)) void
record8(const uint8_t *live, Py_ssize_t i, const uint32_t d[8], uint16_t *dist, uint32_t *hist)
{
    for (int j = 0; j < 8; j++) {
        if (live[i + j]) {
            dist[i + j] = (uint16_t)d[j];
            hist[d[j]]++;
        } else {
            dist[i + j] = NO_DISTANCE;
        }
    }
}

/* (code ^ probe) & weight in one VPTERNLOGQ (truth table 0x28). */
#define XOR_AND_512(x, q, w) _mm512_ternarylogic_epi64((x), (q), (w), 0x28)

/* Lane j of the result: the sum of the eight 64-bit lanes of p[j] (transposed horizontal sums:
 * pairs, then 128-bit lanes, then the halves). */
__attribute__((target("avx512f")))
static inline __m512i
reduce8(const __m512i p[8])
{
    __m512i t0 = _mm512_add_epi64(_mm512_unpacklo_epi64(p[0], p[1]), _mm512_unpackhi_epi64(p[0], p[1]));
    __m512i t1 = _mm512_add_epi64(_mm512_unpacklo_epi64(p[2], p[3]), _mm512_unpackhi_epi64(p[2], p[3]));
    __m512i t2 = _mm512_add_epi64(_mm512_unpacklo_epi64(p[4], p[5]), _mm512_unpackhi_epi64(p[4], p[5]));
    __m512i t3 = _mm512_add_epi64(_mm512_unpacklo_epi64(p[6], p[7]), _mm512_unpackhi_epi64(p[6], p[7]));
    __m512i u0 = _mm512_add_epi64(_mm512_shuffle_i64x2(t0, t1, 0x88), _mm512_shuffle_i64x2(t0, t1, 0xDD));
    __m512i u1 = _mm512_add_epi64(_mm512_shuffle_i64x2(t2, t3, 0x88), _mm512_shuffle_i64x2(t2, t3, 0xDD));
    return _mm512_add_epi64(_mm512_shuffle_i64x2(u0, u1, 0x88), _mm512_shuffle_i64x2(u0, u1, 0xDD));
}

/* 64-byte codes, eight at a time: lane j of the result is popcount((code_j ^ probe) & weight). */
__attribute__((target("avx512f,avx512vpopcntdq")))
static inline __m512i
distances8(const __m512i x[8], __m512i probe, __m512i weight)
{
    __m512i p[8];
    for (int j = 0; j < 8; j++) {
        p[j] = _mm512_popcnt_epi64(XOR_AND_512(x[j], probe, weight));
    }
    return reduce8(p);
}

/* The smallest distance t with at least k codes at or under it in hist[0 .. max_distance], or
 * max_distance if there are fewer than k. */
static inline Py_ssize_t
kth_bound(const uint32_t *hist, Py_ssize_t max_distance, Py_ssize_t k)
{
    Py_ssize_t seen = 0;
    for (Py_ssize_t t = 0; t <= max_distance; t++) {
        seen += hist[t];
        if (seen >= k) return t;
    }
    return max_distance;
}

/* Codes between two updates of the histogram bound in scan64_avx512. */
#define BOUND_EVERY 16384

/* 64-byte codes, eight at a time. Only the distances at or under a running bound are counted in
 * the histogram: the k-th smallest distance of the codes scanned so far bounds the final k-th
 * (the selection threshold) from above, so no nearer code is left out of the counts the
 * selection reads (bins 0 .. threshold are exact); farther codes, nearly all of them, cost a
 * vector compare instead of a histogram increment (which took ~40 % of the scan's time). */
__attribute__((target("avx512f,avx512vpopcntdq")))
static void
scan64_avx512(const uint64_t *codes, const uint8_t *live, const uint64_t *probes,
              const uint64_t *weights, const unsigned *offsets, int n_variants, Py_ssize_t start,
              Py_ssize_t stop, Py_ssize_t k, Py_ssize_t max_distance, uint16_t *dist,
              uint32_t *hist)
{
    __m512i q[MAX_VARIANTS], w[MAX_VARIANTS], off[MAX_VARIANTS];
    for (int a = 0; a < n_variants; a++) {
        q[a] = _mm512_loadu_si512((const void *)(probes + 8 * a));
        w[a] = _mm512_loadu_si512((const void *)(weights + 8 * a));
        off[a] = _mm512_set1_epi64((long long)offsets[a]);
    }
    const __m512i none = _mm512_set1_epi64(NO_DISTANCE);
    __m512i bound = _mm512_set1_epi64((long long)max_distance);
    Py_ssize_t i = start;
    for (; i + 8 <= stop; i += 8) {
        if ((i - start) % BOUND_EVERY == 0 && i > start) {
            bound = _mm512_set1_epi64((long long)kth_bound(hist, max_distance, k));
        }
        __m512i x[8];
        for (int j = 0; j < 8; j++) {
            x[j] = _mm512_loadu_si512((const void *)(codes + 8 * (i + j)));
        }
        __m512i best = _mm512_add_epi64(_mm512_slli_epi64(distances8(x, q[0], w[0]), 1), off[0]);
        for (int a = 1; a < n_variants; a++) {
            best = _mm512_min_epu64(
                best, _mm512_add_epi64(_mm512_slli_epi64(distances8(x, q[a], w[a]), 1), off[a]));
        }
        __m512i flags = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(live + i)));
        __mmask8 alive = _mm512_test_epi64_mask(flags, flags);
        _mm_storeu_si128((__m128i *)(dist + i),
                         _mm512_cvtepi64_epi16(_mm512_mask_blend_epi64(alive, none, best)));
        __mmask8 near = alive & _mm512_cmple_epu64_mask(best, bound);
        if (near) {
            uint64_t d[8];
            _mm512_storeu_si512((void *)d, best);
            while (near) {
                hist[d[__builtin_ctz(near)]]++;
                near &= near - 1;
            }
        }
    }
    scan_popcnt(codes, live, probes, weights, offsets, n_variants, 8, i, stop, dist, hist);
}

/* Defined with the portable full-code stage below; the AVX-512 one scans its last codes with it. */
__attribute__((target("popcnt")))
static void
scan_rows_popcnt(const uint64_t *codes, const int64_t *rows, const uint64_t *probes,
                 const uint64_t *weights, const unsigned *offsets, int n_variants,
                 Py_ssize_t words, Py_ssize_t n, uint16_t *dist, uint32_t *hist);

/* The full-code stage: the codes of rows[0 .. n) (slots of a gallery of `chunks` x 64-byte
 * codes, read in place), eight at a time; dist[i] is the distance of code rows[i]. Variants are
 * read from memory (L1) for each group of eight, so any number up to MAX_VARIANTS fits the
 * registers; the next group's codes are prefetched (they are scattered over the gallery). */
__attribute__((target("avx512f,avx512vpopcntdq")))
static void
scan_rows_avx512(const uint64_t *codes, const int64_t *rows, const uint64_t *probes,
                 const uint64_t *weights, const unsigned *offsets, int n_variants,
                 Py_ssize_t chunks, Py_ssize_t n, uint16_t *dist, uint32_t *hist)
{
    const Py_ssize_t words = 8 * chunks;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint64_t *x[8];
        for (int j = 0; j < 8; j++) {
            x[j] = codes + rows[i + j] * words;
        }
        if (i + 16 <= n) {
            for (int j = 0; j < 8; j++) {
                const char *next = (const char *)(codes + rows[i + 8 + j] * words);
                for (Py_ssize_t c = 0; c < chunks; c++) {
                    _mm_prefetch(next + 64 * c, _MM_HINT_T0);
                }
            }
        }
        __m512i best = _mm512_set1_epi64(NO_DISTANCE);
        for (int a = 0; a < n_variants; a++) {
            const uint64_t *qa = probes + a * words, *wa = weights + a * words;
            __m512i p[8];
            for (int j = 0; j < 8; j++) {
                p[j] = _mm512_setzero_si512();
            }
            for (Py_ssize_t c = 0; c < chunks; c++) {
                __m512i qc = _mm512_loadu_si512((const void *)(qa + 8 * c));
                __m512i wc = _mm512_loadu_si512((const void *)(wa + 8 * c));
                for (int j = 0; j < 8; j++) {
                    __m512i xc = _mm512_loadu_si512((const void *)(x[j] + 8 * c));
                    p[j] = _mm512_add_epi64(p[j], _mm512_popcnt_epi64(XOR_AND_512(xc, qc, wc)));
                }
            }
            __m512i d = reduce8(p);
            best = _mm512_min_epu64(
                best, _mm512_add_epi64(_mm512_slli_epi64(d, 1),
                                       _mm512_set1_epi64((long long)offsets[a])));
        }
        uint64_t d[8];
        _mm512_storeu_si512((void *)d, best);
        _mm_storeu_si128((__m128i *)(dist + i), _mm512_cvtepi64_epi16(best));
        for (int j = 0; j < 8; j++) {
            hist[d[j]]++;
        }
    }
    scan_rows_popcnt(codes, rows + i, probes, weights, offsets, n_variants, words, n - i, dist + i,
                     hist);
}

/* Selection of the k nearest from the distances of [start, stop) (free slots NO_DISTANCE):
 * every code under `threshold` and the first `ties` at it, in slot order; returns how many. */
static inline __attribute__((always_inline)) Py_ssize_t
select_scalar(const uint16_t *d, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t k,
              Py_ssize_t threshold, Py_ssize_t ties, int64_t *out, Py_ssize_t written)
{
    for (Py_ssize_t i = start; i < stop && written < k; i++) {
        if (d[i] == NO_DISTANCE) continue;
        if (d[i] < threshold) {
            out[written++] = i;
        } else if (d[i] == threshold && ties > 0) {
            out[written++] = i;
            ties--;
        }
    }
    return written;
}

/* The same, 32 distances a compare (AVX-512BW): the chosen are a few thousand of a million,
 * so most groups of 32 have none at or under the threshold. NO_DISTANCE is above any threshold
 * (codes are shorter than 4096 bytes). */
__attribute__((target("avx512f,avx512bw")))
static Py_ssize_t
select_avx512(const uint16_t *d, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t k,
              Py_ssize_t threshold, Py_ssize_t ties, int64_t *out)
{
    const __m512i limit = _mm512_set1_epi16((short)threshold);
    Py_ssize_t written = 0, i = start;
    for (; i + 32 <= stop && written < k; i += 32) {
        __mmask32 m = _mm512_cmple_epu16_mask(_mm512_loadu_si512((const void *)(d + i)), limit);
        while (m && written < k) {
            Py_ssize_t s = i + __builtin_ctz(m);
            m &= m - 1;
            if (d[s] < threshold) {
                out[written++] = s;
            } else if (ties > 0) {
                out[written++] = s;
                ties--;
            }
        }
    }
    return select_scalar(d, i, stop, k, threshold, ties, out, written);
}

/* Bytewise popcount of v (each byte 0..8): Mula, Kurz & Lemire, "Faster population counts using
 * AVX2 instructions" (Computer Journal 61(1), 2018), the nibble lookup with VPSHUFB. */
__attribute__((target("avx2")))
static inline __m256i
popcount_bytes(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
                           _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
}

/* 64-byte codes, eight at a time: lane j of the result is popcount(code_j ^ probe), as 32-bit
 * integers. Each code's two halves are counted bytewise and added (at most 16 a byte), summed per
 * 64-bit lane by VPSADBW, and the eight codes' lane sums are reduced together (two codes per
 * 64-bit lane, then transposed adds), so no code pays for a horizontal sum of its own. Measured
 * against the earlier VPMADDUBSW/VPMADDWD widening and VPHADDD reduction: 4.7 vs 5.2 ms CPU for
 * 500,000 codes x 5 variants, medians of 21 alternating runs. */
__attribute__((target("avx2")))
static inline __m256i
distances8_avx2(const __m256i lo[8], const __m256i hi[8], __m256i probe_lo, __m256i probe_hi,
                __m256i weight_lo, __m256i weight_hi)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i s[8];
    for (int j = 0; j < 8; j++) {
        __m256i x_lo = _mm256_and_si256(_mm256_xor_si256(lo[j], probe_lo), weight_lo);
        __m256i x_hi = _mm256_and_si256(_mm256_xor_si256(hi[j], probe_hi), weight_hi);
        __m256i bytes = _mm256_add_epi8(popcount_bytes(x_lo), popcount_bytes(x_hi));
        s[j] = _mm256_sad_epu8(bytes, zero); /* four 64-bit lane sums, each at most 128 */
    }
    /* Codes 2m and 2m+1 share each 64-bit lane: 2m in the low 32 bits, 2m+1 in the high. */
    __m256i u01 = _mm256_or_si256(s[0], _mm256_slli_epi64(s[1], 32));
    __m256i u23 = _mm256_or_si256(s[2], _mm256_slli_epi64(s[3], 32));
    __m256i u45 = _mm256_or_si256(s[4], _mm256_slli_epi64(s[5], 32));
    __m256i u67 = _mm256_or_si256(s[6], _mm256_slli_epi64(s[7], 32));
    /* Per 128-bit lane: codes 0-3 (x) and 4-7 (y), each lane holding half of every sum. */
    __m256i x = _mm256_add_epi32(_mm256_unpacklo_epi64(u01, u23), _mm256_unpackhi_epi64(u01, u23));
    __m256i y = _mm256_add_epi32(_mm256_unpacklo_epi64(u45, u67), _mm256_unpackhi_epi64(u45, u67));
    return _mm256_add_epi32(_mm256_permute2x128_si256(x, y, 0x20),
                            _mm256_permute2x128_si256(x, y, 0x31));
}

__attribute__((target("avx2,popcnt")))
static void
scan64_avx2(const uint64_t *codes, const uint8_t *live, const uint64_t *probes,
            const uint64_t *weights, const unsigned *offsets, int n_variants, Py_ssize_t start,
            Py_ssize_t stop, uint16_t *dist, uint32_t *hist)
{
    __m256i q_lo[MAX_VARIANTS], q_hi[MAX_VARIANTS], w_lo[MAX_VARIANTS], w_hi[MAX_VARIANTS];
    __m256i off[MAX_VARIANTS];
    for (int a = 0; a < n_variants; a++) {
        q_lo[a] = _mm256_loadu_si256((const __m256i *)(probes + 8 * a));
        q_hi[a] = _mm256_loadu_si256((const __m256i *)(probes + 8 * a + 4));
        w_lo[a] = _mm256_loadu_si256((const __m256i *)(weights + 8 * a));
        w_hi[a] = _mm256_loadu_si256((const __m256i *)(weights + 8 * a + 4));
        off[a] = _mm256_set1_epi32((int)offsets[a]);
    }
    Py_ssize_t i = start;
    for (; i + 8 <= stop; i += 8) {
        __m256i lo[8], hi[8];
        for (int j = 0; j < 8; j++) {
            lo[j] = _mm256_loadu_si256((const __m256i *)(codes + 8 * (i + j)));
            hi[j] = _mm256_loadu_si256((const __m256i *)(codes + 8 * (i + j) + 4));
        }
        __m256i best = _mm256_add_epi32(
            _mm256_slli_epi32(distances8_avx2(lo, hi, q_lo[0], q_hi[0], w_lo[0], w_hi[0]), 1),
            off[0]);
        for (int a = 1; a < n_variants; a++) {
            __m256i d = distances8_avx2(lo, hi, q_lo[a], q_hi[a], w_lo[a], w_hi[a]);
            best = _mm256_min_epu32(best, _mm256_add_epi32(_mm256_slli_epi32(d, 1), off[a]));
        }
        uint32_t d[8];
        _mm256_storeu_si256((__m256i *)d, best);
        record8(live, i, d, dist, hist);
    }
    scan_popcnt(codes, live, probes, weights, offsets, n_variants, 8, i, stop, dist, hist);
}
#endif

static int
have_avx512_popcount(void)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") &&
           __builtin_cpu_supports("avx512bw");
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

static int
have_avx2(void)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

/* The kernels, slowest first; the best one this CPU has is chosen at import. */
enum { KERNEL_GENERIC, KERNEL_POPCNT, KERNEL_AVX2, KERNEL_AVX512 };
static const char *const KERNEL_NAMES[] = {"generic", "popcnt", "avx2", "avx512-vpopcntdq"};
static int kernel_in_use = KERNEL_GENERIC;

static int
kernel_available(int id)
{
    switch (id) {
    case KERNEL_GENERIC: return 1;
    case KERNEL_POPCNT: return have_popcount();
    case KERNEL_AVX2: return have_avx2();
    case KERNEL_AVX512: return have_popcount() && have_avx512_popcount();
    default: return 0;
    }
}

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

/* The k nearest of the distances d[start .. stop) whose histogram is hist (0 .. max_distance):
 * the k-th distance is the threshold; every code nearer is kept, ties at it in slot order.
 * Writes their slots to out (ascending) and returns how many. */
static Py_ssize_t
select_k(const uint16_t *d, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t k, const uint32_t *hist,
         Py_ssize_t max_distance, int kernel_id, int64_t *out)
{
    Py_ssize_t below = 0, threshold = 0;
    while (threshold <= max_distance && below + (Py_ssize_t)hist[threshold] < k) {
        below += hist[threshold];
        threshold++;
    }
    Py_ssize_t ties = k - below;
#ifdef HAVE_X86
    if (kernel_id == KERNEL_AVX512) {
        return select_avx512(d, start, stop, k, threshold, ties, out);
    }
#endif
    return select_scalar(d, start, stop, k, threshold, ties, out, 0);
}

PyDoc_STRVAR(nearest_doc,
"nearest(codes, live, probes, weights, start, stop, k, dist, slots) -> int\n\n"
"Slots in [start, stop) of the k live codes nearest to any probe variant.\n\n"
"codes: (capacity, B) bytes, B a multiple of 8; live: (capacity,) bytes, 0 for a free slot;\n"
"probes: (V, B) bytes, 1 <= V <= 16; weights: (V, B) bytes, the bits of each variant that\n"
"count; dist: writable (capacity,) uint16 scratch, filled for [start, stop) with the distance\n"
"in half bits, min over variants of 2 * popcount((code ^ probe) & weight) + the number of bits\n"
"outside the weight (free slots: 65535);\n"
"slots: writable int64 buffer of at least k entries, filled with the chosen slots, every code\n"
"nearer than the k-th first, ties at the k-th distance in slot order. Returns how many were\n"
"written (fewer than k when fewer codes are live). The GIL is released while scanning.");

static PyObject *
nearest(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *codes_o, *live_o, *probes_o, *weights_o, *dist_o, *slots_o;
    Py_ssize_t start, stop, k;
    if (!PyArg_ParseTuple(args, "OOOOnnnOO", &codes_o, &live_o, &probes_o, &weights_o, &start,
                          &stop, &k, &dist_o, &slots_o)) {
        return NULL;
    }
    Py_buffer codes, live, probes, weights, dist, slots;
    if (get_buffer(codes_o, &codes, 0, "codes") < 0) return NULL;
    if (get_buffer(live_o, &live, 0, "live") < 0) goto fail_codes;
    if (get_buffer(probes_o, &probes, 0, "probes") < 0) goto fail_live;
    if (get_buffer(weights_o, &weights, 0, "weights") < 0) goto fail_probes;
    if (get_buffer(dist_o, &dist, 1, "dist") < 0) goto fail_weights;
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
    if (width * 16 >= NO_DISTANCE) {
        PyErr_SetString(PyExc_ValueError, "codes must be shorter than 4096 bytes");
        goto fail_all;
    }
    if (weights.len != probes.len) {
        PyErr_SetString(PyExc_ValueError, "weights must be shaped as the probes");
        goto fail_all;
    }
    if (start < 0 || stop > capacity || start > stop || k < 1) {
        PyErr_SetString(PyExc_ValueError, "need 0 <= start <= stop <= capacity and k >= 1");
        goto fail_all;
    }
    if (dist.len < capacity * 2 || k > slots.len / 8) {
        PyErr_SetString(PyExc_ValueError, "dist needs capacity uint16, slots k int64 entries");
        goto fail_all;
    }
    Py_ssize_t max_distance = width * 16; /* in half bits */
    unsigned offsets[MAX_VARIANTS];
    const uint64_t *wt = weights.buf;
    for (int a = 0; a < n_variants; a++) {
        unsigned counted = 0;
        for (Py_ssize_t w = 0; w < width / 8; w++) {
            counted += (unsigned)__builtin_popcountll(wt[a * (width / 8) + w]);
        }
        offsets[a] = (unsigned)(width * 8) - counted;
    }
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
    const int kernel_id = kernel_in_use;

    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_X86
    if (kernel_id == KERNEL_AVX512 && width == 64) {
        scan64_avx512(c, l, p, wt, offsets, n_variants, start, stop, k, max_distance, d, hist);
    } else if (kernel_id == KERNEL_AVX2 && width == 64) {
        scan64_avx2(c, l, p, wt, offsets, n_variants, start, stop, d, hist);
    } else if (kernel_id != KERNEL_GENERIC) {
        scan_popcnt(c, l, p, wt, offsets, n_variants, width / 8, start, stop, d, hist);
    } else
#endif
    {
        scan_plain(c, l, p, wt, offsets, n_variants, width / 8, start, stop, d, hist);
    }
    written = select_k(d, start, stop, k, hist, max_distance, kernel_id, out);
    Py_END_ALLOW_THREADS

    PyMem_Free(hist);
    PyBuffer_Release(&slots);
    PyBuffer_Release(&dist);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&probes);
    PyBuffer_Release(&live);
    PyBuffer_Release(&codes);
    return PyLong_FromSsize_t(written);

fail_all:
    PyBuffer_Release(&slots);
fail_dist:
    PyBuffer_Release(&dist);
fail_weights:
    PyBuffer_Release(&weights);
fail_probes:
    PyBuffer_Release(&probes);
fail_live:
    PyBuffer_Release(&live);
fail_codes:
    PyBuffer_Release(&codes);
    return NULL;
}

/* The portable full-code stage: codes rows[0 .. n) of a gallery of `words` 64-bit words each. */
static inline __attribute__((always_inline)) void
scan_rows_words(const uint64_t *codes, const int64_t *rows, const uint64_t *probes,
                const uint64_t *weights, const unsigned *offsets, int n_variants,
                Py_ssize_t words, Py_ssize_t n, uint16_t *dist, uint32_t *hist)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint64_t *code = codes + rows[i] * words;
        unsigned best = NO_DISTANCE;
        for (int a = 0; a < n_variants; a++) {
            unsigned d = 0;
            for (Py_ssize_t w = 0; w < words; w++) {
                d += (unsigned)__builtin_popcountll((code[w] ^ probes[a * words + w]) &
                                                    weights[a * words + w]);
            }
            d = 2 * d + offsets[a];
            best = d < best ? d : best;
        }
        dist[i] = (uint16_t)best;
        hist[best]++;
    }
}

static void
scan_rows_plain(const uint64_t *codes, const int64_t *rows, const uint64_t *probes,
                const uint64_t *weights, const unsigned *offsets, int n_variants,
                Py_ssize_t words, Py_ssize_t n, uint16_t *dist, uint32_t *hist)
{
    scan_rows_words(codes, rows, probes, weights, offsets, n_variants, words, n, dist, hist);
}

#ifdef HAVE_X86
__attribute__((target("popcnt")))
static void
scan_rows_popcnt(const uint64_t *codes, const int64_t *rows, const uint64_t *probes,
                 const uint64_t *weights, const unsigned *offsets, int n_variants,
                 Py_ssize_t words, Py_ssize_t n, uint16_t *dist, uint32_t *hist)
{
    scan_rows_words(codes, rows, probes, weights, offsets, n_variants, words, n, dist, hist);
}
#endif

PyDoc_STRVAR(nearest_rows_doc,
"nearest_rows(codes, rows, probes, weights, k, dist, chosen) -> int\n\n"
"The full-code stage: of the codes at slots `rows`, the k nearest to any probe variant, read\n"
"in place (what nearest(codes[rows], ones, probes, weights, 0, len(rows), k, dist, chosen)\n"
"gives, without the copy).\n\n"
"codes: (capacity, B) uint8 array, B a multiple of 8; rows: (n,) int64 slots, each in\n"
"[0, capacity); probes, weights: (V, B) bytes, 1 <= V <= 16, as for nearest; dist: writable\n"
"uint16 buffer of at least n entries, filled with the distance of codes[rows[i]] at i;\n"
"chosen: writable int64 buffer of at least k entries, filled with positions i (ascending): every\n"
"code nearer than the k-th first, ties at the k-th distance by position. Returns how many\n"
"were written (min(k, n)). The GIL is released while scanning.");

static PyObject *
nearest_rows(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *codes_o, *rows_o, *probes_o, *weights_o, *dist_o, *chosen_o;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "OOOOnOO", &codes_o, &rows_o, &probes_o, &weights_o, &k, &dist_o,
                          &chosen_o)) {
        return NULL;
    }
    Py_buffer codes, rows, probes, weights, dist, chosen;
    if (get_buffer(codes_o, &codes, 0, "codes") < 0) return NULL;
    if (get_buffer(rows_o, &rows, 0, "rows") < 0) goto fail_codes;
    if (get_buffer(probes_o, &probes, 0, "probes") < 0) goto fail_rows;
    if (get_buffer(weights_o, &weights, 0, "weights") < 0) goto fail_probes;
    if (get_buffer(dist_o, &dist, 1, "dist") < 0) goto fail_weights;
    if (get_buffer(chosen_o, &chosen, 1, "chosen") < 0) goto fail_dist;

    if (codes.ndim != 2 || codes.shape[1] == 0 || codes.shape[1] % 8) {
        PyErr_SetString(PyExc_ValueError, "codes must be a 2-d array of rows of 8*m bytes");
        goto fail_all;
    }
    Py_ssize_t capacity = codes.shape[0], width = codes.shape[1];
    if (width * 16 >= NO_DISTANCE) {
        PyErr_SetString(PyExc_ValueError, "codes must be shorter than 4096 bytes");
        goto fail_all;
    }
    if (probes.len % width || probes.len / width < 1 || probes.len / width > MAX_VARIANTS) {
        PyErr_SetString(PyExc_ValueError, "probes must be 1 to 16 rows as wide as the codes");
        goto fail_all;
    }
    int n_variants = (int)(probes.len / width);
    if (weights.len != probes.len) {
        PyErr_SetString(PyExc_ValueError, "weights must be shaped as the probes");
        goto fail_all;
    }
    if (rows.len % 8 || (rows.ndim != 1 && rows.ndim != 0) ||
        (rows.ndim == 1 && rows.itemsize != 8)) {
        PyErr_SetString(PyExc_ValueError, "rows must be a 1-d int64 array");
        goto fail_all;
    }
    Py_ssize_t n = rows.len / 8;
    if (k < 1 || dist.len < n * 2 || k > chosen.len / 8) {
        PyErr_SetString(PyExc_ValueError, "need k >= 1, dist n uint16 and chosen k int64 entries");
        goto fail_all;
    }
    const int64_t *r = rows.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (r[i] < 0 || r[i] >= capacity) {
            PyErr_SetString(PyExc_ValueError, "rows must be slots of codes (0 <= row < capacity)");
            goto fail_all;
        }
    }
    Py_ssize_t max_distance = width * 16; /* in half bits */
    unsigned offsets[MAX_VARIANTS];
    const uint64_t *wt = weights.buf;
    for (int a = 0; a < n_variants; a++) {
        unsigned counted = 0;
        for (Py_ssize_t w = 0; w < width / 8; w++) {
            counted += (unsigned)__builtin_popcountll(wt[a * (width / 8) + w]);
        }
        offsets[a] = (unsigned)(width * 8) - counted;
    }
    uint32_t *hist = PyMem_Calloc((size_t)max_distance + 1, sizeof(uint32_t));
    if (hist == NULL) {
        PyErr_NoMemory();
        goto fail_all;
    }
    const uint64_t *c = codes.buf, *p = probes.buf;
    uint16_t *d = dist.buf;
    int64_t *out = chosen.buf;
    Py_ssize_t written = 0;
    const int kernel_id = kernel_in_use;

    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_X86
    if (kernel_id == KERNEL_AVX512 && width % 64 == 0) {
        scan_rows_avx512(c, r, p, wt, offsets, n_variants, width / 64, n, d, hist);
    } else if (kernel_id != KERNEL_GENERIC) {
        scan_rows_popcnt(c, r, p, wt, offsets, n_variants, width / 8, n, d, hist);
    } else
#endif
    {
        scan_rows_plain(c, r, p, wt, offsets, n_variants, width / 8, n, d, hist);
    }
    written = select_k(d, 0, n, k, hist, max_distance, kernel_id, out);
    Py_END_ALLOW_THREADS

    PyMem_Free(hist);
    PyBuffer_Release(&chosen);
    PyBuffer_Release(&dist);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&probes);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&codes);
    return PyLong_FromSsize_t(written);

fail_all:
    PyBuffer_Release(&chosen);
fail_dist:
    PyBuffer_Release(&dist);
fail_weights:
    PyBuffer_Release(&weights);
fail_probes:
    PyBuffer_Release(&probes);
fail_rows:
    PyBuffer_Release(&rows);
fail_codes:
    PyBuffer_Release(&codes);
    return NULL;
}

/* ---- probe codes: matcher.codes' block-majority codes of translated probe variants --------- */

/* block_codes' work (see its docstring); inlined into a plain and a POPCNT build. */
static inline __attribute__((always_inline)) void
code_variants(const uint32_t *pl, const uint32_t *mk, Py_ssize_t n_planes, Py_ssize_t rows,
              int cols, int block, const int32_t *var, Py_ssize_t n_variants, const int32_t *kp,
              Py_ssize_t n_keep, Py_ssize_t width, uint8_t *out, uint8_t *sure_out)
{
    const uint32_t full = cols < 32 ? (uint32_t)((1u << cols) - 1u) : 0xFFFFFFFFu;
    const uint32_t nibble = block < 32 ? (uint32_t)((1u << block) - 1u) : 0xFFFFFFFFu;
    const Py_ssize_t br = rows / block, bc = cols / block;
    memset(out, 0, (size_t)(n_variants * width));
    memset(sure_out, 0, (size_t)(n_variants * width));
    for (Py_ssize_t v = 0; v < n_variants; v++) {
        int t = var[3 * v], dr = var[3 * v + 1], dc = var[3 * v + 2];
        const uint32_t *tp = pl + (Py_ssize_t)t * n_planes * rows, *tm = mk + (Py_ssize_t)t * rows;
        /* matcher.codes.shifted: columns, then np.roll over the rows; rows moved in from
         * outside are invalid. Then the valid bits (planes & mask), as _majority_bits takes. */
        uint32_t m[MAX_CODE_ROWS], valid[MAX_CODE_PLANES][MAX_CODE_ROWS];
        for (Py_ssize_t r = 0; r < rows; r++) {
            Py_ssize_t src = ((r - dr) % rows + rows) % rows;
            uint32_t w = tm[src];
            w = dc >= 0 ? (w << dc) & full : w >> -dc;
            if ((dr > 0 && r < dr) || (dr < 0 && r >= rows + dr)) w = 0;
            m[r] = w;
            for (Py_ssize_t p = 0; p < n_planes; p++) {
                uint32_t x = tp[p * rows + src];
                x = dc >= 0 ? (x << dc) & full : x >> -dc;
                valid[p][r] = x & w;
            }
        }
        uint8_t *code = out + v * width, *sure = sure_out + v * width;
        Py_ssize_t b = 0;
        for (Py_ssize_t i = 0; i < br; i++) {
            for (Py_ssize_t j = 0; j < bc; j++) {
                const int shift = (int)(j * block);
                int cells = 0;
                for (Py_ssize_t r = i * block; r < (i + 1) * block; r++) {
                    cells += __builtin_popcount((m[r] >> shift) & nibble);
                }
                for (Py_ssize_t kk = 0; kk < n_keep; kk++, b++) {
                    int ones = 0;
                    for (Py_ssize_t r = i * block; r < (i + 1) * block; r++) {
                        ones += __builtin_popcount((valid[kp[kk]][r] >> shift) & nibble);
                    }
                    const uint8_t bit = (uint8_t)(0x80u >> (b & 7));
                    if (2 * ones > cells) code[b >> 3] |= bit;
                    if (2 * ones != cells) sure[b >> 3] |= bit;
                }
            }
        }
    }
}

static void
code_variants_plain(const uint32_t *pl, const uint32_t *mk, Py_ssize_t n_planes, Py_ssize_t rows,
                    int cols, int block, const int32_t *var, Py_ssize_t n_variants,
                    const int32_t *kp, Py_ssize_t n_keep, Py_ssize_t width, uint8_t *out,
                    uint8_t *sure_out)
{
    code_variants(pl, mk, n_planes, rows, cols, block, var, n_variants, kp, n_keep, width, out,
                  sure_out);
}

#ifdef HAVE_X86
__attribute__((target("popcnt")))
static void
code_variants_popcnt(const uint32_t *pl, const uint32_t *mk, Py_ssize_t n_planes,
                     Py_ssize_t rows, int cols, int block, const int32_t *var,
                     Py_ssize_t n_variants, const int32_t *kp, Py_ssize_t n_keep,
                     Py_ssize_t width, uint8_t *out, uint8_t *sure_out)
{
    code_variants(pl, mk, n_planes, rows, cols, block, var, n_variants, kp, n_keep, width, out,
                  sure_out);
}
#endif

PyDoc_STRVAR(block_codes_doc,
"block_codes(planes, mask, cols, block, variants, keep, codes, weights)\n\n"
"matcher.codes' codes of translated templates, bit for bit: for variant v = (t, dr, dc) of\n"
"`variants`, template t translated as matcher.codes.shifted(planes[t], mask[t], cols, dr, dc)\n"
"translates it, then per block of block x block cells (block-major, row-major blocks) and per\n"
"plane in `keep` the majority bit over the block's valid cells (2 * ones > cells) in `codes`\n"
"and whether the vote was untied (2 * ones != cells) in `weights`, packed big-endian within a\n"
"byte as numpy.packbits packs, the rest of each row zero.\n\n"
"planes: (T, P, R) uint32; mask: (T, R) uint32; variants: (V, 3) int32 (template, rows,\n"
"columns), |rows| < R, |columns| < 32; keep: (K,) int32 planes; codes, weights: writable\n"
"(V, W) uint8, W * 8 >= (R // block) * (cols // block) * K.");

static PyObject *
block_codes(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *planes_o, *mask_o, *variants_o, *keep_o, *codes_o, *weights_o;
    int cols, block;
    if (!PyArg_ParseTuple(args, "OOiiOOOO", &planes_o, &mask_o, &cols, &block, &variants_o,
                          &keep_o, &codes_o, &weights_o)) {
        return NULL;
    }
    Py_buffer planes, mask, variants, keep, codes, weights;
    if (get_buffer(planes_o, &planes, 0, "planes") < 0) return NULL;
    if (get_buffer(mask_o, &mask, 0, "mask") < 0) goto fail_planes;
    if (get_buffer(variants_o, &variants, 0, "variants") < 0) goto fail_mask;
    if (get_buffer(keep_o, &keep, 0, "keep") < 0) goto fail_variants;
    if (get_buffer(codes_o, &codes, 1, "codes") < 0) goto fail_keep;
    if (get_buffer(weights_o, &weights, 1, "weights") < 0) goto fail_codes;

    if (planes.ndim != 3 || planes.itemsize != 4 || mask.ndim != 2 || mask.itemsize != 4 ||
        mask.shape[0] != planes.shape[0] || mask.shape[1] != planes.shape[2]) {
        PyErr_SetString(PyExc_ValueError, "planes must be (T, P, R) and mask (T, R) uint32");
        goto fail_all;
    }
    Py_ssize_t n_templates = planes.shape[0], n_planes = planes.shape[1], rows = planes.shape[2];
    if (rows < 1 || rows > MAX_CODE_ROWS || n_planes < 1 || n_planes > MAX_CODE_PLANES ||
        cols < 1 || cols > 32 || block < 1 || block > 32) {
        PyErr_SetString(PyExc_ValueError, "need 1 <= R <= 64, 1 <= P <= 16, 1 <= cols <= 32 "
                        "and 1 <= block <= 32");
        goto fail_all;
    }
    if (variants.ndim != 2 || variants.itemsize != 4 || variants.shape[1] != 3 ||
        keep.ndim != 1 || keep.itemsize != 4) {
        PyErr_SetString(PyExc_ValueError, "variants must be (V, 3) and keep (K,) int32");
        goto fail_all;
    }
    Py_ssize_t n_variants = variants.shape[0], n_keep = keep.shape[0];
    const int32_t *var = variants.buf, *kp = keep.buf;
    for (Py_ssize_t v = 0; v < n_variants; v++) {
        if (var[3 * v] < 0 || var[3 * v] >= n_templates || var[3 * v + 1] <= -rows ||
            var[3 * v + 1] >= rows || var[3 * v + 2] <= -32 || var[3 * v + 2] >= 32) {
            PyErr_SetString(PyExc_ValueError, "variants must be (template, |rows| < R, "
                            "|columns| < 32)");
            goto fail_all;
        }
    }
    for (Py_ssize_t j = 0; j < n_keep; j++) {
        if (kp[j] < 0 || kp[j] >= n_planes) {
            PyErr_SetString(PyExc_ValueError, "keep must hold plane indices");
            goto fail_all;
        }
    }
    Py_ssize_t br = rows / block, bc = cols / block, bits = br * bc * n_keep;
    Py_ssize_t width = n_variants ? codes.len / n_variants : 0;
    if (codes.len != n_variants * width || weights.len != codes.len || width * 8 < bits) {
        PyErr_SetString(PyExc_ValueError, "codes and weights must be (V, W) with room for "
                        "every bit");
        goto fail_all;
    }
    const uint32_t *pl = planes.buf, *mk = mask.buf;
    uint8_t *out = codes.buf, *sure_out = weights.buf;

    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_X86
    if (have_popcount()) {
        code_variants_popcnt(pl, mk, n_planes, rows, cols, block, var, n_variants, kp, n_keep,
                             width, out, sure_out);
    } else
#endif
    {
        code_variants_plain(pl, mk, n_planes, rows, cols, block, var, n_variants, kp, n_keep,
                            width, out, sure_out);
    }
    Py_END_ALLOW_THREADS

    PyBuffer_Release(&weights);
    PyBuffer_Release(&codes);
    PyBuffer_Release(&keep);
    PyBuffer_Release(&variants);
    PyBuffer_Release(&mask);
    PyBuffer_Release(&planes);
    Py_RETURN_NONE;

fail_all:
    PyBuffer_Release(&weights);
fail_codes:
    PyBuffer_Release(&codes);
fail_keep:
    PyBuffer_Release(&keep);
fail_variants:
    PyBuffer_Release(&variants);
fail_mask:
    PyBuffer_Release(&mask);
fail_planes:
    PyBuffer_Release(&planes);
    return NULL;
}

/* ---- exact re-ranking: biometric.compare_many's scores, bit for bit ------------------------- */

#define MAX_PLANES 16
#define MAX_ROWS 64
#define MAX_SHIFT_CELLS 8

typedef uint32_t shifted_planes_t[MAX_PLANES][MAX_ROWS];
typedef uint32_t shifted_mask_t[MAX_ROWS];

/* Rows r and r + 1 of a row array as one 64-bit word (row r in the low half), as the rows lie in
 * memory on a little-endian machine; an unaligned load. */
static inline __attribute__((always_inline)) uint64_t
row_pair(const uint32_t *rows, Py_ssize_t r)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, rows + r, sizeof v);
    return v;
#else
    return (uint64_t)rows[r] | ((uint64_t)rows[r + 1] << 32);
#endif
}

/* One translation's counts into the running minimum, and the minimum into a score: NumPy's
 * floating-point steps in NumPy's order (compare_many), shared by every kernel below. */
static inline __attribute__((always_inline)) void
take_distance(uint64_t n, uint64_t wrong, Py_ssize_t n_planes, double *best, double *best_n)
{
    double nd = (double)n;
    double hd = n > 0 ? (double)wrong / ((double)n_planes * nd) : 1.0;
    /* strict < keeps the first minimum, as np.where(hd < best) does */
    if (hd < *best) {
        *best = hd;
        *best_n = nd;
    }
}

static inline __attribute__((always_inline)) double
final_score(double best, double best_n, double reference)
{
    double fraction = best_n / reference;
    double hd_norm = 0.5 - (0.5 - best) * sqrt(fraction < 1.0 ? fraction : 1.0);
    double score = 1.0 - hd_norm;
    return score < 0.0 ? 0.0 : score > 1.0 ? 1.0 : score;
}

/* The score of one gallery template (planes tp [P][rows], mask tm [rows]) against the probe's
 * column shifts sp / sm, as biometric.compare_many computes it. The integer
 * counts (bits compared n, bits differing wrong) are summed two rows at a time with 64-bit
 * popcounts (integers: any grouping gives the same sums); the floating-point steps are
 * NumPy's, in NumPy's order. Inlined into a plain and a POPCNT build, picked at run time. */
static inline __attribute__((always_inline)) double
score_one(const shifted_planes_t *sp, const shifted_mask_t *sm, const uint32_t *tp,
          const uint32_t *tm, Py_ssize_t n_planes, Py_ssize_t rows, int max_shift,
          double reference)
{
    const int shifts = 2 * max_shift + 1;
    double best = INFINITY, best_n = 0.0;
    /* Same order as biometric.compare_many: columns outer, rows inner. */
    for (int s = 0; s < shifts; s++) {
        for (int dr = -max_shift; dr <= max_shift; dr++) {
            Py_ssize_t p0 = dr < 0 ? -dr : 0, g0 = dr > 0 ? dr : 0;
            Py_ssize_t len = rows - (dr < 0 ? -dr : dr);
            uint64_t n = 0, wrong = 0;
            Py_ssize_t k = 0;
            for (; k + 2 <= len; k += 2) {
                uint64_t both = row_pair(sm[s], p0 + k) & row_pair(tm, g0 + k);
                n += (uint64_t)__builtin_popcountll(both);
                for (Py_ssize_t p = 0; p < n_planes; p++) {
                    wrong += (uint64_t)__builtin_popcountll(
                        (row_pair(sp[s][p], p0 + k) ^ row_pair(tp + p * rows, g0 + k)) & both);
                }
            }
            if (k < len) {
                uint32_t both = sm[s][p0 + k] & tm[g0 + k];
                n += (uint64_t)__builtin_popcount(both);
                for (Py_ssize_t p = 0; p < n_planes; p++) {
                    wrong += (uint64_t)__builtin_popcount(
                        (sp[s][p][p0 + k] ^ tp[p * rows + g0 + k]) & both);
                }
            }
            take_distance(n, wrong, n_planes, &best, &best_n);
        }
    }
    return final_score(best, best_n, reference);
}

/* A turn of the code grid (biometric.compare.rotation_map) as word operations: destination row
 * r is the OR over its segments of a source row shifted by a column offset and masked to the
 * destination columns that take their cell from that source row at that offset. A turn of a few
 * degrees has two to four segments a row; turning a template costs about as much as one
 * shift of the comparison. */
typedef struct {
    int count[MAX_ROWS];
    uint8_t source[MAX_ROWS][32];
    int8_t offset[MAX_ROWS][32];
    uint32_t mask[MAX_ROWS][32];
} turn_t;

/* Segments of a gather map (rows * cols entries: source cell r' * cols + c', or -1 for none);
 * -1 if an entry is out of range. */
static int
build_turn(const int32_t *map, Py_ssize_t rows, int cols, turn_t *turn)
{
    for (Py_ssize_t r = 0; r < rows; r++) {
        int count = 0;
        for (int c = 0; c < cols; c++) {
            int32_t s = map[r * cols + c];
            if (s < 0) {
                if (s != -1) return -1;
                continue;
            }
            if (s >= rows * cols) return -1;
            int source = s / cols, offset = c - s % cols, i = 0;
            while (i < count && !(turn->source[r][i] == source && turn->offset[r][i] == offset)) {
                i++;
            }
            if (i == count) {
                turn->source[r][i] = (uint8_t)source;
                turn->offset[r][i] = (int8_t)offset;
                turn->mask[r][i] = 0;
                count++;
            }
            turn->mask[r][i] |= 1u << c;
        }
        turn->count[r] = count;
    }
    return 0;
}

/* n_rows_arrays row arrays of `rows` words each (planes then mask, contiguous), turned. */
static inline __attribute__((always_inline)) void
turn_rows(const turn_t *turn, const uint32_t *src, uint32_t *dst, Py_ssize_t arrays,
          Py_ssize_t rows)
{
    for (Py_ssize_t a = 0; a < arrays; a++) {
        const uint32_t *in = src + a * rows;
        uint32_t *out = dst + a * rows;
        for (Py_ssize_t r = 0; r < rows; r++) {
            uint32_t w = 0;
            for (int i = 0; i < turn->count[r]; i++) {
                uint32_t v = in[turn->source[r][i]];
                int o = turn->offset[r][i];
                w |= (o >= 0 ? v << o : v >> -o) & turn->mask[r][i];
            }
            out[r] = w;
        }
    }
}

/* The probe's column shifts, [shift][plane][row] and [shift][row]. */
static void
shift_probe(const uint32_t *probe_planes, const uint32_t *probe_mask, Py_ssize_t n_planes,
            Py_ssize_t rows, int cols, int max_shift, shifted_planes_t *sp, shifted_mask_t *sm)
{
    const uint32_t full = cols < 32 ? (uint32_t)((1u << cols) - 1u) : 0xFFFFFFFFu;
    for (int s = 0; s < 2 * max_shift + 1; s++) {
        int dc = s - max_shift;
        for (Py_ssize_t r = 0; r < rows; r++) {
            uint32_t m = probe_mask[r];
            sm[s][r] = dc >= 0 ? (m << dc) & full : m >> -dc;
            for (Py_ssize_t p = 0; p < n_planes; p++) {
                uint32_t w = probe_planes[p * rows + r];
                sp[s][p][r] = dc >= 0 ? (w << dc) & full : w >> -dc;
            }
        }
    }
}

/* Everything one call compares: the probe's shifts, and with a turn, the turned probe's. */
typedef struct {
    shifted_planes_t sp[2 * MAX_SHIFT_CELLS + 1];
    shifted_mask_t sm[2 * MAX_SHIFT_CELLS + 1];
    shifted_planes_t turned_sp[2 * MAX_SHIFT_CELLS + 1];
    shifted_mask_t turned_sm[2 * MAX_SHIFT_CELLS + 1];
    turn_t turn;
    int turning;
    /* AVX2 kernel (32 rows, at most MAX_PLANES planes): per translation, in compare_many's order, the
     * probe's planes and mask laid over the gallery's 32 rows (zero where the probe has no row),
     * [translation][plane or mask][32]; NULL when not used. */
    uint32_t *aligned, *turned_aligned;
    /* AVX-512 kernel with a turn (32 rows): the turn's segments as vectors, segment i of every
     * row at once: source row, left and right shift, destination mask (0 past a row's count). */
    int turn_segments;
    uint32_t turn_source[32][32], turn_left[32][32], turn_right[32][32], turn_mask[32][32];
} probe_t;

/* probe->turn's segments laid out for turn_rows_avx512 (32-row grids). */
static void
vector_turn(probe_t *probe)
{
    int most = 0;
    for (int r = 0; r < 32; r++) {
        most = probe->turn.count[r] > most ? probe->turn.count[r] : most;
    }
    probe->turn_segments = most;
    for (int i = 0; i < most; i++) {
        for (int r = 0; r < 32; r++) {
            int used = i < probe->turn.count[r];
            int o = used ? probe->turn.offset[r][i] : 0;
            probe->turn_source[i][r] = used ? probe->turn.source[r][i] : 0;
            probe->turn_left[i][r] = o >= 0 ? (uint32_t)o : 0;
            probe->turn_right[i][r] = o < 0 ? (uint32_t)-o : 0;
            probe->turn_mask[i][r] = used ? probe->turn.mask[r][i] : 0;
        }
    }
}

/* Scores of g gallery templates: without a turn, score_one; with it, the best of the probe
 * against the template, the turned probe against the template and the probe against the turned
 * template (np.maximum in compare_many's order; the scores are never NaN). */
static inline __attribute__((always_inline)) void
score_all(const probe_t *probe, const uint32_t *planes, const uint32_t *mask, Py_ssize_t g,
          Py_ssize_t n_planes, Py_ssize_t rows, int max_shift, double reference, double *scores)
{
    uint32_t turned[(MAX_PLANES + 1) * MAX_ROWS];
    for (Py_ssize_t t = 0; t < g; t++) {
        const uint32_t *tp = planes + t * n_planes * rows, *tm = mask + t * rows;
        double score = score_one(probe->sp, probe->sm, tp, tm, n_planes, rows, max_shift,
                                 reference);
        if (probe->turning) {
            double s2 = score_one(probe->turned_sp, probe->turned_sm, tp, tm, n_planes, rows,
                                  max_shift, reference);
            score = s2 > score ? s2 : score;
            turn_rows(&probe->turn, tp, turned, n_planes, rows);
            turn_rows(&probe->turn, tm, turned + n_planes * rows, 1, rows);
            double s3 = score_one(probe->sp, probe->sm, turned, turned + n_planes * rows,
                                  n_planes, rows, max_shift, reference);
            score = s3 > score ? s3 : score;
        }
        scores[t] = score;
    }
}

static void
score_plain(const probe_t *probe, const uint32_t *planes, const uint32_t *mask, Py_ssize_t g,
            Py_ssize_t n_planes, Py_ssize_t rows, int max_shift, double reference,
            double *scores)
{
    score_all(probe, planes, mask, g, n_planes, rows, max_shift, reference, scores);
}

#ifdef HAVE_X86
__attribute__((target("popcnt")))
#endif
static void
score_popcnt(const probe_t *probe, const uint32_t *planes, const uint32_t *mask, Py_ssize_t g,
             Py_ssize_t n_planes, Py_ssize_t rows, int max_shift, double reference,
             double *scores)
{
    score_all(probe, planes, mask, g, n_planes, rows, max_shift, reference, scores);
}

#define AVX2_ROWS 32
/* Planes the aligned kernels take: all (the AVX2 kernel's byte counters hold one vector of rows
 * of every plane, 16 planes x 8 bits <= 255, and are summed per vector). */
#define AVX2_MAX_PLANES MAX_PLANES

/* sp / sm's translations laid over the gallery's rows: translation (s, dr) puts the probe's row
 * r - dr at gallery row r, zero outside, so each comparison runs over all 32 rows (cells without
 * a mask bit count neither as compared nor as differing: the same integers). */
static void
align_probe(const shifted_planes_t *sp, const shifted_mask_t *sm, Py_ssize_t n_planes,
            int max_shift, uint32_t *out)
{
    const int shifts = 2 * max_shift + 1;
    for (int s = 0; s < shifts; s++) {
        for (int dr = -max_shift; dr <= max_shift; dr++) {
            uint32_t *a = out + (size_t)(s * shifts + dr + max_shift) * (n_planes + 1) * AVX2_ROWS;
            for (int r = 0; r < AVX2_ROWS; r++) {
                int src = r - dr;
                int inside = src >= 0 && src < AVX2_ROWS;
                for (Py_ssize_t p = 0; p < n_planes; p++) {
                    a[p * AVX2_ROWS + r] = inside ? sp[s][p][src] : 0;
                }
                a[n_planes * AVX2_ROWS + r] = inside ? sm[s][src] : 0;
            }
        }
    }
}

#ifdef HAVE_X86
__attribute__((target("avx2")))
static inline uint64_t
sum_lanes(__m256i lanes)
{
    __m128i half = _mm_add_epi64(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
    return (uint64_t)_mm_cvtsi128_si64(half) + (uint64_t)_mm_extract_epi64(half, 1);
}

__attribute__((target("avx2")))
static inline uint64_t
sum_bytes(__m256i counts)
{
    return sum_lanes(_mm256_sad_epu8(counts, _mm256_setzero_si256()));
}

/* score_one for 32-row templates: eight rows a vector, popcounts by nibble lookup (Mula et al.,
 * popcount_bytes above) summed in byte counters, then VPSADBW. */
__attribute__((target("avx2,popcnt")))
static double
score_one_avx2(const uint32_t *aligned, int n_shifts, const uint32_t *tp, const uint32_t *tm,
               Py_ssize_t n_planes, double reference)
{
    __m256i gm[4], gp[AVX2_MAX_PLANES][4];
    for (int v = 0; v < 4; v++) {
        gm[v] = _mm256_loadu_si256((const __m256i *)(tm + 8 * v));
        for (Py_ssize_t p = 0; p < n_planes; p++) {
            gp[p][v] = _mm256_loadu_si256((const __m256i *)(tp + p * AVX2_ROWS + 8 * v));
        }
    }
    double best = INFINITY, best_n = 0.0;
    for (int i = 0; i < n_shifts; i++) {
        const uint32_t *a = aligned + (size_t)i * (n_planes + 1) * AVX2_ROWS;
        const uint32_t *am = a + n_planes * AVX2_ROWS;
        /* Byte counters: cn takes 4 vectors x 8 bits, cw one vector of every plane (up to 16 x
         * 8 bits) before VPSADBW moves it into the 64-bit lanes of wrong. */
        __m256i cn = _mm256_setzero_si256(), wrong = _mm256_setzero_si256();
        for (int v = 0; v < 4; v++) {
            __m256i both = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(am + 8 * v)), gm[v]);
            cn = _mm256_add_epi8(cn, popcount_bytes(both));
            __m256i cw = _mm256_setzero_si256();
            for (Py_ssize_t p = 0; p < n_planes; p++) {
                __m256i x = _mm256_xor_si256(
                    _mm256_loadu_si256((const __m256i *)(a + p * AVX2_ROWS + 8 * v)), gp[p][v]);
                cw = _mm256_add_epi8(cw, popcount_bytes(_mm256_and_si256(x, both)));
            }
            wrong = _mm256_add_epi64(wrong, _mm256_sad_epu8(cw, _mm256_setzero_si256()));
        }
        take_distance(sum_bytes(cn), sum_lanes(wrong), n_planes, &best, &best_n);
    }
    return final_score(best, best_n, reference);
}

__attribute__((target("avx2,popcnt")))
static void
score_avx2(const probe_t *probe, const uint32_t *planes, const uint32_t *mask, Py_ssize_t g,
           Py_ssize_t n_planes, int max_shift, double reference, double *scores)
{
    const int n_shifts = (2 * max_shift + 1) * (2 * max_shift + 1);
    uint32_t turned[(AVX2_MAX_PLANES + 1) * AVX2_ROWS];
    for (Py_ssize_t t = 0; t < g; t++) {
        const uint32_t *tp = planes + t * n_planes * AVX2_ROWS, *tm = mask + t * AVX2_ROWS;
        double score = score_one_avx2(probe->aligned, n_shifts, tp, tm, n_planes, reference);
        if (probe->turning) {
            double s2 = score_one_avx2(probe->turned_aligned, n_shifts, tp, tm, n_planes,
                                       reference);
            score = s2 > score ? s2 : score;
            turn_rows(&probe->turn, tp, turned, n_planes, AVX2_ROWS);
            turn_rows(&probe->turn, tm, turned + n_planes * AVX2_ROWS, 1, AVX2_ROWS);
            double s3 = score_one_avx2(probe->aligned, n_shifts, turned,
                                       turned + n_planes * AVX2_ROWS, n_planes, reference);
            score = s3 > score ? s3 : score;
        }
        scores[t] = score;
    }
}
/* turn_rows for 32-row arrays, sixteen rows a vector: per segment, the source rows gathered by
 * VPERMT2D, shifted by per-row counts (VPSLLVD / VPSRLVD), masked and OR-ed in; the same bits as
 * turn_rows (test_rerank compares the kernels' scores with the rotation search). */
__attribute__((target("avx512f")))
static inline void
turn_rows_avx512(const probe_t *probe, const uint32_t *src, uint32_t *dst, Py_ssize_t arrays)
{
    for (Py_ssize_t a = 0; a < arrays; a++) {
        const __m512i lo = _mm512_loadu_si512((const void *)(src + 32 * a));
        const __m512i hi = _mm512_loadu_si512((const void *)(src + 32 * a + 16));
        __m512i out[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int i = 0; i < probe->turn_segments; i++) {
            for (int h = 0; h < 2; h++) {
                __m512i idx = _mm512_loadu_si512((const void *)(probe->turn_source[i] + 16 * h));
                __m512i v = _mm512_permutex2var_epi32(lo, idx, hi);
                v = _mm512_sllv_epi32(v, _mm512_loadu_si512((const void *)(probe->turn_left[i] + 16 * h)));
                v = _mm512_srlv_epi32(v, _mm512_loadu_si512((const void *)(probe->turn_right[i] + 16 * h)));
                /* out |= v & mask */
                out[h] = _mm512_ternarylogic_epi32(
                    out[h], v, _mm512_loadu_si512((const void *)(probe->turn_mask[i] + 16 * h)),
                    0xF8);
            }
        }
        _mm512_storeu_si512((void *)(dst + 32 * a), out[0]);
        _mm512_storeu_si512((void *)(dst + 32 * a + 16), out[1]);
    }
}

/* score_one for 32-row templates with AVX-512 VPOPCNTDQ: sixteen rows a vector, (a ^ g) & both in
 * one VPTERNLOGD, native 32-bit popcounts; the same integer counts as every other kernel, so the
 * same scores. About four times fewer instructions than the AVX2 kernel's nibble lookups. */
__attribute__((target("avx512f,avx512vpopcntdq")))
static double
score_one_avx512(const uint32_t *aligned, int n_shifts, const uint32_t *tp, const uint32_t *tm,
                 Py_ssize_t n_planes, double reference)
{
    __m512i gm[2], gp[AVX2_MAX_PLANES][2];
    for (int v = 0; v < 2; v++) {
        gm[v] = _mm512_loadu_si512((const void *)(tm + 16 * v));
        for (Py_ssize_t p = 0; p < n_planes; p++) {
            gp[p][v] = _mm512_loadu_si512((const void *)(tp + p * AVX2_ROWS + 16 * v));
        }
    }
    double best = INFINITY, best_n = 0.0;
    for (int i = 0; i < n_shifts; i++) {
        const uint32_t *a = aligned + (size_t)i * (n_planes + 1) * AVX2_ROWS;
        const uint32_t *am = a + n_planes * AVX2_ROWS;
        __m512i cn = _mm512_setzero_si512(), cw = _mm512_setzero_si512();
        for (int v = 0; v < 2; v++) {
            __m512i both = _mm512_and_si512(_mm512_loadu_si512((const void *)(am + 16 * v)), gm[v]);
            cn = _mm512_add_epi32(cn, _mm512_popcnt_epi32(both));
            for (Py_ssize_t p = 0; p < n_planes; p++) {
                __m512i x = _mm512_ternarylogic_epi32(
                    _mm512_loadu_si512((const void *)(a + p * AVX2_ROWS + 16 * v)), gp[p][v],
                    both, 0x28);
                cw = _mm512_add_epi32(cw, _mm512_popcnt_epi32(x));
            }
        }
        take_distance((uint64_t)(uint32_t)_mm512_reduce_add_epi32(cn),
                      (uint64_t)(uint32_t)_mm512_reduce_add_epi32(cw), n_planes, &best, &best_n);
    }
    return final_score(best, best_n, reference);
}

__attribute__((target("avx512f,avx512vpopcntdq")))
static void
score_avx512(const probe_t *probe, const uint32_t *planes, const uint32_t *mask, Py_ssize_t g,
             Py_ssize_t n_planes, int max_shift, double reference, double *scores)
{
    const int n_shifts = (2 * max_shift + 1) * (2 * max_shift + 1);
    uint32_t turned[(AVX2_MAX_PLANES + 1) * AVX2_ROWS];
    for (Py_ssize_t t = 0; t < g; t++) {
        const uint32_t *tp = planes + t * n_planes * AVX2_ROWS, *tm = mask + t * AVX2_ROWS;
        double score = score_one_avx512(probe->aligned, n_shifts, tp, tm, n_planes, reference);
        if (probe->turning) {
            double s2 = score_one_avx512(probe->turned_aligned, n_shifts, tp, tm, n_planes,
                                         reference);
            score = s2 > score ? s2 : score;
            turn_rows_avx512(probe, tp, turned, n_planes);
            turn_rows_avx512(probe, tm, turned + n_planes * AVX2_ROWS, 1);
            double s3 = score_one_avx512(probe->aligned, n_shifts, turned,
                                         turned + n_planes * AVX2_ROWS, n_planes, reference);
            score = s3 > score ? s3 : score;
        }
        scores[t] = score;
    }
}
#endif

PyDoc_STRVAR(compare_many_doc,
"compare_many(probe_planes, probe_mask, planes, mask, cols, max_shift, reference_overlap, out,\n"
"             rotation_map=None)\n\n"
"The scores biometric.compare_many gives (same operations in the same order, so the same\n"
"float64 values): masked Hamming distance of the bit planes minimised over translations of up\n"
"to max_shift cells, Daugman's normalisation for the bits compared, 1 - distance clipped to\n"
"[0, 1]. probe_planes: (P, R) uint32; probe_mask: (R,) uint32; planes: (G, P, R) uint32;\n"
"mask: (G, R) uint32; out: writable (G,) float64.\n"
"rotation_map: None, or the rotation search's turn as biometric.compare.rotation_map(R, cols,\n"
"degrees) gives it ((R * cols,) int32, source cell or -1): then each score is the best of the\n"
"probe against the template, the probe turned by the map against the template, and the probe\n"
"against the template turned by the map, as compare_many(..., rotation=degrees).\n"
"The GIL is released while comparing.");

static PyObject *
compare_many(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *pp_o, *pm_o, *gp_o, *gm_o, *out_o, *map_o = Py_None;
    int cols, max_shift;
    double reference;
    if (!PyArg_ParseTuple(args, "OOOOiidO|O", &pp_o, &pm_o, &gp_o, &gm_o, &cols, &max_shift,
                          &reference, &out_o, &map_o)) {
        return NULL;
    }
    Py_buffer pp, pm, gp, gm, out, map = {0};
    int have_map = map_o != Py_None;
    if (get_buffer(pp_o, &pp, 0, "probe_planes") < 0) return NULL;
    if (get_buffer(pm_o, &pm, 0, "probe_mask") < 0) goto fail_pp;
    if (get_buffer(gp_o, &gp, 0, "planes") < 0) goto fail_pm;
    if (get_buffer(gm_o, &gm, 0, "mask") < 0) goto fail_gp;
    if (get_buffer(out_o, &out, 1, "out") < 0) goto fail_gm;
    if (have_map && get_buffer(map_o, &map, 0, "rotation_map") < 0) goto fail_out;

    Py_ssize_t rows = pm.len / 4, n_planes = rows ? pp.len / 4 / rows : 0;
    Py_ssize_t g = out.len / 8;
    if (rows < 1 || rows > MAX_ROWS || pm.len != rows * 4 || n_planes < 1 ||
        n_planes > MAX_PLANES || pp.len != n_planes * rows * 4) {
        PyErr_SetString(PyExc_ValueError, "probe must be (P <= 16, R <= 64) uint32 planes and "
                        "an (R,) uint32 mask");
        goto fail_all;
    }
    if (gp.len != g * n_planes * rows * 4 || gm.len != g * rows * 4 || out.len != g * 8) {
        PyErr_SetString(PyExc_ValueError, "gallery planes (G, P, R), mask (G, R) and out (G,) "
                        "float64 must agree with the probe");
        goto fail_all;
    }
    if (cols < 1 || cols > 32 || max_shift < 0 || max_shift > MAX_SHIFT_CELLS ||
        !(reference > 0)) {
        PyErr_SetString(PyExc_ValueError, "need 1 <= cols <= 32, 0 <= max_shift <= 8 and "
                        "reference_overlap > 0");
        goto fail_all;
    }
    if (have_map && map.len != rows * cols * 4) {
        PyErr_SetString(PyExc_ValueError, "rotation_map must be (R * cols,) int32");
        goto fail_all;
    }
    probe_t *probe = PyMem_Malloc(sizeof(probe_t));
    if (probe == NULL) {
        PyErr_NoMemory();
        goto fail_all;
    }
    probe->turning = have_map;
    probe->aligned = probe->turned_aligned = NULL;
#ifdef HAVE_X86
    /* The AVX2 kernel when the scan uses AVX2 or better (matcher._hamming.set_kernel picks the
     * POPCNT one for tests and comparisons). */
    int use_avx2 = kernel_in_use >= KERNEL_AVX2 && rows == AVX2_ROWS &&
                   n_planes <= AVX2_MAX_PLANES;
    /* ... and its AVX-512 form with the AVX-512 scan kernel (same aligned probe layout) */
    const int use_avx512 = use_avx2 && kernel_in_use == KERNEL_AVX512;
#else
    int use_avx2 = 0;
#endif
    if (use_avx2) {
        size_t words = (size_t)(2 * max_shift + 1) * (2 * max_shift + 1) * (n_planes + 1) *
                       AVX2_ROWS;
        probe->aligned = PyMem_Malloc(words * sizeof(uint32_t) * (have_map ? 2 : 1));
        if (probe->aligned == NULL) {
            PyMem_Free(probe);
            PyErr_NoMemory();
            goto fail_all;
        }
        probe->turned_aligned = have_map ? probe->aligned + words : NULL;
    }
    if (have_map && build_turn(map.buf, rows, cols, &probe->turn) < 0) {
        PyMem_Free(probe->aligned);
        PyMem_Free(probe);
        PyErr_SetString(PyExc_ValueError, "rotation_map entries must be -1 or a cell index");
        goto fail_all;
    }
    const uint32_t *probe_planes = pp.buf, *probe_mask = pm.buf;
    const uint32_t *planes = gp.buf, *mask = gm.buf;
    double *scores = out.buf;

    Py_BEGIN_ALLOW_THREADS
    shift_probe(probe_planes, probe_mask, n_planes, rows, cols, max_shift, probe->sp, probe->sm);
    if (have_map) {
        uint32_t turned[(MAX_PLANES + 1) * MAX_ROWS];
        turn_rows(&probe->turn, probe_planes, turned, n_planes, rows);
        turn_rows(&probe->turn, probe_mask, turned + n_planes * rows, 1, rows);
        shift_probe(turned, turned + n_planes * rows, n_planes, rows, cols, max_shift,
                    probe->turned_sp, probe->turned_sm);
    }
#ifdef HAVE_X86
    if (use_avx2) {
        align_probe(probe->sp, probe->sm, n_planes, max_shift, probe->aligned);
        if (have_map) {
            align_probe(probe->turned_sp, probe->turned_sm, n_planes, max_shift,
                        probe->turned_aligned);
        }
        if (use_avx512) {
            if (have_map) {
                vector_turn(probe);
            }
            score_avx512(probe, planes, mask, g, n_planes, max_shift, reference, scores);
        } else {
            score_avx2(probe, planes, mask, g, n_planes, max_shift, reference, scores);
        }
    } else
#endif
    if (have_popcount()) {
        score_popcnt(probe, planes, mask, g, n_planes, rows, max_shift, reference, scores);
    } else {
        score_plain(probe, planes, mask, g, n_planes, rows, max_shift, reference, scores);
    }
    Py_END_ALLOW_THREADS

    PyMem_Free(probe->aligned);
    PyMem_Free(probe);
    if (have_map) PyBuffer_Release(&map);
    PyBuffer_Release(&out);
    PyBuffer_Release(&gm);
    PyBuffer_Release(&gp);
    PyBuffer_Release(&pm);
    PyBuffer_Release(&pp);
    Py_RETURN_NONE;

fail_all:
    if (have_map) PyBuffer_Release(&map);
fail_out:
    PyBuffer_Release(&out);
fail_gm:
    PyBuffer_Release(&gm);
fail_gp:
    PyBuffer_Release(&gp);
fail_pm:
    PyBuffer_Release(&pm);
fail_pp:
    PyBuffer_Release(&pp);
    return NULL;
}

static PyObject *
kernel(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(unused))
{
    return PyUnicode_FromString(KERNEL_NAMES[kernel_in_use]);
}

static PyObject *
set_kernel(PyObject *Py_UNUSED(self), PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL) return NULL;
    for (int id = KERNEL_GENERIC; id <= KERNEL_AVX512; id++) {
        if (strcmp(name, KERNEL_NAMES[id]) == 0 && kernel_available(id)) {
            kernel_in_use = id;
            Py_RETURN_NONE;
        }
    }
    PyErr_Format(PyExc_ValueError, "kernel %s is not available on this CPU", name);
    return NULL;
}

static PyMethodDef methods[] = {
    {"nearest", nearest, METH_VARARGS, nearest_doc},
    {"nearest_rows", nearest_rows, METH_VARARGS, nearest_rows_doc},
    {"block_codes", block_codes, METH_VARARGS, block_codes_doc},
    {"compare_many", compare_many, METH_VARARGS, compare_many_doc},
    {"kernel", kernel, METH_NOARGS, "Name of the scan kernel in use."},
    {"set_kernel", set_kernel, METH_O,
     "Choose the scan kernel ('generic', 'popcnt', 'avx2' or 'avx512-vpopcntdq'); for tests "
     "and benchmarks."},
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
    for (int id = KERNEL_AVX512; id > KERNEL_GENERIC; id--) {
        if (kernel_available(id)) {
            kernel_in_use = id;
            break;
        }
    }
    return PyModule_Create(&module);
}
