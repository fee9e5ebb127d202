/* C interface of the CUDA backend: agent state lives in device memory for the
 * whole run; each day runs the same per-agent pass bodies as the CPU backend
 * (models/covid/covid_step.h) as kernels, and only the day's series (and
 * requested snapshots) come back. */
#ifndef CIV_CUDA_BACKEND_H
#define CIV_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "models/covid/covid_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices (those this build has kernel code for); 0 with a reason in `why`
 * when none. `name` describes the first usable one. */
int civ_cuda_device_count(char *name, size_t name_len, char *why, size_t why_len);
/* Whether `device` can run this build's kernels (its compute capability is among those compiled);
 * 0 with the reason otherwise. */
int civ_cuda_device_runs_kernels(int device, char *why, size_t why_len);

typedef struct {
    int device;                        /* CUDA device index */
    uint32_t n_agents, n_households, n_places, n_tracts;
    int n_out_bands, n_archetypes;
    uint64_t seed;
    const civ_covid_params *model;
    /* static, per agent */
    const uint8_t *age, *borough;
    const uint16_t *tract, *archetype;
    const uint32_t *household;
    const int32_t *place;
    /* static, per place / tract */
    const uint8_t *place_is_school;
    const uint32_t *place_size;
    const uint8_t *tract_borough;
    const uint32_t *tract_count;       /* [tract][community band] */
    const uint64_t *level_count;       /* [borough, then city][community band]: CIV_N_LEVEL_SUMS x CIV_N_PREM */
    const uint8_t *out_band_of_age;    /* [CIV_MAX_AGE + 1] */
    /* dynamic, initial values (after seeding) */
    const uint8_t *stage, *course, *flags, *labour;
    const int16_t *infected_day, *next_day, *test_day, *iso_until;
} civ_cuda_setup;

typedef struct civ_cuda_engine civ_cuda_engine;

/* Allocates and stages everything on s->device. NULL with a message on failure
 * (out of memory names the bytes needed and what is free). */
civ_cuda_engine *civ_cuda_create(const civ_cuda_setup *s, char *err, size_t err_len);
/* Replaces the decision table (n_archetypes x CIV_N_DECISION) from the next
 * launched day on. The copy is queued from a pinned staging buffer: the host
 * does not wait for the GPU (the previous day's kernels keep the old table by
 * stream order). */
int civ_cuda_upload_table(civ_cuda_engine *g, const float *table, char *err, size_t err_len);
/* Queues the kernels of `day` and the copy of its series into a pinned buffer;
 * returns without waiting, so the host can write the previous day meanwhile. */
int civ_cuda_launch(civ_cuda_engine *g, const civ_policy *pol, int day, char *err, size_t err_len);
/* Waits for the launched day (the engine calls it once per launch); writes series[var][borough][band]. 0 on success
 * (a kernel fault of the day is reported here). */
int civ_cuda_complete(civ_cuda_engine *g, int32_t *series, char *err, size_t err_len);
/* Copies the dynamic agent state back (snapshots, end of run, parity tests). */
int civ_cuda_download(civ_cuda_engine *g, uint8_t *stage, uint8_t *course, uint8_t *flags, uint8_t *labour,
                      int16_t *infected_day, int16_t *next_day, int16_t *test_day, int16_t *iso_until,
                      char *err, size_t err_len);
/* Copies the last day's community pressure [tract][band] back (parity tests). */
int civ_cuda_download_pressure(civ_cuda_engine *g, float *pressure, char *err, size_t err_len);
void civ_cuda_destroy(civ_cuda_engine *g);
/* Measured device-to-device copy bandwidth in bytes/s (read + write); 0 on failure. */
double civ_cuda_copy_bandwidth(size_t bytes);
/* One line on the CUDA build: target architectures, runtime, whether cuBLAS
 * loads, devices (for `civitas version`). */
void civ_cuda_describe(char *buf, size_t len);
/* Device bytes the engine needs for a population (for messages and benchmarks). */
size_t civ_cuda_bytes_needed(const civ_cuda_setup *s);

#ifdef __cplusplus
}
#endif

#endif
