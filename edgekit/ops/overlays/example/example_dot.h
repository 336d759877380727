/* The example overlay's micro-kernel (edgekit/ops/overlays/example): the inner product of
 * one output sample over all input channels, on the input already widened to int16 with
 * its zero point subtracted and the padding written as 0 (the kernel's arena scratch), and
 * weights padded at compile time to an even number of taps, so it always takes two taps
 * per step (the shape a dual 16-bit multiply-accumulate wants).
 *
 * A target version would sit here under #if on the target's macros (e.g. __ARM_FEATURE_DSP)
 * with this plain C one as its portable twin under #else: identical results, and the host
 * build runs the twin. */
#ifndef EDGEKIT_EXAMPLE_DOT_H
#define EDGEKIT_EXAMPLE_DOT_H

#include <stdint.h>

/* sum over c < ci, k < kp of xs[c * row + k] * w[c * kp + k]; kp even. */
static inline int32_t ek_example_dot(const int16_t *xs, int32_t row, const int8_t *w, int32_t ci, int32_t kp)
{
    int32_t acc = 0;
    for (int32_t c = 0; c < ci; ++c) {
        const int16_t *xr = xs + c * row;
        const int8_t *wr = w + c * kp;
        for (int32_t k = 0; k < kp; k += 2) {
            acc += (int32_t)xr[k] * wr[k] + (int32_t)xr[k + 1] * wr[k + 1];
        }
    }
    return acc;
}

#endif /* EDGEKIT_EXAMPLE_DOT_H */
