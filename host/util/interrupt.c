#include "host/util/interrupt.h"

#include <string.h>
#include <unistd.h>

volatile sig_atomic_t civ_interrupted = 0;

static void on_signal(int sig)
{
    (void)sig;
    if (civ_interrupted) _exit(130);   /* asked twice: stop now */
    civ_interrupted = 1;
}

void civ_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}
