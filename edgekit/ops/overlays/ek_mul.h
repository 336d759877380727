/* ek_mul.h: y = clamp(y_zp + (((a - a_zp) * (b[c] - b_zp) * M0 + 2^(n-1)) >> n)) for a (C, L)
 * times a per-channel b (C, 1) (the ECA gate), exactly as edgekit/quant/arithmetic.py, for
 * 33 <= n <= 62 (the overlay claims only those): the product P = (a - a_zp)(b - b_zp) is an
 * int32 (|P| <= 255^2), and (P * M0 + 2^(n-1)) >> n = (hi + 2^(n-33)) >> (n-32), hi the high
 * word of P * M0 (its low word cannot carry into the result). y may be a (in place).
 * With Helium (and without EDGEKIT_PORTABLE_KERNELS) 4 elements per iteration, tail
 * predicated; ek_mul_bcast_portable is the plain C twin, always compiled. */
#ifndef EK_MUL_H
#define EK_MUL_H
#include <stdint.h>

static inline int32_t ek_mul_bcast_portable(const int8_t *a, const int8_t *b, int8_t *y, int32_t c, int32_t l,
                                            int32_t a_zp, int32_t b_zp, int32_t y_zp, int32_t m, int32_t n)
{
    const int32_t r = n - 32, h = 1 << (r - 1);
    for (int32_t ch = 0; ch < c; ch++) {
        const int32_t g = b[ch] - b_zp;
        for (int32_t t = 0; t < l; t++) {
            int32_t p = (a[ch * l + t] - a_zp) * g;
            int32_t q = (((int32_t)(((int64_t)p * m) >> 32) + h) >> r) + y_zp;
            y[ch * l + t] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
        }
    }
    return 0;
}

#if defined(__ARM_FEATURE_MVE) && !defined(EDGEKIT_PORTABLE_KERNELS)
#include <arm_mve.h>
static inline int32_t ek_mul_bcast(const int8_t *a, const int8_t *b, int8_t *y, int32_t c, int32_t l,
                                   int32_t a_zp, int32_t b_zp, int32_t y_zp, int32_t m, int32_t n)
{
    const int32x4_t vm = vdupq_n_s32(m), vr = vdupq_n_s32(32 - n);
    const int32x4_t lo = vdupq_n_s32(-128), hi = vdupq_n_s32(127);
    for (int32_t ch = 0; ch < c; ch++) {
        const int32_t g = b[ch] - b_zp;
        const int8_t *pa = a + ch * l;
        int8_t *py = y + ch * l;
        for (int32_t t = l; t > 0; t -= 4) {
            mve_pred16_t p = vctp32q((uint32_t)t);
            int32x4_t v = vmulq_n_s32(vsubq_n_s32(vldrbq_z_s32(pa, p), a_zp), g);
            v = vaddq_n_s32(vrshlq_s32(vmulhq_s32(v, vm), vr), y_zp);
            vstrbq_p_s32(py, vminq_s32(vmaxq_s32(v, lo), hi), p);
            pa += 4;
            py += 4;
        }
    }
    return 0;
}
#else
#define ek_mul_bcast ek_mul_bcast_portable
#endif

#endif
