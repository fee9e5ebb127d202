/* The CUDA backend (civ_backend_cuda, see host/engine/backend.h) and what callers ask of the CUDA
 * devices before choosing it: agent state lives in device memory for the whole run; each day runs the
 * same per-agent pass bodies as the CPU backend (models/covid/covid_step.h) as kernels, and only the
 * day's series (and requested snapshots) come back. */
#ifndef CIV_BACKEND_CUDA_H
#define CIV_BACKEND_CUDA_H

#include <stddef.h>

#include "host/engine/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const civ_backend_ops civ_backend_cuda;

/* Number of usable CUDA devices (those this build has kernel code for); 0 with a reason in `why`
 * when none. `name` describes the first usable one. */
int civ_cuda_device_count(char *name, size_t name_len, char *why, size_t why_len);
/* Whether `device` can run this build's kernels (its compute capability is among those compiled);
 * 0 with the reason otherwise. */
int civ_cuda_device_runs_kernels(int device, char *why, size_t why_len);
/* Measured device-to-device copy bandwidth in bytes/s (read + write); 0 on failure. */
double civ_cuda_copy_bandwidth(size_t bytes);
/* One line on the CUDA build: target architectures, runtime, whether cuBLAS loads, devices (for
 * `civitas version`). */
void civ_cuda_describe(char *buf, size_t len);
/* Device bytes a run of `w` needs (for messages and benchmarks). */
size_t civ_cuda_bytes_needed(const civ_world *w);

#ifdef __cplusplus
}
#endif

#endif
