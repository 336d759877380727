/* Whole conv layers built from the ek_cortex_m_dsp.h micro-kernels, with the same loop nest the
 * cortex_m_dsp overlays emit in TIR (widen once; then per output phase, per channel pair, one
 * ek_cortex_m_dsp_conv_rows call; an odd last channel alone). Compiled for the host (the portable twin) by
 * tests/test_dsp_kernels.py, and for Cortex-M by tests/c/edk_dsp_qemu.c (both paths). */
#include <stdint.h>
#include "ek_cortex_m_dsp.h"

#ifndef EDK_LAYER_PREFIX
#define EDK_LAYER_PREFIX edk_layer_
#endif
#define EDK_CAT2(a, b) a##b
#define EDK_CAT(a, b) EDK_CAT2(a, b)

/* phases: nph records {off, t0, nt, out_step}; w: [phase][co][ci][G] words; rq: [co][5] */
void EDK_CAT(EDK_LAYER_PREFIX, run)(const int8_t *x, int32_t ci, int32_t len, int32_t x_zp, int32_t lpad,
                                    int32_t row, int16_t *xs, int32_t co, int32_t lo, int32_t in_step, int32_t G,
                                    int32_t nph, const int32_t *phases, const uint32_t *w, const int32_t *rq,
                                    int32_t y_zp, const int8_t *skip, const int32_t *post, int8_t *y) {
    ek_cortex_m_dsp_widen(x, ci, len, x_zp, lpad, row, xs);
    for (int32_t p = 0; p < nph; p++) {
        const int32_t *ph = phases + 4 * p;
        for (int32_t o = 0; o < co; o += 2) {
            int32_t nch = co - o >= 2 ? 2 : 1;
            int32_t yo = o * lo + ph[1];
            ek_cortex_m_dsp_conv_rows(xs + ph[0], row, ci, in_step, w + ((int64_t)p * co + o) * ci * G, G,
                                      nch, rq + o * EK_CORTEX_M_DSP_RQ_WORDS, y_zp, ph[2], y + yo, lo, ph[3],
                                      skip ? skip + yo : 0, post);
        }
    }
}

/* the requantize of one accumulator (acc + bias, LeakyReLU by the sign) and the fused add */
int32_t EDK_CAT(EDK_LAYER_PREFIX, requant)(int32_t acc, const int32_t *rq, int32_t y_zp, const int32_t *post,
                                           int32_t skip) {
    ek_cortex_m_dsp_rq r = ek_cortex_m_dsp_load_rq(rq);
    int fast = r.n_pos >= 33 && r.n_neg >= 33;
    int32_t q = ek_cortex_m_dsp_out(acc, r, y_zp, fast);
    if (!post) return q;
    ek_cortex_m_dsp_add a = {post[0], post[1], post[2], post[3], post[4], post[5], post[4] < 32};
    return ek_cortex_m_dsp_add_out(q, skip, a, post);
}
