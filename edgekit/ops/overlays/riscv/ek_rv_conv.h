/* ek_rv_conv.h: conv1d / conv_transpose1d for RV32IM (no SIMD), on the layout of
 * ek_conv_core.h with G = 1 and Tp = the real taps per phase (no padding): 2 output
 * channels x 4 positions per block, the taps fully unrolled, so each loaded weight feeds 4
 * MACs and each loaded input byte up to 8 (the windows of the 4 positions overlap). Plain C:
 * the same code is its own portable twin; ek_rv_conv_portable (the unblocked reference
 * loop on the same layout) is what the tests compare it with. The blocks are compiled on
 * their own (noinline) and without the first scheduling pass: gcc 12 otherwise hoists the
 * unrolled loads above the multiplies and spills (311-388 instead of 294 instructions per
 * input channel of the 15-tap block: 51 loads, 120 mul, 120 add, 3 loop). */
#ifndef EK_RV_CONV_H
#define EK_RV_CONV_H
#include <stdint.h>

#define EK_RV_OB 2
#define EK_RV_PB 4

#define EK_RV_CORE_PORTABLE(x, rowb, xstep, w, ncg, np, acc, lanes) \
    ek_core_portable(x, rowb, xstep, w, ncg, np, acc, EK_RV_OB, EK_RV_PB, lanes)

#define EK_RV_EPI(e, acc, o0, p, p1, r, out0, ostep) ek_epi_block(e, acc, EK_RV_OB, EK_RV_PB, o0, p, p1, r, out0, ostep)

EK_DEFINE_CONV(ek_rv_conv_portable, EK_RV_CORE_PORTABLE, EK_RV_EPI, ek_fill_window, EK_RV_OB, EK_RV_PB)

/* 2 channels x 4 positions, T taps, positions S columns apart (T, S constants). */
static inline __attribute__((always_inline)) void ek_rv_block(const int8_t *x, int32_t rowb, const int8_t *w,
                                                             int32_t nc, int32_t *acc, const int32_t T,
                                                             const int32_t S)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int32_t c = 0; c < nc; c++) {
#pragma GCC unroll 16
        for (int32_t j = 0; j < T; j++) {
            int32_t w0 = w[j], w1 = w[T + j];
            int32_t x0 = x[j], x1 = x[S + j], x2 = x[2 * S + j], x3 = x[3 * S + j];
            a0 += x0 * w0;
            a1 += x1 * w0;
            a2 += x2 * w0;
            a3 += x3 * w0;
            b0 += x0 * w1;
            b1 += x1 * w1;
            b2 += x2 * w1;
            b3 += x3 * w1;
        }
        x += rowb;
        w += 2 * T;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = b0;
    acc[5] = b1;
    acc[6] = b2;
    acc[7] = b3;
}

#define EK_RV_BLOCK_ATTR __attribute__((noinline, optimize("no-schedule-insns")))

static EK_RV_BLOCK_ATTR void ek_rv_block_t15_s2(const int8_t *x, int32_t rowb, const int8_t *w, int32_t nc, int32_t *acc)
{
    ek_rv_block(x, rowb, w, nc, acc, 15, 2);
}

static EK_RV_BLOCK_ATTR void ek_rv_block_t8_s1(const int8_t *x, int32_t rowb, const int8_t *w, int32_t nc, int32_t *acc)
{
    ek_rv_block(x, rowb, w, nc, acc, 8, 1);
}

/* Any other shape: the same 2 x 4 block with a tap loop (about 3 instructions per MAC
 * instead of 2.45). */
static EK_RV_BLOCK_ATTR void ek_rv_block_any(const int8_t *x, int32_t rowb, const int8_t *w, int32_t nc,
                                             int32_t *acc, int32_t t, int32_t s)
{
    ek_rv_block(x, rowb, w, nc, acc, t, s);
}

static inline void ek_rv_core(const int8_t *x, int32_t rowb, int32_t xstep, const int8_t *w, int32_t ncg,
                              int32_t np, int32_t *acc, int32_t lanes)
{
    (void)np;   /* always whole blocks */
    if (lanes == 15 && xstep == 2)
        ek_rv_block_t15_s2(x, rowb, w, ncg, acc);
    else if (lanes == 8 && xstep == 1)
        ek_rv_block_t8_s1(x, rowb, w, ncg, acc);
    else
        ek_rv_block_any(x, rowb, w, ncg, acc, lanes, xstep);
}

EK_DEFINE_CONV(ek_rv_conv, ek_rv_core, EK_RV_EPI, ek_fill_window, EK_RV_OB, EK_RV_PB)

#endif
