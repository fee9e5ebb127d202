/* The simulation engine, CPU backend (OpenMP). One step is one day:
 *   1. resolve the policy in force; refresh decision tables every K days
 *   2. attendance pass: who is out today, who mixes at school/work; infectious
 *      agents add their fixed-point infectiousness to household, place and
 *      community sums (integer atomics: exact, order-independent)
 *   3. community pressure per tract x age band (Prem matrix x prevalence at
 *      tract, borough and city level)
 *   4. transmission pass: each susceptible pulls its hazard from its groups
 *   5. progression pass: disease stages, testing, isolation, employment, tallies
 * Cost is linear in agents; nothing is allocated per step. */
#ifndef CIV_ENGINE_H
#define CIV_ENGINE_H

#include <stdint.h>

#include "llm_bridge/bridge.h"
#include "llm_bridge/decision_table.h"
#include "models/covid/covid_step.h"
#include "host/population/population.h"
#include "host/study/study.h"


extern const char *const civ_var_name[V_NVARS];
extern const char *const civ_var_description[V_NVARS];

typedef enum { CIV_BACKEND_CPU = 0, CIV_BACKEND_CUDA = 1 } civ_backend;

typedef struct {
    const civ_study *study;
    const civ_population *pop;
    civ_covid_params model;
    civ_agents a;
    civ_decision_table table;
    int nthreads;
    civ_backend backend;
    int device;                   /* CUDA device index (set before civ_engine_init's GPU start; default 0) */
    void *gpu;                    /* civ_cuda_engine when backend == CIV_BACKEND_CUDA */
    int day;                      /* next day to simulate */
    uint32_t seeded;              /* initial infections placed */

    /* owned per-agent state */
    uint16_t *archetype;
    uint8_t *stage, *course, *flags, *labour, *today, *place_is_school;
    int16_t *infected_day, *next_day, *test_day, *iso_until;

    /* per-group sums (fixed point) and community structure */
    uint64_t *household_sum, *place_sum, *tract_sum;   /* tract_sum[tract][band] */
    uint32_t *tract_count;                              /* static [tract][band] */
    uint64_t level_count[CIV_N_LEVEL_SUMS][CIV_N_PREM]; /* static: people per borough (and city) and band */
    float *community_pressure;                          /* [tract][band] */
    float *mix_rate;                                    /* [tract][band] scratch: mixed rates */
    uint8_t *out_band_of_age;
    int n_out_bands;

    /* outputs of the last step: series[var][borough][out_band] */
    int32_t *series;
    int64_t *thread_counts;       /* [nthreads][V_NVARS*5*bands] scratch */
    civ_policy policy;            /* policy of the last launched step */
    int table_refreshed;          /* the last completed step refreshed the table */
    int launched;                 /* a step is launched and not yet completed */
    int launched_refresh;         /* ... and it refreshed the table */
    uint64_t tests_yesterday;
    float ratio_yesterday;
    double reported[28][CIV_NBOROUGH];       /* ring of daily reported cases, last 4 weeks */
    int64_t *agents_per_archetype;
    float *heuristic;                        /* heuristic rows (fallback for the LLM bridge) */
    civ_llm_bridge *bridge;                  /* NULL in heuristic mode */
    uint64_t borough_pop[CIV_NBOROUGH];
} civ_engine;

civ_status civ_engine_init(civ_engine *e, const civ_study *s, const civ_population *pop,
                           int nthreads, civ_backend backend, civ_error *err);
/* Same, on a given CUDA device (ensembles under MPI: one device per rank). */
civ_status civ_engine_init_on(civ_engine *e, const civ_study *s, const civ_population *pop,
                              int nthreads, civ_backend backend, int device, civ_error *err);
/* Starts the LLM bridge when the study's behaviour mode is llm or replay (after init). */
civ_status civ_engine_start_bridge(civ_engine *e, int quiet, civ_error *err);
/* Simulates one day: civ_engine_launch then civ_engine_complete. Fails only on
 * a device error (CUDA backend) or an LLM bridge error. */
civ_status civ_engine_step(civ_engine *e, civ_error *err);
/* The two halves of a step, for callers that overlap output with simulation.
 * launch: resolves the day's policy, refreshes the decision table when due and
 *   starts the day (the CUDA backend only queues its kernels and returns);
 * complete: waits for the day and publishes its series in e->series (and
 *   e->table_refreshed), then does the host bookkeeping.
 * Between them, e->series still holds the previous day's series, so the
 * previous day can be written while the GPU runs the next one; e->table and
 * the bridge record already belong to the launched day. */
civ_status civ_engine_launch(civ_engine *e, civ_error *err);
civ_status civ_engine_complete(civ_engine *e, civ_error *err);
/* Whether `day` starts with a decision-table refresh. */
int civ_engine_refreshes_on(const civ_engine *e, int day);
/* Brings the dynamic agent state to the host arrays (no-op on the CPU backend). */
civ_status civ_engine_sync_agents(civ_engine *e, civ_error *err);
void civ_engine_free(civ_engine *e);
/* bytes of agent state per agent (static + dynamic + scratch) */
size_t civ_engine_bytes_per_agent(void);
/* total stage count across the city from series (for conservation checks) */
int64_t civ_engine_total(const civ_engine *e, int var);

#endif
