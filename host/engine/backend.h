/* Backends: who runs a day's passes (models/covid/covid_step.h) over the agents. The engine
 * (engine.c) decides everything else — the day's policy, decision-table refreshes, bookkeeping — and
 * talks to a backend only through these operations. Two implementations of the same rules: the CPU
 * (OpenMP loops, backend_cpu.c) and CUDA (device-resident state, cuda/backend_cuda.cu), which give
 * identical results for the same seed. */
#ifndef CIV_BACKEND_H
#define CIV_BACKEND_H

#include <stdint.h>

#include "host/util/error.h"
#include "models/covid/covid_step.h"

/* What a backend simulates, fixed for a run; the arrays belong to the engine. */
typedef struct {
    const civ_covid_params *model;
    uint64_t seed;
    civ_agents agents;               /* host arrays; the STATE fields hold the state before day 0 */
    uint32_t n_households, n_places, n_tracts;
    int n_archetypes, n_out_bands;
    const uint8_t *tract_borough;    /* [tract] */
    const uint32_t *tract_count;     /* [tract][community band]: people */
    const uint64_t *level_count;     /* [CIV_N_LEVEL_SUMS][CIV_N_PREM]: people per borough, then city */
    const uint8_t *out_band_of_age;  /* [CIV_MAX_AGE + 1]: output age band */
    int threads;                     /* CPU: OpenMP threads */
    int device;                      /* CUDA: device index */
} civ_world;

/* A backend's own state (group sums, device buffers); opaque to the engine. */
typedef struct civ_backend_state civ_backend_state;

typedef struct {
    const char *name;   /* "cpu", "cuda": recorded in run files */
    /* Prepares a run of `w` (on a device: allocates and stages); NULL state and an error on failure. */
    civ_status (*create)(const civ_world *w, civ_backend_state **state, civ_error *err);
    /* The decision table (n_archetypes x CIV_N_DECISION) from the next launched day on; the caller may
     * change its array once the call returns. */
    civ_status (*upload_table)(civ_backend_state *b, const float *table, civ_error *err);
    /* Starts day `day` under `pol`; may return before the day is done (the CUDA backend queues it). */
    civ_status (*launch_day)(civ_backend_state *b, const civ_policy *pol, int day, civ_error *err);
    /* Waits for the launched day and writes its series[var][borough][output band]. */
    civ_status (*complete_day)(civ_backend_state *b, int32_t *series, civ_error *err);
    /* Copies the STATE fields of the agents, as after the last completed day, into `host`. */
    civ_status (*download_agents)(civ_backend_state *b, civ_agents *host, civ_error *err);
    /* Copies the last day's community pressure [tract][community band] into `pressure`. */
    civ_status (*download_pressure)(civ_backend_state *b, float *pressure, civ_error *err);
    void (*destroy)(civ_backend_state *b);
} civ_backend_ops;

extern const civ_backend_ops civ_backend_cpu;

#endif
