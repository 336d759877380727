/* ek_mve_conv.h: conv1d / conv_transpose1d for Cortex-M55 Helium (MVE), on the layout of
 * ek_conv_core.h with 16-byte windows (Tp * G = 16: taps padded to 16 for K <= 16 with one
 * input channel per window, or 8 taps x 2 interleaved channels for a transposed conv of
 * stride 2), 4 output channels x 2 positions per block: per input channel group 2 window
 * loads + 4 weight loads feed 8 VMLADAVA.S8 (16 MACs each). Without MVE (host, other cores)
 * the same functions run the portable micro-kernel: identical results.
 * ek_mve_conv_portable is that twin, always compiled (tests compare the two). */
#ifndef EK_MVE_CONV_H
#define EK_MVE_CONV_H
#include <stdint.h>
#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>
#endif

#define EK_MVE_OB 4
#define EK_MVE_PB 2

#define EK_MVE_CORE_PORTABLE(x, rowb, xstep, w, ncg, np, acc, lanes) \
    ek_core_portable(x, rowb, xstep, w, ncg, np, acc, EK_MVE_OB, EK_MVE_PB, lanes)

EK_DEFINE_CONV(ek_mve_conv_portable, EK_MVE_CORE_PORTABLE, ek_fill_window, EK_MVE_OB, EK_MVE_PB)

#if defined(__ARM_FEATURE_MVE)
/* 4 output channels x np (1 or 2) positions; lanes == 16. */
static inline void ek_mve_core(const int8_t *x, int32_t rowb, int32_t xstep, const int8_t *w, int32_t ncg,
                               int32_t np, int32_t *acc)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (np == 2) {
        int32_t b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        const int8_t *x1 = x + xstep;
        for (int32_t c = 0; c < ncg; c++) {
            int8x16_t v0 = vld1q_s8(x), v1 = vld1q_s8(x1);
            int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
            a0 = vmladavaq_s8(a0, v0, w0);
            b0 = vmladavaq_s8(b0, v1, w0);
            a1 = vmladavaq_s8(a1, v0, w1);
            b1 = vmladavaq_s8(b1, v1, w1);
            a2 = vmladavaq_s8(a2, v0, w2);
            b2 = vmladavaq_s8(b2, v1, w2);
            a3 = vmladavaq_s8(a3, v0, w3);
            b3 = vmladavaq_s8(b3, v1, w3);
            x += rowb;
            x1 += rowb;
            w += 64;
        }
        acc[1] = b0;
        acc[3] = b1;
        acc[5] = b2;
        acc[7] = b3;
    } else {
        for (int32_t c = 0; c < ncg; c++) {
            int8x16_t v0 = vld1q_s8(x);
            a0 = vmladavaq_s8(a0, v0, vld1q_s8(w));
            a1 = vmladavaq_s8(a1, v0, vld1q_s8(w + 16));
            a2 = vmladavaq_s8(a2, v0, vld1q_s8(w + 32));
            a3 = vmladavaq_s8(a3, v0, vld1q_s8(w + 48));
            x += rowb;
            w += 64;
        }
    }
    acc[0] = a0;
    acc[2] = a1;
    acc[4] = a2;
    acc[6] = a3;
}
#define EK_MVE_CORE(x, rowb, xstep, w, ncg, np, acc, lanes) ek_mve_core(x, rowb, xstep, w, ncg, np, acc)

/* ek_fill_window with whole 16-column runs of channel pairs interleaved by VST2 (G == 2)
 * or copied by VLDRB/VSTRB (G == 1); the edges and the rest element by element. */
static inline void ek_mve_fill_window(const int8_t *x, int32_t ci, int32_t lin, int32_t x_zp, int32_t g_,
                                      int32_t ncg, int32_t col, int32_t ncols, int8_t *s)
{
    int32_t lo = col < 0 ? -col : 0;                       /* first j inside the input */
    int32_t hi = lin - col < ncols ? lin - col : ncols;    /* end of j inside the input */
    if (g_ > 2 || hi - lo < 16) {
        ek_fill_window(x, ci, lin, x_zp, g_, ncg, col, ncols, s);
        return;
    }
    for (int32_t cg = 0; cg < ncg; cg++) {
        int32_t c = cg * g_;
        int8_t *row = s + cg * ncols * g_;
        int32_t full = g_ == 1 || c + 1 < ci;             /* a padding channel needs zeros */
        if (!full) {  /* the last channel of an odd count: its partner is a zero-weight channel */
            for (int32_t j = 0; j < ncols; j++) {
                int32_t t = col + j;
                row[2 * j] = (int8_t)((t >= 0 && t < lin) ? x[c * lin + t] : x_zp);
                row[2 * j + 1] = 0;
            }
            continue;
        }
        for (int32_t j = 0; j < lo; j++)
            for (int32_t g = 0; g < g_; g++) row[j * g_ + g] = (int8_t)x_zp;
        int32_t j = lo;
        const int8_t *x0 = x + c * lin + col, *x1 = x0 + lin;
        if (g_ == 1) {
            for (; j + 16 <= hi; j += 16) vst1q_s8(row + j, vld1q_s8(x0 + j));
        } else {
            for (; j + 16 <= hi; j += 16) {
                int8x16x2_t v = {{vld1q_s8(x0 + j), vld1q_s8(x1 + j)}};
                vst2q_s8(row + 2 * j, v);
            }
        }
        for (; j < hi; j++)
            for (int32_t g = 0; g < g_; g++) row[j * g_ + g] = x0[g * lin + j];
        for (; j < ncols; j++)
            for (int32_t g = 0; g < g_; g++) row[j * g_ + g] = (int8_t)x_zp;
    }
}
EK_DEFINE_CONV(ek_mve_conv, EK_MVE_CORE, ek_mve_fill_window, EK_MVE_OB, EK_MVE_PB)
#else
EK_DEFINE_CONV(ek_mve_conv, EK_MVE_CORE_PORTABLE, ek_fill_window, EK_MVE_OB, EK_MVE_PB)
#endif

#endif
