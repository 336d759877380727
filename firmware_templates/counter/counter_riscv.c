/* RISC-V counters: minstret (exact instruction count under QEMU -icount) or
 * mcycle (real cycles on silicon), read as 64 bits with the hi/lo/hi idiom. */
#include "edgekit_port.h"

#ifdef EDGEKIT_COUNTER_MCYCLE
#define CSR_LO "mcycle"
#define CSR_HI "mcycleh"
#else
#define CSR_LO "minstret"
#define CSR_HI "minstreth"
#endif

void port_counter_init(void) {}
void port_counter_restart(void) {}

uint64_t port_counter_now(void)
{
    uint32_t hi, lo, hi2;
    do {
        __asm volatile("csrr %0, " CSR_HI : "=r"(hi));
        __asm volatile("csrr %0, " CSR_LO : "=r"(lo));
        __asm volatile("csrr %0, " CSR_HI : "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}
