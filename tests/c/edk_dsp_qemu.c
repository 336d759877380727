/* Bare-metal test firmware for QEMU's mps2-an500 (Cortex-M7) / mps2-an386 (Cortex-M4): runs the
 * layers of edk_dsp_cases.h (written by tests/test_dsp_qemu.py) through the DSP build of the
 * micro-kernels (edk_layer_run) and the portable twin (edk_twin_run, the same source built with
 * -DEDGEKIT_PORTABLE_KERNELS), compares both with the integer reference's outputs, and prints per layer
 * "case I mismatches_dsp mismatches_twin instructions_dsp" through semihosting. Instructions are
 * SysTick ticks under -icount shift=7 (3.2 ticks per instruction at 25 MHz). */
#include <stdint.h>
#include <string.h>

void edk_layer_run(const int8_t *x, int32_t ci, int32_t len, int32_t x_zp, int32_t lpad, int32_t row, int16_t *xs,
                   int32_t co, int32_t lo, int32_t in_step, int32_t G, int32_t nph, const int32_t *phases,
                   const uint32_t *w, const int32_t *rq, int32_t y_zp, const int8_t *skip, const int32_t *post,
                   int8_t *y);
void edk_twin_run(const int8_t *x, int32_t ci, int32_t len, int32_t x_zp, int32_t lpad, int32_t row, int16_t *xs,
                  int32_t co, int32_t lo, int32_t in_step, int32_t G, int32_t nph, const int32_t *phases,
                  const uint32_t *w, const int32_t *rq, int32_t y_zp, const int8_t *skip, const int32_t *post,
                  int8_t *y);

typedef struct {
    const int8_t *x, *skip, *want;
    const uint32_t *w;
    const int32_t *rq, *post, *phases;
    int32_t ci, len, x_zp, lpad, row, co, lo, in_step, G, nph, y_zp;
} edk_case;

#include "edk_dsp_cases.h"

static int16_t xs[EDK_MAX_SCRATCH];
static int8_t y[EDK_MAX_OUT];

#define REG(a) (*(volatile uint32_t *)(a))

static void semi(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

static char line[160];
static int put_int(char *p, long v) {
    char tmp[24];
    int n = 0, k = 0;
    unsigned long u = v < 0 ? (unsigned long)(-v) : (unsigned long)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) p[k++] = '-';
    while (n) p[k++] = tmp[--n];
    p[k++] = ' ';
    return k;
}

static int32_t run(const edk_case *c, int twin, uint32_t *ticks) {
    if (c->skip) memcpy(y, c->skip, (size_t)(c->co * c->lo));  /* in place over the skip operand */
    uint32_t t0 = REG(0xE000E018u);
    (twin ? edk_twin_run : edk_layer_run)(c->x, c->ci, c->len, c->x_zp, c->lpad, c->row, xs, c->co, c->lo,
                                          c->in_step, c->G, c->nph, c->phases, c->w, c->rq, c->y_zp,
                                          c->skip ? y : 0, c->post, y);
    uint32_t t1 = REG(0xE000E018u);
    *ticks = (t0 - t1) & 0xFFFFFFu;
    if (REG(0xE000E010u) & (1u << 16)) *ticks = 0xFFFFFFFFu;   /* COUNTFLAG: wrapped, not exact */
    int32_t bad = 0;
    for (int32_t i = 0; i < c->co * c->lo; i++) bad += y[i] != c->want[i];
    return bad;
}

int main(void) {
    int32_t failed = 0;
    for (int i = 0; i < (int)(sizeof(edk_cases) / sizeof(edk_cases[0])); i++) {
        uint32_t ticks, tt;
        REG(0xE000E014u) = 0xFFFFFFu; REG(0xE000E018u) = 0; REG(0xE000E010u) = 5u;  /* CPU clock, no IRQ */
        (void)REG(0xE000E010u);
        int32_t bd = run(&edk_cases[i], 0, &ticks);
        int32_t bt = run(&edk_cases[i], 1, &tt);
        failed += bd + bt;
        int k = 0;
        memcpy(line, "case ", 5); k = 5;
        k += put_int(line + k, i);
        k += put_int(line + k, bd);
        k += put_int(line + k, bt);
        k += put_int(line + k, ticks == 0xFFFFFFFFu ? -1 : (long)ticks);
        line[k - 1] = '\n'; line[k] = 0;
        semi(0x04, line);
    }
    uint32_t code[2] = {0x20026u, (uint32_t)(failed != 0)};   /* ADP_Stopped_ApplicationExit, status */
    semi(0x20, code);   /* SYS_EXIT_EXTENDED */
    for (;;) {}
}

/* ---- startup ---- */
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
void Reset_Handler(void) {
    uint32_t *s = &_sidata, *d = &_sdata;
    while (d < &_edata) *d++ = *s++;
    for (d = &_sbss; d < &_ebss; d++) *d = 0;
    REG(0xE000ED88u) |= 0xFu << 20;   /* CPACR: FPU on (hard-float ABI) */
    __asm__ volatile("dsb\n isb");
    main();
}
static void Fault_Handler(void) {
    static const uint32_t code[2] = {0x20026u, 3};
    semi(0x04, "fault\n");
    semi(0x20, code);
    for (;;) {}
}
__attribute__((section(".vectors"), used)) const void *const edk_vectors[16] = {
    &_estack, (const void *)Reset_Handler, (const void *)Fault_Handler, (const void *)Fault_Handler,
    (const void *)Fault_Handler, (const void *)Fault_Handler, (const void *)Fault_Handler,
};
