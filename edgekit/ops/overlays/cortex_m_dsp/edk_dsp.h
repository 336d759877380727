/* edk_dsp.h: int8 convolution micro-kernels for Cortex-M cores with the DSP extension
 * (M4, M7, M33 with DSP), and their portable C twin.
 *
 * With __ARM_FEATURE_DSP the inner products use SMLAD (two 16x16 multiply-accumulates in one
 * instruction) and SXTB16 (two int8 -> int16 sign extensions in one instruction) through
 * GCC's arm_acle.h. Without it the same functions are built from plain C macros that compute
 * exactly the same integers, so host builds and other targets share the code and the tests
 * compare the two (-DEDK_PORTABLE builds the twin on a DSP core too). All functions are
 * `static`: this file is #included once into kernels.c.
 *
 * Data layouts (prepared by edgekit/ops/overlays/cortex_m_dsp/_layout.py at compile time):
 *
 *   widened input xs   int16 rows of `row` elements (row even, so every row starts on a word):
 *                      xs[c][j] = x[c][j - lpad] - x_zp inside the input, 0 in the padding.
 *   weights w          uint32 words, per channel pair [input channel][group][2] (the two
 *                      channels side by side; an odd last channel alone, [input channel][group]);
 *                      output channel o's block starts at word o*ci*G. Group g holds taps
 *                      4g..4g+3 (taps past the kernel are 0) as the bytes {w0, w2, w1, w3}, so SXTB16(word) = (w0, w1) and SXTB16(word ROR 8) = (w2, w3) as int16
 *                      pairs, matching the input word (x[j], x[j+1]) for SMLAD.
 *   requantize rq      int32 records of EDK_RQ_WORDS per output channel:
 *                      {bias, m_pos, n_pos, m_neg, n_neg} (m_neg/n_neg = m_pos/n_pos when
 *                      no LeakyReLU is fused); y = clamp(y_zp + ((v*M0 + 2^(n-1)) >> n)) with
 *                      v = acc + bias and M0, n picked by the sign of v.
 *   fused add post     int32 {q_zp, q_m, s_zp, s_m, n, y_zp}: out = clamp(y_zp +
 *                      (((q - q_zp)*q_m + (skip - s_zp)*s_m + 2^(n-1)) >> n)), q the
 *                      requantized conv output, skip read at the output's own index (so the
 *                      output may overwrite the skip operand in place).
 */
#ifndef EDK_DSP_H
#define EDK_DSP_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && !defined(EDK_PORTABLE)  /* EDK_PORTABLE forces the twin */
#include <arm_acle.h>
#define EDK_DSP 1
#else
#define EDK_DSP 0
#endif

#define EDK_RQ_WORDS 5

#if defined(__GNUC__)
#define EDK_INLINE static inline __attribute__((always_inline))
#else
#define EDK_INLINE static inline
#endif

/* one 32-bit word from any address (an unaligned LDR on v7E-M / v8-M) */
EDK_INLINE uint32_t edk_ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---- the three DSP primitives and their portable twins ------------------------------- */
#if EDK_DSP
EDK_INLINE int32_t edk_smlad(uint32_t x, int32_t w, int32_t acc) {
    return __smlad((int16x2_t)x, (int16x2_t)w, acc);
}
EDK_INLINE int32_t edk_sxtb16(uint32_t w) {
    return __sxtb16((int8x4_t)w);
}
EDK_INLINE int32_t edk_sxtb16_ror8(uint32_t w) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}
#else
EDK_INLINE int32_t edk_lo16(uint32_t v) { return (int32_t)(int16_t)(uint16_t)(v & 0xFFFFu); }
EDK_INLINE int32_t edk_hi16(uint32_t v) { return (int32_t)(int16_t)(uint16_t)(v >> 16); }
/* acc + x.lo * w.lo + x.hi * w.hi, wrapping like SMLAD */
EDK_INLINE int32_t edk_smlad(uint32_t x, int32_t w, int32_t acc) {
    uint32_t s = (uint32_t)acc + (uint32_t)(edk_lo16(x) * edk_lo16((uint32_t)w))
                 + (uint32_t)(edk_hi16(x) * edk_hi16((uint32_t)w));
    return (int32_t)s;
}
/* bytes 0 and 2, sign-extended to the low and high halfword */
EDK_INLINE int32_t edk_sxtb16(uint32_t w) {
    uint32_t lo = (uint32_t)(int32_t)(int8_t)(uint8_t)(w & 0xFFu) & 0xFFFFu;
    uint32_t hi = (uint32_t)(int32_t)(int8_t)(uint8_t)((w >> 16) & 0xFFu) << 16;
    return (int32_t)(lo | hi);
}
EDK_INLINE int32_t edk_sxtb16_ror8(uint32_t w) {
    return edk_sxtb16((w >> 8) | (w << 24));
}
#endif

/* ---- requantize and epilogue (exact: one rounding, as edgekit/quant/arithmetic.py) ---- */
EDK_INLINE int32_t edk_sat8(int32_t v) {
#if EDK_DSP
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* clamp(zp + ((v * m + 2^(n-1)) >> n)) for any 1 <= n <= 62, the general (slow) path */
static int32_t edk_requant_any(int32_t v, int32_t m, int32_t n, int32_t zp) {
    int64_t p = ((int64_t)v * m + ((int64_t)1 << (n - 1))) >> n;
    if (p < -256) p = -256;
    if (p > 256) p = 256;
    return edk_sat8((int32_t)p + zp);
}

/* The same for n >= 33 with one 32x32->64 multiply (SMULL) and shifts of its high word:
 * (p + 2^(n-1)) >> n = ((p >> (n-1)) + 1) >> 1 (floors), and p >> (n-1) = hi(p) >> (n-33). */
EDK_INLINE int32_t edk_requant(int32_t v, int32_t m, int32_t n, int32_t zp) {
    if (n < 33) return edk_requant_any(v, m, n, zp);
    int32_t hi = (int32_t)(((int64_t)v * m) >> 32);
    return edk_sat8((((hi >> (n - 33)) + 1) >> 1) + zp);
}

EDK_INLINE int32_t edk_requant_rq(int32_t acc, const int32_t *rq, int32_t zp) {
    int32_t v = acc + rq[0];
    int neg = v < 0;
    return edk_requant(v, rq[neg ? 3 : 1], rq[neg ? 4 : 2], zp);
}

static int8_t edk_post(int32_t q, int8_t skip, const int32_t *post) {
    int64_t acc = (int64_t)(q - post[0]) * post[1] + (int64_t)((int32_t)skip - post[2]) * post[3];
    int32_t n = post[4];
    acc = (acc + ((int64_t)1 << (n - 1))) >> n;
    if (acc < -256) acc = -256;
    if (acc > 256) acc = 256;
    return (int8_t)edk_sat8((int32_t)acc + post[5]);
}

/* ---- widen: one layer's input to int16 with the zero point taken off and zero padding -- */
static void edk_widen(const int8_t *x, int32_t ci, int32_t len, int32_t x_zp, int32_t lpad,
                      int32_t row, int16_t *xs) {
    for (int32_t c = 0; c < ci; c++, x += len, xs += row) {
        int32_t j = 0;
        for (; j < lpad; j++) xs[j] = 0;
        int16_t *d = xs + lpad;
        int32_t i = 0;
#if EDK_DSP
        uint32_t zz = ((uint32_t)(uint16_t)x_zp << 16) | (uint16_t)x_zp;
        for (; i + 4 <= len; i += 4) {
            uint32_t v = edk_ld32(x + i);
            uint32_t e = (uint32_t)__ssub16(edk_sxtb16(v), (int16x2_t)zz);       /* x0, x2 */
            uint32_t o = (uint32_t)__ssub16(edk_sxtb16_ror8(v), (int16x2_t)zz);  /* x1, x3 */
            uint32_t lo = (e & 0xFFFFu) | (o << 16);
            uint32_t hi = (e >> 16) | (o & 0xFFFF0000u);
            memcpy(d + i, &lo, 4);
            memcpy(d + i + 2, &hi, 4);
        }
#endif
        for (; i < len; i++) d[i] = (int16_t)(x[i] - x_zp);
        for (j = lpad + len; j < row; j++) xs[j] = 0;
    }
}

/* ---- the inner product: NCH output channels x NT output times ------------------------ *
 * x: input channel 0 at output time t; the second time reads DW words further. w: the words of
 * the channel (NCH 1: [c][g]) or channel pair (NCH 2: [c][g][2], the two channels' words side
 * by side, one LDRD), G groups of 4 taps per input channel. */
EDK_INLINE void edk_block(const int16_t *x, int32_t row, int32_t ci, int32_t dw, const uint32_t *w,
                          int32_t G, int nch, int nt, int32_t acc[4]) {
    int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    int32_t c = ci;
    do {
        const int16_t *xp = x;
#pragma GCC unroll 4
        for (int32_t g = 0; g < G; g++, xp += 4) {
            uint32_t x0 = edk_ld32(xp), x1 = edk_ld32(xp + 2);
            uint32_t wa = w[0];
            int32_t wa01 = edk_sxtb16(wa), wa23 = edk_sxtb16_ror8(wa);
            a0 = edk_smlad(x0, wa01, a0);
            a0 = edk_smlad(x1, wa23, a0);
            uint32_t y0 = 0, y1 = 0;
            if (nt == 2) {
                y0 = edk_ld32(xp + 2 * dw);
                y1 = edk_ld32(xp + 2 * dw + 2);
                a1 = edk_smlad(y0, wa01, a1);
                a1 = edk_smlad(y1, wa23, a1);
            }
            if (nch == 2) {
                uint32_t wb = w[1];
                int32_t wb01 = edk_sxtb16(wb), wb23 = edk_sxtb16_ror8(wb);
                b0 = edk_smlad(x0, wb01, b0);
                b0 = edk_smlad(x1, wb23, b0);
                if (nt == 2) {
                    b1 = edk_smlad(y0, wb01, b1);
                    b1 = edk_smlad(y1, wb23, b1);
                }
            }
            w += nch;
        }
        x += row;
    } while (--c > 0);
    acc[0] = a0; acc[1] = a1; acc[2] = b0; acc[3] = b1;
}

/* one output: requantize, then the fused add if any */
EDK_INLINE void edk_store(int8_t *y, const int8_t *skip, int32_t off, int32_t acc,
                          const int32_t *rq, int32_t y_zp, const int32_t *post) {
    int32_t q = edk_requant_rq(acc, rq, y_zp);
    y[off] = post ? edk_post(q, skip[off], post) : (int8_t)q;
}

/* A row block: NCH (1 or 2) output channels x nt output times, with the times paired (t, t+u)
 * so that both read the same input words shifted by dw = u*in_step/2 words. */
EDK_INLINE void edk_rows_impl(const int16_t *xs, int32_t row, int32_t ci, int32_t in_step,
                              const uint32_t *w, int32_t G, int nch, const int32_t *rq, int32_t y_zp,
                              int32_t nt, int8_t *y, int32_t y_row, int32_t out_step,
                              const int8_t *skip, const int32_t *post, int32_t dw, int32_t u) {
    int32_t acc[4];
    int8_t *y1 = y + y_row;
    const int8_t *s1 = skip ? skip + y_row : 0;
    const int32_t *rq1 = rq + EDK_RQ_WORDS;
    int32_t tb = 0;
    for (; tb + 2 * u <= nt; tb += 2 * u) {
        for (int32_t i = 0; i < u; i++) {
            int32_t t = tb + i;
            int32_t o0 = t * out_step, o1 = (t + u) * out_step;
            edk_block(xs + t * in_step, row, ci, dw, w, G, nch, 2, acc);
            edk_store(y, skip, o0, acc[0], rq, y_zp, post);
            edk_store(y, skip, o1, acc[1], rq, y_zp, post);
            if (nch == 2) {
                edk_store(y1, s1, o0, acc[2], rq1, y_zp, post);
                edk_store(y1, s1, o1, acc[3], rq1, y_zp, post);
            }
        }
    }
    for (int32_t t = tb; t < nt; t++) {
        edk_block(xs + t * in_step, row, ci, dw, w, G, nch, 1, acc);
        edk_store(y, skip, t * out_step, acc[0], rq, y_zp, post);
        if (nch == 2) edk_store(y1, s1, t * out_step, acc[2], rq1, y_zp, post);
    }
}

/* edk_conv_rows: nch (1 or 2) output channels x nt output times of a conv1d, or of one output
 * phase of a conv_transpose1d, requantized (LeakyReLU by the sign), with the fused add if
 * post != 0.
 *   xs       widened input (see above) at the first input element output 0 reads;
 *            input channel c at xs + c*row; output i reads xs[c][i*in_step + 4g..]; ci >= 1
 *   w        the channel's (nch 1) or channel pair's (nch 2) weight words, ci*G*nch of them
 *   rq       first output channel's requantize record, the next channel's follows
 *   y, skip  first output channel's first output; output i at [i*out_step], the next
 *            channel at y + y_row (skip the same layout as y, or 0 with post == 0)
 */
static void edk_conv_rows(const int16_t *xs, int32_t row, int32_t ci, int32_t in_step,
                          const uint32_t *w, int32_t G, int32_t nch, const int32_t *rq, int32_t y_zp,
                          int32_t nt, int8_t *y, int32_t y_row, int32_t out_step,
                          const int8_t *skip, const int32_t *post) {
    /* outputs t and t+u read the same words shifted by u*in_step/2 words when u*in_step is even */
    const int32_t u = (in_step & 1) ? 2 : 1;
    const int32_t dw = u * in_step / 2;
    if (dw == 1 && nch == 2 && G == 4)
        edk_rows_impl(xs, row, ci, in_step, w, 4, 2, rq, y_zp, nt, y, y_row, out_step, skip, post, 1, u);
    else if (dw == 1 && nch == 2 && G == 2)
        edk_rows_impl(xs, row, ci, in_step, w, 2, 2, rq, y_zp, nt, y, y_row, out_step, skip, post, 1, u);
    else if (nch == 2)
        edk_rows_impl(xs, row, ci, in_step, w, G, 2, rq, y_zp, nt, y, y_row, out_step, skip, post, dw, u);
    else
        edk_rows_impl(xs, row, ci, in_step, w, G, 1, rq, y_zp, nt, y, y_row, out_step, skip, post, dw, u);
}

#endif /* EDK_DSP_H */
