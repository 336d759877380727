/* ek_mve_conv.h: conv1d / conv_transpose1d for Cortex-M55 Helium (MVE), on the layout of
 * ek_conv_core.h with 16-byte windows (Tp * G = 16: taps padded to 16 for K <= 16 with one
 * input channel per window, or 8 taps x 2 interleaved channels for a transposed conv of
 * stride 2), 4 output channels x 2 positions per block: per input channel group 2 window
 * loads + 4 weight loads feed 8 VMLADAVA.S8 (16 MACs each). Without MVE (host, other cores)
 * or with -DEDGEKIT_PORTABLE_KERNELS, the same functions run the portable micro-kernel and
 * epilogue: identical results.
 * ek_mve_conv_portable is that twin, always compiled (tests compare the two). */
#ifndef EK_MVE_CONV_H
#define EK_MVE_CONV_H
#include <stdint.h>
#if defined(__ARM_FEATURE_MVE) && !defined(EDGEKIT_PORTABLE_KERNELS)
#define EK_MVE_HELIUM 1
#include <arm_mve.h>
#endif

#define EK_MVE_OB 4
#define EK_MVE_PB 2

#define EK_MVE_CORE_PORTABLE(x, rowb, xstep, w, ncg, np, acc, lanes) \
    ek_core_portable(x, rowb, xstep, w, ncg, np, acc, EK_MVE_OB, EK_MVE_PB, lanes)
#define EK_MVE_EPI_PORTABLE(e, acc, o0, p, p1, r, out0, ostep) \
    ek_epi_block(e, acc, EK_MVE_OB, EK_MVE_PB, o0, p, p1, r, out0, ostep)

EK_DEFINE_CONV(ek_mve_conv_portable, EK_MVE_CORE_PORTABLE, EK_MVE_EPI_PORTABLE, ek_fill_window, EK_MVE_OB,
               EK_MVE_PB)

#if defined(EK_MVE_HELIUM)
/* 4 output channels x 2 positions; lanes == 16; ncg >= 1. Per input channel group: 2 window
 * loads, 4 weight loads, 8 VMLADAVA.S8, 4 pointer/loop instructions. In assembly because
 * VMLADAV accumulates into even-numbered registers only (r0, r2, ..., r12, lr): gcc 12 keeps
 * lr for a low-overhead loop and shuffles or spills the 8th accumulator (29 instructions per
 * group instead of 17). acc[] = {o0 p0, o0 p1, o1 p0, o1 p1, ...}. Arguments: r0 = x (window
 * of position 0), r1 = rowb (bytes between channel groups), r2 = w, r3 = ncg, [sp] = acc;
 * _xs2: position 1 starts 2 bytes after position 0 (stride-2 conv1d, transposed conv with
 * 2 interleaved channels); _any: [sp, #4] = that offset. */
#define EK_MVE_MACS(X1)                                                                                   \
    "   movs r0, #0\n   movs r2, #0\n   movs r4, #0\n   movs r6, #0\n"                                    \
    "   mov r8, r0\n   mov r10, r0\n   mov r12, r0\n   mov lr, r0\n"                                       \
    "1: vldrb.8 q0, [r5]\n"                                                                                \
    "   vldrb.8 q1, " X1 "\n"                                                                               \
    "   vldrb.8 q2, [r9]\n"                                                                                \
    "   vldrb.8 q3, [r9, #16]\n"                                                                           \
    "   vmladava.s8 r0, q0, q2\n"                                                                          \
    "   vmladava.s8 r2, q1, q2\n"                                                                          \
    "   vldrb.8 q2, [r9, #32]\n"                                                                           \
    "   vmladava.s8 r4, q0, q3\n"                                                                          \
    "   vmladava.s8 r6, q1, q3\n"                                                                          \
    "   vldrb.8 q3, [r9, #48]\n"                                                                           \
    "   vmladava.s8 r8, q0, q2\n"                                                                          \
    "   vmladava.s8 r10, q1, q2\n"                                                                         \
    "   vmladava.s8 r12, q0, q3\n"                                                                         \
    "   vmladava.s8 lr, q1, q3\n"                                                                          \
    "   add r5, r5, r7\n"

static __attribute__((naked, noinline, used)) void ek_mve_core_xs2(const int8_t *x, int32_t rowb, const int8_t *w,
                                                                   int32_t ncg, int32_t *acc)
{
    (void)x, (void)rowb, (void)w, (void)ncg, (void)acc;
    __asm volatile(
        "   push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
        "   mov r5, r0\n   mov r7, r1\n   mov r9, r2\n   mov r11, r3\n"
        EK_MVE_MACS("[r5, #2]")
        "   adds r9, r9, #64\n"
        "   subs r11, r11, #1\n"
        "   bne 1b\n"
        "   ldr r1, [sp, #36]\n"
        "   stm r1, {r0, r2, r4, r6, r8, r10, r12, lr}\n"
        "   pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n");
}

static __attribute__((naked, noinline, used)) void ek_mve_core_any(const int8_t *x, int32_t rowb, const int8_t *w,
                                                                   int32_t ncg, int32_t *acc, int32_t xs)
{
    (void)x, (void)rowb, (void)w, (void)ncg, (void)acc, (void)xs;
    __asm volatile(
        "   push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
        "   mov r5, r0\n   mov r7, r1\n   mov r9, r2\n   mov r11, r3\n"
        "   ldr r3, [sp, #40]\n   add r3, r3, r0\n"
        EK_MVE_MACS("[r3]")
        "   add r3, r3, r7\n"
        "   adds r9, r9, #64\n"
        "   subs r11, r11, #1\n"
        "   bne 1b\n"
        "   ldr r1, [sp, #36]\n"
        "   stm r1, {r0, r2, r4, r6, r8, r10, r12, lr}\n"
        "   pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n");
}

#define EK_MVE_CORE(x, rowb, xstep, w, ncg, np, acc, lanes) \
    ((xstep) == 2 ? ek_mve_core_xs2(x, rowb, w, ncg, acc) : ek_mve_core_any(x, rowb, w, ncg, acc, xstep))

/* The epilogue of a whole block (4 channels, 2 positions) with Helium, when cfg[EK_FAST]
 * allows (every n in 33..62: requantize = VRSHL(VMULH(v, M0), 32 - n); a fused add takes
 * the int32 form); else, and for partial blocks, the portable one. Lanes are the 4 channels
 * of one position, stored 4 bytes lout apart (VSTRB scatter). */
static inline void ek_mve_epi(const ek_epi_t *e, const int32_t *acc, int32_t o0, int32_t p, int32_t p1, int32_t r,
                              int32_t out0, int32_t ostep)
{
    if (!(e->fast & 1) || (e->skip && !(e->fast & 2)) || o0 + EK_MVE_OB > e->co || p + EK_MVE_PB > p1) {
        ek_epi_block(e, acc, EK_MVE_OB, EK_MVE_PB, o0, p, p1, r, out0, ostep);
        return;
    }
    const int32_t co = e->co;
    const int32x4_t bias = vld1q_s32(e->bias + r * co + o0);
    const int32x4_t mp = vld1q_s32(e->mn + o0), sp = vsubq_s32(vdupq_n_s32(32), vld1q_s32(e->mn + co + o0));
    int32x4_t mneg = mp, sneg = sp;
    if (e->leaky) {
        mneg = vld1q_s32(e->mn + 2 * co + o0);
        sneg = vsubq_s32(vdupq_n_s32(32), vld1q_s32(e->mn + 3 * co + o0));
    }
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)e->lout);
    for (int32_t i = 0; i < EK_MVE_PB; i++) {
        int32_t t = out0 + (p + i) * ostep;
        int32x4_t v = vaddq_s32(vsetq_lane_s32(acc[6 + i], vsetq_lane_s32(acc[4 + i],
                                vsetq_lane_s32(acc[2 + i], vdupq_n_s32(acc[i]), 1), 2), 3), bias);
        mve_pred16_t neg = vcmpltq_n_s32(v, 0);
        int32x4_t q = vrshlq_s32(vmulhq_s32(v, vpselq_s32(mneg, mp, neg)), vpselq_s32(sneg, sp, neg));
        q = vminq_s32(vmaxq_s32(vaddq_n_s32(q, e->y_zp), vdupq_n_s32(-128)), vdupq_n_s32(127));
        if (e->skip) {
            int32x4_t a = vsubq_n_s32(q, e->q_zp);
            int32x4_t b = vsubq_n_s32(vldrbq_gather_offset_s32(e->skip + o0 * e->lout + t, offs), e->s_zp);
            int32x4_t hs = vmlaq_n_s32(vmulq_n_s32(a, e->q_mh), b, e->s_mh);
            int32x4_t ls = vmlaq_n_s32(vmulq_n_s32(a, e->q_ml), b, e->s_ml);
            hs = vaddq_s32(hs, vshrq_n_s32(ls, 16));
            hs = vshlq_s32(vaddq_n_s32(hs, 1 << (e->add_n - 17)), vdupq_n_s32(16 - e->add_n));
            q = vminq_s32(vmaxq_s32(vaddq_n_s32(hs, e->add_zp), vdupq_n_s32(-128)), vdupq_n_s32(127));
        }
        vstrbq_scatter_offset_s32(e->y + o0 * e->lout + t, offs, q);
    }
}

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
EK_DEFINE_CONV(ek_mve_conv, EK_MVE_CORE, ek_mve_epi, ek_mve_fill_window, EK_MVE_OB, EK_MVE_PB)
#else
EK_DEFINE_CONV(ek_mve_conv, EK_MVE_CORE_PORTABLE, EK_MVE_EPI_PORTABLE, ek_fill_window, EK_MVE_OB, EK_MVE_PB)
#endif

#endif
