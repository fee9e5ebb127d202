/* The CPU backend (OpenMP): civ_backend_cpu in backend.h, and a look inside for white-box tests. */
#ifndef CIV_BACKEND_CPU_H
#define CIV_BACKEND_CPU_H

#include "host/engine/backend.h"

/* The last day's group sums and community pressure of a CPU backend's state. */
const civ_groups *civ_backend_cpu_groups(const civ_backend_state *b);

#endif
