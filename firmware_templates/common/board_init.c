/* Applies the board's init ops (register read-modify-writes and waits) from
 * the board definition: clock enables, pin muxing. Empty on QEMU boards. */
#include "edgekit_port.h"

#ifdef EDGEKIT_INIT_OPS
typedef struct { uint32_t addr, clear, set, wait_mask; } init_op_t;
static const init_op_t init_ops[] = { EDGEKIT_INIT_OPS };
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
}
