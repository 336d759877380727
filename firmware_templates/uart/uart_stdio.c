/* Host board: the "UART" is stdin/stdout of the firmware process. */
#include <unistd.h>
#include "edgekit_port.h"

static uint8_t txbuf[4096];
static unsigned txlen;

void port_uart_init(void) {}

void port_uart_flush(void)
{
    unsigned off = 0;
    while (off < txlen) {
        ssize_t n = write(1, txbuf + off, txlen - off);
        if (n <= 0) _exit(1);
        off += (unsigned)n;
    }
    txlen = 0;
}

void port_uart_putc(uint8_t c)
{
    if (txlen == sizeof txbuf) port_uart_flush();
    txbuf[txlen++] = c;
}

int port_uart_getc(void)
{
    static uint8_t rxbuf[4096];
    static ssize_t rxlen, rxpos;
    if (rxpos == rxlen) {
        rxlen = read(0, rxbuf, sizeof rxbuf);
        rxpos = 0;
        if (rxlen <= 0) return -1;
    }
    return rxbuf[rxpos++];
}
