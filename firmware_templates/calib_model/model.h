/* Counter calibration model (same API as the stub): layer l runs a 2-instruction
 * loop (1 + l) * 1000 times, so consecutive layers differ by exactly 2000
 * instructions; tests use it to prove counts are instructions. Outputs:
 * denoised = input, logits = 0. */
#ifndef EDGEKIT_MODEL_H
#define EDGEKIT_MODEL_H
#include <stdint.h>
#define EDGEKIT_MODEL_NAME "calib"
#define EDGEKIT_MODEL_HASH "ca11b0000000000f"
#define EDGEKIT_INPUT_CHANNELS 2
#define EDGEKIT_INPUT_LENGTH 512
#define EDGEKIT_INPUT_BYTES 1024
#define EDGEKIT_DENOISED_BYTES 1024
#define EDGEKIT_LOGITS_BYTES 2
#define EDGEKIT_ARENA_BYTES 8
#define EDGEKIT_NUM_LAYERS 14
#define EDGEKIT_TOTAL_MACS 0
extern const char *const edgekit_layer_names[EDGEKIT_NUM_LAYERS];
extern const uint32_t edgekit_layer_macs[EDGEKIT_NUM_LAYERS];
extern void (*edgekit_layer_hook)(int layer_index);
int32_t edgekit_model_run(const int8_t *input, int8_t *denoised, int8_t *logits, uint8_t *arena);
#endif
