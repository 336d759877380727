/* Stub model with the exact C API the edgekit compiler generates.
 * Behaviour (twin: edgekit/firmware/stub_model.py), channel-major int8:
 *   layers 0..11  acc[l][c] = sum_t x[c][t] * W[(t + l) & 7]   (int32, in the arena)
 *   layer 12      denoised[i] = x[i] ^ 0x5A
 *   layer 13      logits[c] = (int8)((sum_l acc[l][c]) >> 8)    (wraps)
 * No data-dependent branches, so every window costs the same instructions. */
#ifndef EDGEKIT_MODEL_H
#define EDGEKIT_MODEL_H
#include <stdint.h>
#define EDGEKIT_MODEL_NAME "stub"
#define EDGEKIT_MODEL_HASH "57ab0000deadbeef"
#define EDGEKIT_INPUT_CHANNELS 2
#define EDGEKIT_INPUT_LENGTH 512
#define EDGEKIT_INPUT_BYTES 1024
#define EDGEKIT_DENOISED_BYTES 1024
#define EDGEKIT_LOGITS_BYTES 2
#define EDGEKIT_ARENA_BYTES 96
#define EDGEKIT_NUM_LAYERS 14
#define EDGEKIT_TOTAL_MACS 12288
extern const char *const edgekit_layer_names[EDGEKIT_NUM_LAYERS];
extern const uint32_t edgekit_layer_macs[EDGEKIT_NUM_LAYERS];
extern void (*edgekit_layer_hook)(int layer_index);
int32_t edgekit_model_run(const int8_t *input, int8_t *denoised, int8_t *logits, uint8_t *arena);
#endif
