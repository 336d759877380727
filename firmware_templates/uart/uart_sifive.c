/* SiFive UART (FE310 / HiFive1), polled. Pins are muxed by the board init ops. */
#include "edgekit_port.h"

#define REG(off) (*(volatile uint32_t *)(EDGEKIT_UART_BASE + (off)))
#define TXDATA 0x00u /* bit31: FIFO full */
#define RXDATA 0x04u /* bit31: FIFO empty */
#define TXCTRL 0x08u
#define RXCTRL 0x0Cu
#define DIV 0x18u

void port_uart_init(void)
{
    /* baud = f_in / (div + 1) */
    REG(DIV) = (EDGEKIT_UART_CLOCK_HZ + EDGEKIT_UART_BAUD / 2u) / EDGEKIT_UART_BAUD - 1u;
    REG(TXCTRL) = 1u;
    REG(RXCTRL) = 1u;
}

void port_uart_putc(uint8_t c)
{
    while ((int32_t)REG(TXDATA) < 0) {
    }
    REG(TXDATA) = c;
}

int port_uart_getc(void)
{
    for (;;) {
        int32_t v = (int32_t)REG(RXDATA); /* one read: it pops the FIFO */
        if (v >= 0) return v & 0xFF;
    }
}

void port_uart_flush(void) {}
