/* Host board: nanoseconds from CLOCK_MONOTONIC (noisy; for protocol tests). */
#define _POSIX_C_SOURCE 199309L
#include <time.h>
#include "edgekit_port.h"

void port_counter_init(void) {}
void port_counter_restart(void) {}

uint64_t port_counter_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
