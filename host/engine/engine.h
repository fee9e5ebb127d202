/* The simulation engine: one step is one day, backend-neutral.
 *   launch:   the policy in force (interventions, testing capacity), a decision-table refresh every
 *             refresh_days (heuristic rules or the LLM bridge), then the backend starts the day's
 *             passes (models/covid/covid_step.h): attendance and infectious contributions to group
 *             sums, community pressure per tract and age band, transmission and progression
 *   complete: the backend's series for the day, then the host's bookkeeping (reported cases for the
 *             behaviour rules, tests for the next day's capacity)
 * The agents (models/covid/covid_agents.h) live on the host and, for the CUDA backend, on the device;
 * the backend (backend.h) is chosen by the caller. Cost is linear in agents; nothing is allocated per
 * step; results do not depend on the backend or the thread count. */
#ifndef CIV_ENGINE_H
#define CIV_ENGINE_H

#include <signal.h>
#include <stdint.h>

#include "host/engine/backend.h"
#include "host/population/population.h"
#include "host/study/study.h"
#include "llm_bridge/bridge.h"
#include "llm_bridge/decision_table.h"

extern const char *const civ_var_name[CIV_N_VARS];
extern const char *const civ_var_description[CIV_N_VARS];

typedef struct {
    const civ_study *study;
    const civ_population *pop;
    civ_covid_params model;
    civ_agents a;                 /* the agents (host arrays; see covid_agents.h) */
    civ_decision_table table;
    const civ_backend_ops *backend;
    civ_backend_state *backend_state;
    int threads;
    int device;                   /* CUDA device index */
    int day;                      /* next day to simulate */
    uint32_t seeded;              /* initial infections placed */

    /* static community structure, handed to the backend */
    uint32_t *tract_count;                              /* [tract][band]: people */
    uint64_t level_count[CIV_N_LEVEL_SUMS][CIV_N_PREM]; /* people per borough (and city) and band */
    uint8_t *out_band_of_age;
    int n_out_bands;

    /* outputs of the last completed step: series[var][borough][out_band] */
    int32_t *series;
    civ_policy policy;            /* policy of the last launched step */
    int table_refreshed;          /* the last completed step refreshed the table */
    int launched;                 /* a step is launched and not yet completed */
    int launched_refresh;         /* ... and it refreshed the table */
    int64_t seekers_yesterday;    /* symptomatic agents who sought a test yesterday: today's demand */
    double host_tests;            /* tests of the launched day counted on the host (no COVID-19, screening) */
    double reported[28][CIV_NBOROUGH];       /* ring of daily reported cases, last 4 weeks */
    int64_t *agents_per_archetype;
    float *heuristic;                        /* heuristic rows (fallback for the LLM bridge) */
    civ_llm_bridge *bridge;                  /* NULL in heuristic mode */
    uint64_t borough_pop[CIV_NBOROUGH];
} civ_engine;

/* Prepares a run of study `s` over `pop` on `backend` (civ_backend_cpu, or the CUDA backend on
 * `device`); `threads` OpenMP threads for the CPU. */
civ_status civ_engine_init(civ_engine *e, const civ_study *s, const civ_population *pop, int threads,
                           const civ_backend_ops *backend, int device, civ_error *err);
/* Starts the LLM bridge when the study's behaviour mode is llm or replay (after init). A refresh stops
 * its requests when *cancel becomes nonzero (SIGINT/SIGTERM; may be NULL). */
civ_status civ_engine_start_bridge(civ_engine *e, int quiet, const volatile sig_atomic_t *cancel, civ_error *err);
/* Simulates one day: civ_engine_launch then civ_engine_complete. Fails only on
 * a backend error (device) or an LLM bridge error. */
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
/* Brings the agents' STATE fields (covid_agents.h) to e->a (a copy from the device on the CUDA backend). */
civ_status civ_engine_sync_agents(civ_engine *e, civ_error *err);
/* The last day's community pressure [tract][community band], into `pressure`. */
civ_status civ_engine_pressure(civ_engine *e, float *pressure, civ_error *err);
void civ_engine_free(civ_engine *e);
/* bytes of agent state per agent (every field of covid_agents.h) */
size_t civ_engine_bytes_per_agent(void);
/* total stage count across the city from series (for conservation checks) */
int64_t civ_engine_total(const civ_engine *e, int var);

#endif
