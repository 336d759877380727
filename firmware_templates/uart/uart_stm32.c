/* STM32 USART / LPUART (F7, L4+ register layout), polled. Clocks and pins are
 * enabled by the board init ops. EDGEKIT_UART_LPUART selects the LPUART
 * baud formula (BRR = 256 * f / baud). */
#include "edgekit_port.h"

#define REG(off) (*(volatile uint32_t *)(EDGEKIT_UART_BASE + (off)))
#define CR1 0x00u
#define BRR 0x0Cu
#define ISR 0x1Cu
#define ICR 0x20u
#define RDR 0x24u
#define TDR 0x28u

void port_uart_init(void)
{
    REG(CR1) = 0;
#ifdef EDGEKIT_UART_LPUART
    REG(BRR) = (uint32_t)((256ull * EDGEKIT_UART_CLOCK_HZ + EDGEKIT_UART_BAUD / 2u) / EDGEKIT_UART_BAUD);
#else
    REG(BRR) = (EDGEKIT_UART_CLOCK_HZ + EDGEKIT_UART_BAUD / 2u) / EDGEKIT_UART_BAUD;
#endif
    REG(CR1) = (1u << 3) | (1u << 2) | 1u; /* TE | RE | UE */
}

void port_uart_putc(uint8_t c)
{
    while (!(REG(ISR) & (1u << 7))) { /* TXE */
    }
    REG(TDR) = c;
}

int port_uart_getc(void)
{
    for (;;) {
        uint32_t isr = REG(ISR);
        if (isr & (1u << 5)) return (int)(REG(RDR) & 0xFFu); /* RXNE */
        if (isr & 0xFu) REG(ICR) = 0xFu; /* PE/FE/NE/ORE: clear, let the CRC catch it */
    }
}

void port_uart_flush(void) {}
