/* libFuzzer target: the firmware's frame parser and request handling.
 *
 * firmware_templates/common/main.c is compiled unchanged for the host with
 * -Dmain=edgekit_firmware_main, around the stub model; this file is its port layer. One
 * fuzz input is everything the UART receives: the receive loop runs until the input ends
 * (port_uart_getc returns -1, as the host board does at end of stdin). Built with
 * -fsanitize=fuzzer,address,undefined by scripts/fuzz.py.
 *
 * Besides the sanitizers, every input's output is checked (a failed check traps):
 *  - the output is a sequence of whole frames: A5 5A, a reply type (ERROR, HELLO_R, INFER_R),
 *    the payload length that type must have, and a correct CRC-32 (computed here bit by bit,
 *    independently of main.c's nibble table);
 *  - no more replies than syncs (A5 5A) in the input: every reply answers a frame start.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edgekit_port.h"
#include "model.h"

int edgekit_firmware_main(void);

static const uint8_t *g_in;
static size_t g_in_len, g_in_pos;
static uint8_t g_out[1u << 22];
static size_t g_out_len;

void port_board_init(void) {}
void port_uart_init(void) {}
void port_uart_flush(void) {}
void port_counter_init(void) {}
void port_counter_restart(void) {}

void port_uart_putc(uint8_t c)
{
    if (g_out_len >= sizeof g_out) __builtin_trap(); /* more output than any input can ask for */
    g_out[g_out_len++] = c;
}

int port_uart_getc(void)
{
    return g_in_pos < g_in_len ? g_in[g_in_pos++] : -1;
}

uint64_t port_counter_now(void)
{
    static uint64_t t;
    return t += 3;
}

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define CHECK(cond) \
    do {                          \
        if (!(cond)) __builtin_trap(); \
    } while (0)

static void check_output(const uint8_t *in, size_t in_len)
{
    size_t syncs = 0;
    for (size_t i = 0; i + 1 < in_len; i++) syncs += in[i] == 0xA5 && in[i + 1] == 0x5A;
    const uint32_t infer_len = 4u + 4u + 4u * EDGEKIT_NUM_LAYERS + EDGEKIT_DENOISED_BYTES + EDGEKIT_LOGITS_BYTES;
    size_t pos = 0, replies = 0;
    while (pos < g_out_len) {
        CHECK(g_out_len - pos >= 12);
        CHECK(g_out[pos] == 0xA5 && g_out[pos + 1] == 0x5A);
        uint8_t type = g_out[pos + 2];
        uint32_t len = le32(&g_out[pos + 4]);
        CHECK(g_out_len - pos - 12 >= len);
        if (type == 0x7F) CHECK(len == 6);
        else if (type == 0x82) CHECK(len == infer_len);
        else CHECK(type == 0x81 && len >= 54 && len < 65536);
        CHECK(le32(&g_out[pos + 8 + len]) == crc32_bitwise(&g_out[pos + 2], 6 + len));
        pos += 12 + len;
        replies++;
    }
    CHECK(replies <= syncs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_in = data;
    g_in_len = size;
    g_in_pos = 0;
    g_out_len = 0;
    CHECK(edgekit_firmware_main() == 0);
    CHECK(g_in_pos == size); /* the whole input was read: nothing blocks the loop */
    check_output(data, size);
    return 0;
}
