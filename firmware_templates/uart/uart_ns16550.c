/* 16550 UART (QEMU RISC-V virt), 8-bit registers, polled. */
#include "edgekit_port.h"

#define REG(off) (*(volatile uint8_t *)(EDGEKIT_UART_BASE + (off)))
#define RBR 0u
#define THR 0u
#define DLL 0u
#define DLM 1u
#define IER 1u
#define FCR 2u
#define LCR 3u
#define LSR 5u

void port_uart_init(void)
{
    uint32_t div = EDGEKIT_UART_CLOCK_HZ / (16u * EDGEKIT_UART_BAUD);
    REG(IER) = 0;
    REG(LCR) = 0x80; /* DLAB */
    REG(DLL) = (uint8_t)div;
    REG(DLM) = (uint8_t)(div >> 8);
    REG(LCR) = 0x03; /* 8N1 */
    REG(FCR) = 0xC7; /* FIFO on, cleared, RX trigger at 14 bytes */
    (void)REG(RBR);  /* QEMU: without this dummy read the first reply stalls ~1 s */
}

void port_uart_putc(uint8_t c)
{
    while (!(REG(LSR) & 0x20u)) {
    }
    REG(THR) = c;
}

int port_uart_getc(void)
{
    while (!(REG(LSR) & 0x01u)) {
    }
    return REG(RBR);
}

void port_uart_flush(void) {}
