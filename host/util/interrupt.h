/* Ctrl-C and SIGTERM: every command stops within about a second, discards or closes its outputs the way
 * `run` does (README, "Output files"), and exits 130. A second signal ends the process at once (outputs
 * then stay under their ".partial" names). A closed pipe is an ordinary write error (exit 4), not a
 * silent death by SIGPIPE. */
#ifndef CIV_INTERRUPT_H
#define CIV_INTERRUPT_H

#include <signal.h>

/* Set by SIGINT/SIGTERM; long loops poll it. */
extern volatile sig_atomic_t civ_interrupted;

/* Installs the handlers (and ignores SIGPIPE); main() calls it before anything else. */
void civ_install_signal_handlers(void);

#endif
