/* Counter calibration model: see model.h. */
#include "model.h"

#define ITERS_PER_STEP 1000u

const char *const edgekit_layer_names[EDGEKIT_NUM_LAYERS] = {
    "spin1k", "spin2k", "spin3k", "spin4k", "spin5k", "spin6k", "spin7k",
    "spin8k", "spin9k", "spin10k", "spin11k", "spin12k", "spin13k", "spin14k",
};
const uint32_t edgekit_layer_macs[EDGEKIT_NUM_LAYERS] = {0};
void (*edgekit_layer_hook)(int layer_index);

/* n iterations of exactly 2 instructions (decrement, branch). */
static void spin(uint32_t n)
{
#if defined(__arm__)
    __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n)::"cc");
#elif defined(__riscv)
    __asm volatile("1: addi %0, %0, -1\n bnez %0, 1b" : "+r"(n));
#else
    while (n) {
        __asm volatile("" : "+r"(n));
        n--;
    }
#endif
}

int32_t edgekit_model_run(const int8_t *input, int8_t *denoised, int8_t *logits, uint8_t *arena)
{
    (void)arena;
    for (int l = 0; l < EDGEKIT_NUM_LAYERS; l++) {
        spin(ITERS_PER_STEP * (uint32_t)(l + 1));
        if (edgekit_layer_hook) edgekit_layer_hook(l);
    }
    for (int i = 0; i < EDGEKIT_DENOISED_BYTES; i++) denoised[i] = input[i];
    for (int i = 0; i < EDGEKIT_LOGITS_BYTES; i++) logits[i] = 0;
    return 0;
}
