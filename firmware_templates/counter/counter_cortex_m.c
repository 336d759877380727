/* Cortex-M counters.
 * EDGEKIT_COUNTER_DWT: DWT CYCCNT (real silicon), extended to 64 bits.
 * otherwise SysTick under QEMU -icount: DWT reads zero there, but SysTick on
 * the CPU clock advances clock_hz * 2^-9 * 2^(9-shift) ticks per instruction
 * (3.2 at 25 MHz, shift 7), so instructions = ticks * NUM / DEN exactly.
 * SysTick is 24 bits: a wrap interrupt counts wraps, and its handler's own
 * instructions (SYSTICK_HANDLER_INSNS, see the asm below) are subtracted. */
#include "edgekit_port.h"

#define REG(a) (*(volatile uint32_t *)(a))

#ifdef EDGEKIT_COUNTER_DWT
static uint32_t dwt_hi, dwt_last;

void port_counter_init(void)
{
    REG(0xE000EDFCu) |= 1u << 24;      /* DEMCR.TRCENA */
    REG(0xE0001FB0u) = 0xC5ACCE55u;    /* DWT lock access (needed on M7) */
    REG(0xE0001004u) = 0;              /* CYCCNT */
    REG(0xE0001000u) |= 1u;            /* CYCCNTENA */
}

void port_counter_restart(void) {}

uint64_t port_counter_now(void)
{
    uint32_t v = REG(0xE0001004u);
    if (v < dwt_last) dwt_hi++;        /* called far more often than every 2^32 cycles */
    dwt_last = v;
    return ((uint64_t)dwt_hi << 32) | v;
}

void SysTick_Handler(void) {}

#else /* SysTick + icount */
#ifndef EDGEKIT_SYSTICK_RELOAD
#define EDGEKIT_SYSTICK_RELOAD 0xFFFFFFu
#endif
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define SCB_ICSR 0xE000ED04u
#define ICSR_PENDSTSET (1u << 26)
#define ICSR_PENDSTCLR (1u << 25)
#define SYSTICK_HANDLER_INSNS 5u

volatile uint32_t edgekit_systick_wraps;

/* Exactly SYSTICK_HANDLER_INSNS instructions, whatever the compiler does. */
__asm__(".text\n .thumb\n .align 2\n .globl SysTick_Handler\n .type SysTick_Handler, %function\n"
        ".thumb_func\n SysTick_Handler:\n"
        " ldr r0, =edgekit_systick_wraps\n ldr r1, [r0]\n adds r1, r1, #1\n str r1, [r0]\n bx lr\n"
        " .ltorg\n .size SysTick_Handler, . - SysTick_Handler\n");

void port_counter_init(void)
{
    REG(SYST_RVR) = EDGEKIT_SYSTICK_RELOAD;
    REG(SYST_CVR) = 0;
    REG(SYST_CSR) = 7u; /* ENABLE | TICKINT | CLKSOURCE = CPU clock */
}

/* Restart SysTick so its tick and wrap phase relative to the instruction stream is
 * the same for every run: otherwise the phase depends on when the host's bytes
 * arrived, and a reading next to a wrap can be off by one instruction. */
void port_counter_restart(void)
{
    __asm volatile("cpsid i" ::: "memory");
    REG(SYST_CVR) = 0;                /* counter := 0, reload on the next tick */
    REG(SCB_ICSR) = ICSR_PENDSTCLR;
    edgekit_systick_wraps = 0;
    while (REG(SYST_CVR) == 0) {      /* wait for the reload, so counting starts at RELOAD */
    }
    __asm volatile("cpsie i" ::: "memory");
}

uint64_t port_counter_now(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    uint32_t wraps = edgekit_systick_wraps;
    uint32_t val = REG(SYST_CVR);
    if (REG(SCB_ICSR) & ICSR_PENDSTSET) { /* wrapped, handler not run yet */
        val = REG(SYST_CVR);
        wraps++;
    }
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
    uint64_t ticks = (uint64_t)wraps * (EDGEKIT_SYSTICK_RELOAD + 1ull) + (EDGEKIT_SYSTICK_RELOAD - val);
    /* in units of 1/DEN instruction */
    return ticks * EDGEKIT_COUNT_NUM - (uint64_t)wraps * SYSTICK_HANDLER_INSNS * EDGEKIT_COUNT_DEN;
}
#endif
