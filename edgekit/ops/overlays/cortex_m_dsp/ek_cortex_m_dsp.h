/* ek_cortex_m_dsp.h: int8 convolution micro-kernels for Cortex-M cores with the DSP extension
 * (M4, M7, M33 with DSP), and their portable C twin.
 *
 * With __ARM_FEATURE_DSP the inner products use SMLAD (two 16x16 multiply-accumulates in one
 * instruction) and SXTB16 (two int8 -> int16 sign extensions in one instruction) through
 * GCC's arm_acle.h. Without it the same functions are built from plain C macros that compute
 * exactly the same integers, so host builds and other targets share the code and the tests
 * compare the two (-DEDGEKIT_PORTABLE_KERNELS builds the twin on a DSP core too). All
 * functions are `static`: this file is #included once into kernels.c.
 *
 * Data layouts (prepared by edgekit/ops/overlays/cortex_m_dsp/_layout.py at compile time):
 *
 *   widened input xs   int16 rows of `row` elements (row even, so every row starts on a word):
 *                      xs[c][j] = x[c][j - lpad] - x_zp inside the input, 0 in the padding.
 *   weights w          uint32 words, per channel pair [input channel][group][2] (the two
 *                      channels side by side; an odd last channel alone, [input channel][group]);
 *                      output channel o's block starts at word o*ci*G. Group g holds taps
 *                      4g..4g+3 (taps past the kernel are 0) as the bytes {w0, w2, w1, w3},
 *                      so SXTB16(word) = (w0, w1) and SXTB16(word ROR 8) = (w2, w3) as int16
 *                      pairs, matching the input word (x[j], x[j+1]) for SMLAD.
 *   requantize rq      int32 records of EK_CORTEX_M_DSP_RQ_WORDS per output channel:
 *                      {bias, m_pos, n_pos, m_neg, n_neg} (m_neg/n_neg = m_pos/n_pos when
 *                      no LeakyReLU is fused); y = clamp(y_zp + ((v*M0 + 2^(n-1)) >> n)) with
 *                      v = acc + bias and M0, n picked by the sign of v.
 *   fused add post     int32 {q_zp, q_m, s_zp, s_m, n, y_zp}: out = clamp(y_zp +
 *                      (((q - q_zp)*q_m + (skip - s_zp)*s_m + 2^(n-1)) >> n)), q the
 *                      requantized conv output, skip read at the output's own index (so the
 *                      output may overwrite the skip operand in place).
 */
#ifndef EK_CORTEX_M_DSP_H
#define EK_CORTEX_M_DSP_H

#include <stdint.h>
#include <string.h>

/* EDGEKIT_PORTABLE_KERNELS forces the twin */
#if defined(__ARM_FEATURE_DSP) && !defined(EDGEKIT_PORTABLE_KERNELS)
#include <arm_acle.h>
#define EK_DSP 1
#else
#define EK_DSP 0
#endif

#define EK_CORTEX_M_DSP_RQ_WORDS 5

/* EK_DSP_INLINE: inlined into its caller; EK_DSP_CALLED: one out-of-line copy (the row loop,
 * called from every layer's kernel, and the rare slow paths); EK_DSP_NO_LIBC: GCC would turn
 * the zero-padding loops into memset calls, and the generated C needs no C library */
#if defined(__GNUC__)
#define EK_DSP_INLINE static inline __attribute__((always_inline))
#define EK_DSP_CALLED static __attribute__((noinline, unused))
#else
#define EK_DSP_INLINE static inline
#define EK_DSP_CALLED static
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define EK_DSP_NO_LIBC __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define EK_DSP_NO_LIBC
#endif

/* one 32-bit word from any address (an unaligned LDR on v7E-M / v8-M) */
EK_DSP_INLINE uint32_t ek_cortex_m_dsp_ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---- the three DSP primitives and their portable twins ------------------------------- */
#if EK_DSP
EK_DSP_INLINE int32_t ek_cortex_m_dsp_smlad(uint32_t x, int32_t w, int32_t acc) {
    return __smlad((int16x2_t)x, (int16x2_t)w, acc);
}
EK_DSP_INLINE int32_t ek_cortex_m_dsp_sxtb16(uint32_t w) {
    return __sxtb16((int8x4_t)w);
}
EK_DSP_INLINE int32_t ek_cortex_m_dsp_sxtb16_ror8(uint32_t w) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}
#else
EK_DSP_INLINE int32_t ek_cortex_m_dsp_lo16(uint32_t v) {
    return (int32_t)(int16_t)(uint16_t)(v & 0xFFFFu);
}
EK_DSP_INLINE int32_t ek_cortex_m_dsp_hi16(uint32_t v) {
    return (int32_t)(int16_t)(uint16_t)(v >> 16);
}
/* acc + x.lo * w.lo + x.hi * w.hi, wrapping like SMLAD */
EK_DSP_INLINE int32_t ek_cortex_m_dsp_smlad(uint32_t x, int32_t w, int32_t acc) {
    uint32_t s = (uint32_t)acc + (uint32_t)(ek_cortex_m_dsp_lo16(x) * ek_cortex_m_dsp_lo16((uint32_t)w))
                 + (uint32_t)(ek_cortex_m_dsp_hi16(x) * ek_cortex_m_dsp_hi16((uint32_t)w));
    return (int32_t)s;
}
/* bytes 0 and 2, sign-extended to the low and high halfword */
EK_DSP_INLINE int32_t ek_cortex_m_dsp_sxtb16(uint32_t w) {
    uint32_t lo = (uint32_t)(int32_t)(int8_t)(uint8_t)(w & 0xFFu) & 0xFFFFu;
    uint32_t hi = (uint32_t)(int32_t)(int8_t)(uint8_t)((w >> 16) & 0xFFu) << 16;
    return (int32_t)(lo | hi);
}
EK_DSP_INLINE int32_t ek_cortex_m_dsp_sxtb16_ror8(uint32_t w) {
    return ek_cortex_m_dsp_sxtb16((w >> 8) | (w << 24));
}
#endif

/* ---- requantize and epilogue (exact: one rounding, as edgekit/quant/arithmetic.py) ---- */
EK_DSP_INLINE int32_t ek_cortex_m_dsp_sat8(int32_t v) {
#if EK_DSP
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* clamp(zp + ((v * m + 2^(n-1)) >> n)) for any 1 <= n <= 62, the general (slow) path */
EK_DSP_CALLED int32_t ek_cortex_m_dsp_requant_any(int32_t v, int32_t m, int32_t n, int32_t zp) {
    int64_t p = ((int64_t)v * m + ((int64_t)1 << (n - 1))) >> n;
    if (p < -256) p = -256;
    if (p > 256) p = 256;
    return ek_cortex_m_dsp_sat8((int32_t)p + zp);
}

/* the fused add: clamp(y_zp + (((q - q_zp)*q_m + (skip - s_zp)*s_m + 2^(n-1)) >> n)), the
 * general path */
EK_DSP_CALLED int32_t ek_cortex_m_dsp_add_any(int32_t q, int32_t skip, const int32_t *post) {
    int64_t acc = (int64_t)(q - post[0]) * post[1] + (int64_t)(skip - post[2]) * post[3];
    acc = (acc + ((int64_t)1 << (post[4] - 1))) >> post[4];
    if (acc < -256) acc = -256;
    if (acc > 256) acc = 256;
    return ek_cortex_m_dsp_sat8((int32_t)acc + post[5]);
}

/* One output channel's epilogue, loaded into locals once per call (the int8 stores of the
 * outputs may alias any array, so values read through pointers would be read again after
 * each store). */
typedef struct {
    int32_t bias, m_pos, n_pos, m_neg, n_neg;
} ek_cortex_m_dsp_rq;

typedef struct {
    int32_t q_zp, q_m, s_zp, s_m, n, y_zp, fast;
} ek_cortex_m_dsp_add;

EK_DSP_INLINE ek_cortex_m_dsp_rq ek_cortex_m_dsp_load_rq(const int32_t *rq) {
    ek_cortex_m_dsp_rq r = {rq[0], rq[1], rq[2], rq[3], rq[4]};
    return r;
}

/* acc -> the int8 output: requantize (LeakyReLU by the sign of acc + bias); fast: every shift
 * of the layer is >= 33 */
EK_DSP_INLINE int32_t ek_cortex_m_dsp_out(int32_t acc, ek_cortex_m_dsp_rq r, int32_t zp, int fast) {
    int32_t v = acc + r.bias;
    int32_t m = v < 0 ? r.m_neg : r.m_pos, n = v < 0 ? r.n_neg : r.n_pos;
    if (fast) {
        int32_t hi = (int32_t)(((int64_t)v * m) >> 32);   /* SMULL */
        return ek_cortex_m_dsp_sat8((((hi >> (n - 33)) + 1) >> 1) + zp);
    }
    return ek_cortex_m_dsp_requant_any(v, m, n, zp);
}

/* then the fused add; fast: its shift n < 32, so the shifted 64-bit sum is the low word shifted
 * right plus the high word shifted left (the sum >> n fits 32 bits: |q - q_zp|, |skip - s_zp|
 * <= 255 and q_m, s_m < 2^31) */
EK_DSP_INLINE int32_t ek_cortex_m_dsp_add_out(int32_t q, int32_t skip, ek_cortex_m_dsp_add a,
                                              const int32_t *post) {
    if (!a.fast) return ek_cortex_m_dsp_add_any(q, skip, post);
    int64_t acc = (int64_t)(q - a.q_zp) * a.q_m + (int64_t)(skip - a.s_zp) * a.s_m
                  + ((int64_t)1 << (a.n - 1));
    int32_t r = (int32_t)(((uint32_t)acc >> a.n) | ((uint32_t)((uint64_t)acc >> 32) << (32 - a.n)));
    return ek_cortex_m_dsp_sat8(r + a.y_zp);
}

/* ---- widen: one layer's input to int16 with the zero point taken off and zero padding -- *
 * Counters and bounds are uint32 (all sizes are >= 0), and each tail loop starts from its own
 * bound (n4, pend below), not from where the loop before it stopped: GCC's value-range pass
 * rewrites a tail loop's `i < n` into `i != n` once it knows the start is <= n, then loses
 * that start's range, and for constant shapes reports the now unbounded loop as undefined
 * behaviour (-Waggressive-loop-optimizations). */
EK_DSP_CALLED EK_DSP_NO_LIBC void ek_cortex_m_dsp_widen(const int8_t *x, int32_t ci, int32_t len,
                                                       int32_t x_zp, int32_t lpad, int32_t row,
                                                       int16_t *xs) {
    const uint32_t nc = (uint32_t)ci, n = (uint32_t)len, lp = (uint32_t)lpad, nr = (uint32_t)row;
#if EK_DSP
    const uint32_t n4 = n & ~3u;   /* the elements the 4-wide loop widens */
    const uint32_t zz = ((uint32_t)(uint16_t)x_zp << 16) | (uint16_t)x_zp;
#else
    const uint32_t n4 = 0;
#endif
    for (uint32_t c = 0; c < nc; c++, x += n, xs += nr) {
        for (uint32_t j = 0; j < lp; j++) xs[j] = 0;
        int16_t *d = xs + lp;
#if EK_DSP
        for (uint32_t i = 0; i < n4; i += 4) {
            uint32_t v = ek_cortex_m_dsp_ld32(x + i);
            uint32_t e = (uint32_t)__ssub16(ek_cortex_m_dsp_sxtb16(v), (int16x2_t)zz);       /* x0, x2 */
            uint32_t o = (uint32_t)__ssub16(ek_cortex_m_dsp_sxtb16_ror8(v), (int16x2_t)zz);  /* x1, x3 */
            uint32_t lo = (e & 0xFFFFu) | (o << 16);
            uint32_t hi = (e >> 16) | (o & 0xFFFF0000u);
            memcpy(d + i, &lo, 4);
            memcpy(d + i + 2, &hi, 4);
        }
#endif
        for (uint32_t i = n4; i < n; i++) d[i] = (int16_t)(x[i] - x_zp);
        for (uint32_t j = lp + n; j < nr; j++) xs[j] = 0;
    }
}

/* ---- the inner product: NCH output channels x NT output times ------------------------ *
 * x: input channel 0 at output time t; the second time reads DW words further. w: the words of
 * the channel (NCH 1: [c][g]) or channel pair (NCH 2: [c][g][2], the two channels' words side
 * by side, one LDRD), G groups of 4 taps per input channel. */
EK_DSP_INLINE void ek_cortex_m_dsp_taps(const int16_t *xp, int32_t dw, const uint32_t *w, int32_t G,
                                        int nch, int nt, int32_t *a0, int32_t *a1, int32_t *b0,
                                        int32_t *b1) {
#pragma GCC unroll 4
    for (int32_t g = 0; g < G; g++, xp += 4, w += nch) {
        uint32_t x0 = ek_cortex_m_dsp_ld32(xp), x1 = ek_cortex_m_dsp_ld32(xp + 2);
        uint32_t wa = w[0];
        int32_t wa01 = ek_cortex_m_dsp_sxtb16(wa), wa23 = ek_cortex_m_dsp_sxtb16_ror8(wa);
        *a0 = ek_cortex_m_dsp_smlad(x1, wa23, ek_cortex_m_dsp_smlad(x0, wa01, *a0));
        uint32_t y0 = 0, y1 = 0;
        if (nt == 2) {
            y0 = ek_cortex_m_dsp_ld32(xp + 2 * dw);
            y1 = ek_cortex_m_dsp_ld32(xp + 2 * dw + 2);
            *a1 = ek_cortex_m_dsp_smlad(y1, wa23, ek_cortex_m_dsp_smlad(y0, wa01, *a1));
        }
        if (nch == 2) {
            uint32_t wb = w[1];
            int32_t wb01 = ek_cortex_m_dsp_sxtb16(wb), wb23 = ek_cortex_m_dsp_sxtb16_ror8(wb);
            *b0 = ek_cortex_m_dsp_smlad(x1, wb23, ek_cortex_m_dsp_smlad(x0, wb01, *b0));
            if (nt == 2) *b1 = ek_cortex_m_dsp_smlad(y1, wb23, ek_cortex_m_dsp_smlad(y0, wb01, *b1));
        }
    }
}

/* over the input channels, one per iteration (two per iteration need more registers than the
 * core has, and GCC then loads weights twice) */
EK_DSP_INLINE void ek_cortex_m_dsp_block(const int16_t *x, int32_t row, int32_t ci, int32_t dw,
                                         const uint32_t *w, int32_t G, int nch, int nt, int32_t acc[4]) {
    int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    const int32_t wstep = G * nch;
    const int16_t *xend = x + ci * row;
    do {
        ek_cortex_m_dsp_taps(x, dw, w, G, nch, nt, &a0, &a1, &b0, &b1);
        x += row;
        w += wstep;
    } while (x != xend);
    acc[0] = a0; acc[1] = a1; acc[2] = b0; acc[3] = b1;
}

/* one output: requantize, then the fused add if any */
EK_DSP_INLINE void ek_cortex_m_dsp_store(int8_t *y, const int8_t *skip, uint32_t off, int32_t acc,
                                         ek_cortex_m_dsp_rq r, int32_t y_zp, int fast,
                                         const int32_t *post, ek_cortex_m_dsp_add a) {
    int32_t q = ek_cortex_m_dsp_out(acc, r, y_zp, fast);
    y[off] = (int8_t)(post ? ek_cortex_m_dsp_add_out(q, skip[off], a, post) : q);
}

/* A row block: NCH (1 or 2) output channels x nt output times, with the times paired (t, t+u)
 * so that both read the same input words shifted by dw = u*in_step/2 words. */
EK_DSP_INLINE void ek_cortex_m_dsp_rows_impl(const int16_t *xs, int32_t row, int32_t ci, int32_t in_step,
                                             const uint32_t *w, int32_t G, int nch, const int32_t *rq,
                                             int32_t y_zp, int32_t nt, int8_t *y, int32_t y_row,
                                             int32_t out_step, const int8_t *skip, const int32_t *post,
                                             int32_t dw, int32_t u) {
    int32_t acc[4];
    int8_t *y1 = y + y_row;
    const int8_t *s1 = skip ? skip + y_row : 0;
    const ek_cortex_m_dsp_rq r0 = ek_cortex_m_dsp_load_rq(rq);
    const ek_cortex_m_dsp_rq r1 = ek_cortex_m_dsp_load_rq(rq + (nch == 2 ? EK_CORTEX_M_DSP_RQ_WORDS : 0));
    const int fast = r0.n_pos >= 33 && r0.n_neg >= 33 && r1.n_pos >= 33 && r1.n_neg >= 33;
    ek_cortex_m_dsp_add a = {0, 0, 0, 0, 1, 0, 0};
    if (post) {
        ek_cortex_m_dsp_add b = {post[0], post[1], post[2], post[3], post[4], post[5], post[4] < 32};
        a = b;
    }
    /* unsigned times and offsets: no signed overflow for GCC to assume away (all are >= 0); the
     * paired blocks cover [0, pend) (step = 2u is 2 or 4), the single-time tail starts at pend
     * itself (see widen above) */
    const uint32_t n = (uint32_t)nt, uu = (uint32_t)u, is = (uint32_t)in_step, os = (uint32_t)out_step;
    const uint32_t step = 2 * uu, pend = n & ~(step - 1);
    for (uint32_t tb = 0; tb < pend; tb += step) {
        for (uint32_t i = 0; i < uu; i++) {
            uint32_t t = tb + i;
            uint32_t o0 = t * os, o1 = (t + uu) * os;
            ek_cortex_m_dsp_block(xs + t * is, row, ci, dw, w, G, nch, 2, acc);
            ek_cortex_m_dsp_store(y, skip, o0, acc[0], r0, y_zp, fast, post, a);
            ek_cortex_m_dsp_store(y, skip, o1, acc[1], r0, y_zp, fast, post, a);
            if (nch == 2) {
                ek_cortex_m_dsp_store(y1, s1, o0, acc[2], r1, y_zp, fast, post, a);
                ek_cortex_m_dsp_store(y1, s1, o1, acc[3], r1, y_zp, fast, post, a);
            }
        }
    }
    for (uint32_t t = pend; t < n; t++) {
        ek_cortex_m_dsp_block(xs + t * is, row, ci, dw, w, G, nch, 1, acc);
        ek_cortex_m_dsp_store(y, skip, t * os, acc[0], r0, y_zp, fast, post, a);
        if (nch == 2) ek_cortex_m_dsp_store(y1, s1, t * os, acc[2], r1, y_zp, fast, post, a);
    }
}

/* ek_cortex_m_dsp_conv_rows: nch (1 or 2) output channels x nt output times of a conv1d, or of
 * one output phase of a conv_transpose1d, requantized (LeakyReLU by the sign), with the fused
 * add if post != 0.
 *   xs       widened input (see above) at the first input element output 0 reads;
 *            input channel c at xs + c*row; output i reads xs[c][i*in_step + 4g..]; ci >= 1
 *   w        the channel's (nch 1) or channel pair's (nch 2) weight words, ci*G*nch of them
 *   rq       first output channel's requantize record, the next channel's follows
 *   y, skip  first output channel's first output; output i at [i*out_step], the next
 *            channel at y + y_row (skip the same layout as y, or 0 with post == 0)
 */
EK_DSP_CALLED void ek_cortex_m_dsp_conv_rows(const int16_t *xs, int32_t row, int32_t ci, int32_t in_step,
                                            const uint32_t *w, int32_t G, int32_t nch, const int32_t *rq,
                                            int32_t y_zp, int32_t nt, int8_t *y, int32_t y_row,
                                            int32_t out_step, const int8_t *skip, const int32_t *post) {
    /* outputs t and t+u read the same words shifted by u*in_step/2 words when u*in_step is even;
     * the usual shapes (16 or 8 taps, one word apart) get the loop fully unrolled */
    const int32_t u = (in_step & 1) ? 2 : 1;
    const int32_t dw = u * in_step / 2;
#define EK_DSP_ROWS(G_, NCH_, DW_) \
    ek_cortex_m_dsp_rows_impl(xs, row, ci, in_step, w, G_, NCH_, rq, y_zp, nt, y, y_row, out_step, skip, post, DW_, u)
    if (dw == 1 && nch == 2 && G == 4)
        EK_DSP_ROWS(4, 2, 1);
    else if (dw == 1 && nch == 2 && G == 2)
        EK_DSP_ROWS(2, 2, 1);
    else if (nch == 2)
        EK_DSP_ROWS(G, 2, dw);
    else
        EK_DSP_ROWS(G, 1, dw);
#undef EK_DSP_ROWS
}

/* the entry points the overlays' TIR calls: without and with the fused skip add */
static inline void ek_cortex_m_dsp_conv(const int16_t *xs, int32_t row, int32_t ci, int32_t in_step,
                                        const uint32_t *w, int32_t G, int32_t nch, const int32_t *rq,
                                        int32_t y_zp, int32_t nt, int8_t *y, int32_t y_row,
                                        int32_t out_step) {
    ek_cortex_m_dsp_conv_rows(xs, row, ci, in_step, w, G, nch, rq, y_zp, nt, y, y_row, out_step, 0, 0);
}

static inline void ek_cortex_m_dsp_conv_add(const int16_t *xs, int32_t row, int32_t ci, int32_t in_step,
                                            const uint32_t *w, int32_t G, int32_t nch, const int32_t *rq,
                                            int32_t y_zp, int32_t nt, int8_t *y, int32_t y_row,
                                            int32_t out_step, const int8_t *skip, const int32_t *post) {
    ek_cortex_m_dsp_conv_rows(xs, row, ci, in_step, w, G, nch, rq, y_zp, nt, y, y_row, out_step, skip, post);
}

#endif /* EK_CORTEX_M_DSP_H */
