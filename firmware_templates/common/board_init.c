/* Applies the board's init ops (register read-modify-writes and waits) from
 * the board definition: clocks (PLL, flash wait states), clock enables, pin
 * muxing; then, with `caches = true` (Cortex-M7), turns on the I- and D-cache
 * the way CMSIS's SCB_EnableICache/SCB_EnableDCache do. Empty on QEMU boards. */
#include "edgekit_port.h"

#ifdef EDGEKIT_INIT_OPS
typedef struct { uint32_t addr, clear, set, wait_mask; } init_op_t;
static const init_op_t init_ops[] = { EDGEKIT_INIT_OPS };
#endif

#ifdef EDGEKIT_ENABLE_CACHES
#define SCB_CCR     (*(volatile uint32_t *)0xE000ED14u)
#define SCB_CCSIDR  (*(volatile uint32_t *)0xE000ED80u)
#define SCB_CSSELR  (*(volatile uint32_t *)0xE000ED84u)
#define SCB_ICIALLU (*(volatile uint32_t *)0xE000EF50u)
#define SCB_DCISW   (*(volatile uint32_t *)0xE000EF60u)
#define CCR_DC (1u << 16)
#define CCR_IC (1u << 17)

static void barriers(void)
{
    __asm volatile("dsb 0xF\n\tisb 0xF" ::: "memory");
}

static void enable_caches(void)
{
    barriers();
    SCB_ICIALLU = 0u;                              /* invalidate the I-cache */
    barriers();
    SCB_CCR |= CCR_IC;
    barriers();

    SCB_CSSELR = 0u;                               /* level 1 data cache */
    barriers();
    uint32_t ccsidr = SCB_CCSIDR;
    uint32_t sets = (ccsidr >> 13) & 0x7FFFu;      /* number of sets - 1 */
    do {
        uint32_t ways = (ccsidr >> 3) & 0x3FFu;    /* number of ways - 1 */
        do {
            SCB_DCISW = ((sets << 5) & 0x3FE0u) | ((ways << 30) & 0xC0000000u);
        } while (ways-- != 0u);
    } while (sets-- != 0u);
    barriers();
    SCB_CCR |= CCR_DC;
    barriers();
}
#endif

void port_board_init(void)
{
#ifdef EDGEKIT_INIT_OPS
    for (unsigned i = 0; i < sizeof init_ops / sizeof init_ops[0]; i++) {
        volatile uint32_t *reg = (volatile uint32_t *)(uintptr_t)init_ops[i].addr;
        if (init_ops[i].wait_mask) {
            while ((*reg & init_ops[i].wait_mask) != init_ops[i].wait_mask) {
            }
        } else {
            *reg = (*reg & ~init_ops[i].clear) | init_ops[i].set;
        }
    }
#endif
#ifdef EDGEKIT_ENABLE_CACHES
    enable_caches();
#endif
}
