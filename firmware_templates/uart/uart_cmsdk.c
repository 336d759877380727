/* Arm CMSDK APB UART (MPS2/MPS3 boards), polled. */
#include "edgekit_port.h"

#define REG(off) (*(volatile uint32_t *)(EDGEKIT_UART_BASE + (off)))
#define DATA 0x00u
#define STATE 0x04u /* bit0 TX full, bit1 RX full, bits2/3 TX/RX overrun (w1c) */
#define CTRL 0x08u
#define BAUDDIV 0x10u

void port_uart_init(void)
{
    uint32_t div = EDGEKIT_UART_CLOCK_HZ / EDGEKIT_UART_BAUD;
    REG(BAUDDIV) = div < 16u ? 16u : div; /* the UART rejects divisors < 16 */
    REG(CTRL) = 3u;                        /* TX and RX enable, no interrupts */
}

void port_uart_putc(uint8_t c)
{
    while (REG(STATE) & 1u) {
    }
    REG(DATA) = c;
}

int port_uart_getc(void)
{
    while (!(REG(STATE) & 2u)) {
    }
    REG(STATE) = 0xCu; /* clear overrun flags; a lost byte shows up as a bad CRC */
    return (int)(REG(DATA) & 0xFFu);
}

void port_uart_flush(void) {}
