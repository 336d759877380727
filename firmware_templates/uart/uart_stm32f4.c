/* STM32 USART with the SR/DR register layout (STM32F1/F2/F4, e.g. the F405 of the
 * Netduino Plus 2 and QEMU's netduinoplus2), polled. Clocks and pins are enabled by
 * the board init ops. (The F7/L4+ ISR/TDR layout is uart_stm32.c.) */
#include "edgekit_port.h"

#define REG(off) (*(volatile uint32_t *)(EDGEKIT_UART_BASE + (off)))
#define SR 0x00u
#define DR 0x04u
#define BRR 0x08u
#define CR1 0x0Cu
#define SR_TXE (1u << 7)
#define SR_RXNE (1u << 5)
#define SR_ERRORS 0xFu /* ORE | NF | FE | PE */
#define CR1_UE (1u << 13)
#define CR1_TE (1u << 3)
#define CR1_RE (1u << 2)

void port_uart_init(void)
{
    REG(CR1) = 0;
    /* oversampling by 16: BRR = f / baud (mantissa and 4-bit fraction in one number) */
    REG(BRR) = (EDGEKIT_UART_CLOCK_HZ + EDGEKIT_UART_BAUD / 2u) / EDGEKIT_UART_BAUD;
    REG(CR1) = CR1_UE | CR1_TE | CR1_RE;
}

void port_uart_putc(uint8_t c)
{
    while (!(REG(SR) & SR_TXE)) {
    }
    REG(DR) = c;
}

int port_uart_getc(void)
{
    for (;;) {
        uint32_t sr = REG(SR);
        if (sr & SR_RXNE) return (int)(REG(DR) & 0xFFu);
        /* PE/FE/NE/ORE clear by reading SR then DR; the frame's CRC catches the damage */
        if (sr & SR_ERRORS) (void)REG(DR);
    }
}

void port_uart_flush(void) {}
