/* edgekit device firmware: a framed binary protocol around edgekit_model_run().
 *
 * Frame (both directions), little-endian (protocol version 2):
 *   0xA5 0x5A | type u8 | seq u8 | len u32 | payload[len] | crc32 u32
 * crc32 = CRC-32/ISO-HDLC (zlib.crc32) over type, seq, len and payload.
 * Replies echo the request's seq. Any frame the device cannot accept gets an
 * ERROR frame; the parser then hunts for the next sync, so it never hangs on
 * bad input (a truncated frame is completed by the next bytes and fails its
 * CRC; the host can always flush it with max_request + 10 zero bytes).
 * The Python twin of this spec is edgekit/harness/protocol.py; the sizes are in
 * edgekit/firmware/protocol_limits.py.
 */
#include <stdint.h>
#include <string.h>
#include "model.h"
#include "edgekit_port.h"

#define SYNC0 0xA5u
#define SYNC1 0x5Au
#define PROTOCOL_VERSION 2u

enum { T_HELLO = 0x01, T_INFER = 0x02, T_HELLO_R = 0x81, T_INFER_R = 0x82, T_ERROR = 0x7F };
enum { E_BAD_CRC = 1, E_BAD_LENGTH = 2, E_UNKNOWN_TYPE = 3, E_MODEL = 4, E_FAULT = 5 };

/* A compiled model of any inputs and outputs (model.h's EDGEKIT_WIRE_* macros): the request
 * carries all inputs back to back, the reply output 0 (the "denoised" slot) and then the
 * other outputs back to back (the "logits" slot). A hand-written model.h without them
 * (test stubs) has one input, "denoised" and "logits". */
#ifdef EDGEKIT_WIRE_INPUT_BYTES
#define IN_BYTES EDGEKIT_WIRE_INPUT_BYTES
#define IN_CHANNELS EDGEKIT_WIRE_INPUT_CHANNELS
#define IN_LENGTH EDGEKIT_WIRE_INPUT_LENGTH
#define OUT0_BYTES EDGEKIT_WIRE_OUTPUT0_BYTES
#define OUT1_BYTES EDGEKIT_WIRE_OTHER_OUTPUTS_BYTES
#else
#define IN_BYTES EDGEKIT_INPUT_BYTES
#define IN_CHANNELS EDGEKIT_INPUT_CHANNELS
#define IN_LENGTH EDGEKIT_INPUT_LENGTH
#define OUT0_BYTES EDGEKIT_DENOISED_BYTES
#define OUT1_BYTES EDGEKIT_LOGITS_BYTES
#endif

/* The largest request is an infer window; nothing longer is ever buffered:
 * a header announcing more is rejected before a payload byte is stored. */
#define MAX_REQUEST IN_BYTES

static int8_t g_input[IN_BYTES] __attribute__((aligned(8)));
_Static_assert(MAX_REQUEST <= sizeof g_input, "a request must fit the input buffer");
static int8_t g_denoised[OUT0_BYTES] __attribute__((aligned(8)));
static int8_t g_logits[OUT1_BYTES > 0 ? OUT1_BYTES : 1] __attribute__((aligned(8)));
static uint8_t g_arena[EDGEKIT_ARENA_BYTES] __attribute__((aligned(8)));
static uint64_t g_layer_end[EDGEKIT_NUM_LAYERS]; /* raw counter when layer i ended */

/* ---- CRC-32 (reflected 0xEDB88320), nibble table: small and fast enough. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};
static uint32_t crc_update(uint32_t crc, uint8_t b)
{
    crc ^= b;
    crc = (crc >> 4) ^ crc_nibble[crc & 15u];
    crc = (crc >> 4) ^ crc_nibble[crc & 15u];
    return crc;
}

/* ---- frame output */
static uint32_t tx_crc;
static void tx_byte(uint8_t b)
{
    tx_crc = crc_update(tx_crc, b);
    port_uart_putc(b);
}
static void tx_u16(uint16_t v) { tx_byte((uint8_t)v); tx_byte((uint8_t)(v >> 8)); }
static void tx_u32(uint32_t v) { tx_u16((uint16_t)v); tx_u16((uint16_t)(v >> 16)); }
static void tx_bytes(const void *p, uint32_t n)
{
    const uint8_t *b = p;
    while (n--) tx_byte(*b++);
}
static void tx_str(const char *s) /* u8 length + bytes, cut at 255 */
{
    uint32_t n = (uint32_t)strlen(s);
    if (n > 255u) n = 255u;
    tx_byte((uint8_t)n);
    tx_bytes(s, n);
}
static void tx_begin(uint8_t type, uint8_t seq, uint32_t len)
{
    port_uart_putc(SYNC0);
    port_uart_putc(SYNC1);
    tx_crc = 0xFFFFFFFFu;
    tx_byte(type);
    tx_byte(seq);
    tx_u32(len);
}
static void tx_end(void)
{
    uint32_t crc = ~tx_crc;
    for (int i = 0; i < 4; i++) port_uart_putc((uint8_t)(crc >> (8 * i)));
    port_uart_flush();
}

static void send_error(uint8_t code, uint8_t req_type, uint8_t seq, int32_t detail)
{
    tx_begin(T_ERROR, seq, 6);
    tx_byte(code);
    tx_byte(req_type);
    tx_u32((uint32_t)detail);
    tx_end();
}

void edgekit_fault(uint32_t cause)
{
    send_error(E_FAULT, 0, 0, (int32_t)cause);
    for (;;) {
    }
}

/* ---- requests */
static uint32_t hello_length(void)
{
    uint32_t n = 2 + 4 + 9 * 4 + 16;
    uint32_t m = (uint32_t)strlen(EDGEKIT_MODEL_NAME), b = (uint32_t)strlen(EDGEKIT_BOARD_NAME);
    n += 1 + (m > 255u ? 255u : m) + 1 + (b > 255u ? 255u : b);
    for (int i = 0; i < EDGEKIT_NUM_LAYERS; i++) {
        uint32_t s = (uint32_t)strlen(edgekit_layer_names[i]);
        n += 1 + (s > 255u ? 255u : s) + 4;
    }
#ifdef EDGEKIT_WIRE_INPUT_BYTES
    n += 2;
    for (int i = 0; i < EDGEKIT_NUM_INPUTS + EDGEKIT_NUM_OUTPUTS; i++) {
        const edgekit_io_t *io = i < EDGEKIT_NUM_INPUTS ? &edgekit_inputs[i] : &edgekit_outputs[i - EDGEKIT_NUM_INPUTS];
        uint32_t s = (uint32_t)strlen(io->name);
        n += 1 + (s > 255u ? 255u : s) + 1 + 1 + 4 * io->dims + 4 + 4;
    }
#endif
    return n;
}

#ifdef EDGEKIT_WIRE_INPUT_BYTES
/* The I/O table after the layers: u8 inputs, u8 outputs, then per tensor (inputs first):
 * name (u8 length + bytes), dtype u8 (0 = int8), dims u8, dims x u32 shape, scale f32,
 * zero point i32. */
static void tx_io_table(void)
{
    tx_byte((uint8_t)EDGEKIT_NUM_INPUTS);
    tx_byte((uint8_t)EDGEKIT_NUM_OUTPUTS);
    for (int i = 0; i < EDGEKIT_NUM_INPUTS + EDGEKIT_NUM_OUTPUTS; i++) {
        const edgekit_io_t *io = i < EDGEKIT_NUM_INPUTS ? &edgekit_inputs[i] : &edgekit_outputs[i - EDGEKIT_NUM_INPUTS];
        uint32_t bits;
        tx_str(io->name);
        tx_byte(0u);
        tx_byte((uint8_t)io->dims);
        for (uint32_t d = 0; d < io->dims; d++) tx_u32(io->shape[d]);
        memcpy(&bits, &io->scale, sizeof bits);
        tx_u32(bits);
        tx_u32((uint32_t)io->zero_point);
    }
}
#endif

static void do_hello(uint8_t seq)
{
    const char hash[17] = EDGEKIT_MODEL_HASH; /* exactly 16 chars + NUL */
    tx_begin(T_HELLO_R, seq, hello_length());
    tx_byte(PROTOCOL_VERSION);
    tx_byte(EDGEKIT_COUNTER_KIND);
    tx_u32(EDGEKIT_CLOCK_HZ);
    tx_u32(IN_CHANNELS);
    tx_u32(IN_LENGTH);
    tx_u32(IN_BYTES);
    tx_u32(OUT0_BYTES);
    tx_u32(OUT1_BYTES);
    tx_u32(EDGEKIT_ARENA_BYTES);
    tx_u32(EDGEKIT_TOTAL_MACS);
    tx_u32(EDGEKIT_NUM_LAYERS);
    tx_u32(MAX_REQUEST);
    tx_bytes(hash, 16);
    tx_str(EDGEKIT_MODEL_NAME);
    tx_str(EDGEKIT_BOARD_NAME);
    for (int i = 0; i < EDGEKIT_NUM_LAYERS; i++) {
        tx_str(edgekit_layer_names[i]);
        tx_u32(edgekit_layer_macs[i]);
    }
#ifdef EDGEKIT_WIRE_INPUT_BYTES
    tx_io_table();
#endif
    tx_end();
}

/* Raw counter units -> rounded count (instructions, cycles or ns). */
static uint32_t to_count(uint64_t raw)
{
    return (uint32_t)((raw + EDGEKIT_COUNT_DEN / 2) / EDGEKIT_COUNT_DEN);
}

/* Per-layer hook: only record the raw counter; conversion happens after the
 * run so no division lands inside a measured layer. */
static void layer_hook(int index)
{
    uint64_t now = port_counter_now();
    if (index >= 0 && index < EDGEKIT_NUM_LAYERS) g_layer_end[index] = now;
}

static void do_infer(uint8_t seq)
{
    memset(g_layer_end, 0, sizeof g_layer_end); /* before t0: not part of layer 0 */
#ifdef EDGEKIT_WIRE_INPUT_BYTES
    const int8_t *ins[EDGEKIT_NUM_INPUTS];
    int8_t *outs[EDGEKIT_NUM_OUTPUTS];
    uint32_t off = 0;
    for (int i = 0; i < EDGEKIT_NUM_INPUTS; i++) {
        ins[i] = g_input + off;
        off += edgekit_inputs[i].bytes;
    }
    outs[0] = g_denoised;
    off = 0;
    for (int i = 1; i < EDGEKIT_NUM_OUTPUTS; i++) {
        outs[i] = g_logits + off;
        off += edgekit_outputs[i].bytes;
    }
#endif
    port_counter_restart();
    uint64_t t0 = port_counter_now();
#ifdef EDGEKIT_WIRE_INPUT_BYTES
    int32_t rc = edgekit_model_run_io(ins, outs, g_arena);
#else
    int32_t rc = edgekit_model_run(g_input, g_denoised, g_logits, g_arena);
#endif
    uint64_t t1 = port_counter_now();
    if (rc != 0) {
        send_error(E_MODEL, T_INFER, seq, rc);
        return;
    }
    tx_begin(T_INFER_R, seq,
             (uint32_t)(4 + 4 + 4 * EDGEKIT_NUM_LAYERS + OUT0_BYTES + OUT1_BYTES));
    tx_u32(to_count(t1 - t0));
    tx_u32(EDGEKIT_NUM_LAYERS);
    /* Layer i = end(i) - end(i-1), both rounded from t0, so rounding never accumulates.
     * A hook that was never called (end still 0) or came out of order gives 0. */
    uint32_t prev = 0;
    for (int i = 0; i < EDGEKIT_NUM_LAYERS; i++) {
        uint32_t end = g_layer_end[i] >= t0 ? to_count(g_layer_end[i] - t0) : prev;
        tx_u32(end >= prev ? end - prev : 0);
        if (end > prev) prev = end;
    }
    tx_bytes(g_denoised, OUT0_BYTES);
    tx_bytes(g_logits, OUT1_BYTES);
    tx_end();
}

/* ---- receive loop */
#define RX(var)                             \
    do {                                    \
        int c_ = port_uart_getc();          \
        if (c_ < 0) return 0; /* host EOF */ \
        (var) = (uint8_t)c_;                \
    } while (0)

int main(void)
{
    port_board_init();
    port_uart_init();
    port_counter_init();
    edgekit_layer_hook = layer_hook;

    for (;;) {
        uint8_t b, type, seq;
        RX(b);
        if (b != SYNC0) continue;
        do RX(b); while (b == SYNC0); /* A5 A5 5A is still a sync */
        if (b != SYNC1) continue;

        uint32_t crc = 0xFFFFFFFFu;
        RX(type); crc = crc_update(crc, type);
        RX(seq);  crc = crc_update(crc, seq);
        uint32_t len = 0;
        for (int i = 0; i < 4; i++) {
            RX(b);
            crc = crc_update(crc, b);
            len |= (uint32_t)b << (8 * i);
        }
        if (len > MAX_REQUEST) { /* reject at once, resume hunting */
            send_error(E_BAD_LENGTH, type, seq, (int32_t)len);
            continue;
        }
        uint8_t *dst = (uint8_t *)g_input;
        for (uint32_t i = 0; i < len; i++) {
            RX(dst[i]);
            crc = crc_update(crc, dst[i]);
        }
        uint32_t got = 0;
        for (int i = 0; i < 4; i++) {
            RX(b);
            got |= (uint32_t)b << (8 * i);
        }
        if (got != ~crc) {
            send_error(E_BAD_CRC, type, seq, (int32_t)len);
            continue;
        }
        if (type == T_HELLO) {
            if (len != 0) send_error(E_BAD_LENGTH, type, seq, (int32_t)len);
            else do_hello(seq);
        } else if (type == T_INFER) {
            if (len != IN_BYTES) send_error(E_BAD_LENGTH, type, seq, (int32_t)len);
            else do_infer(seq);
        } else {
            send_error(E_UNKNOWN_TYPE, type, seq, (int32_t)len);
        }
    }
}
