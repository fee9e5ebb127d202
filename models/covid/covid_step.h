/* The bodies of one simulated day's passes, for one agent (or one tract),
 * shared verbatim by the OpenMP loops (host/engine.c) and the CUDA kernels
 * (cuda/cuda_engine.cu). Backends differ only in how they iterate and tally.
 *
 * Group sums are fixed-point integers added atomically: integer addition is
 * associative, so the sums, and every decision made from them, are the same
 * whatever the thread count or backend. */
#ifndef CIV_COVID_STEP_H
#define CIV_COVID_STEP_H

#include "covid_model.h"

#if defined(__CUDA_ARCH__)
#  define CIV_ATOMIC_ADD_U64(p, v) atomicAdd((unsigned long long *)(p), (unsigned long long)(v))
#elif defined(_OPENMP) && !defined(__CUDACC__)
#  define CIV_ATOMIC_ADD_U64(p, v) do { _Pragma("omp atomic") *(p) += (v); } while (0)
#else
#  define CIV_ATOMIC_ADD_U64(p, v) (*(p) += (v))
#endif

/* bits of the per-agent "today" byte written by the attendance pass */
#define CIV_TODAY_OUT 1u
#define CIV_TODAY_PLACE 2u

/* Per-day group state. */
typedef struct {
    uint64_t *household_sum, *place_sum, *tract_sum;   /* tract_sum[tract][community band] */
    const float *community_pressure;                   /* [tract][community band] */
    uint8_t *today;
} civ_groups;

/* Pass 1: who is out today and who mixes at school/work; infectious agents add
 * their infectiousness to their household, place and community sums. */
CIV_INLINE void civ_pass_attend(const civ_covid_params *m, const civ_policy *pol, uint64_t seed,
                                const float *table, const civ_agents *a, const civ_groups *g,
                                uint32_t i, int day)
{
    uint8_t t = 0;
    if (civ_out_and_about(a, i, day)) {
        t |= CIV_TODAY_OUT;
        if (civ_attends_place(seed, a, pol, table, i, day)) t |= CIV_TODAY_PLACE;
    }
    g->today[i] = t;
    uint32_t q = civ_infectiousness(m, a, i, day);
    if (!q || a->stage[i] == CIV_H) return;
    CIV_ATOMIC_ADD_U64(&g->household_sum[a->household[i]], q);
    if (t & CIV_TODAY_OUT)
        CIV_ATOMIC_ADD_U64(&g->tract_sum[(uint32_t)a->tract[i] * CIV_N_PREM + m->community_band_of_age[a->age[i]]], q);
    if (t & CIV_TODAY_PLACE) CIV_ATOMIC_ADD_U64(&g->place_sum[a->place[i]], q);
}

/* Infectiousness per person of band k over the tracts of one borough (b >= 0)
 * or of the city (b < 0). Totals are exact integers (any summation order gives
 * the same), converted once: every backend gets the same float. */
CIV_INLINE float civ_rate_from_totals(uint64_t sum, uint64_t count)
{
    return count ? (float)((double)sum / (double)count) : 0.0f;
}

CIV_INLINE float civ_level_rate(const uint64_t *tract_sum, const uint32_t *tract_count,
                                const uint8_t *tract_borough, uint32_t n_tracts, int b, int k)
{
    uint64_t sum = 0, count = 0;
    for (uint32_t t = 0; t < n_tracts; t++) {
        if (b >= 0 && tract_borough[t] != b) continue;
        sum += tract_sum[t * CIV_N_PREM + k];
        count += tract_count[t * CIV_N_PREM + k];
    }
    return civ_rate_from_totals(sum, count);
}

/* Pass 2 (per tract): community pressure on each contactor band a of tract t:
 * sum over levels of share x sum_k C[a][k] x rate_k, in a fixed order.
 * brate: [CIV_N_PREM] rates of the tract's borough, crate: city rates. */
CIV_INLINE void civ_tract_pressure(const civ_covid_params *m, const civ_policy *pol, const civ_groups *g,
                                   const uint32_t *tract_count, const float *brate, const float *crate,
                                   float *pressure, uint32_t t)
{
    const float scale = m->w_community * pol->community_factor;
    const float s0 = m->level_share[CIV_LEVEL_TRACT], s1 = m->level_share[CIV_LEVEL_BOROUGH],
                s2 = m->level_share[CIV_LEVEL_CITY];
    float rate[CIV_N_PREM];
    for (int k = 0; k < CIV_N_PREM; k++) {
        uint32_t c = tract_count[t * CIV_N_PREM + k];
        float tr = c ? (float)g->tract_sum[t * CIV_N_PREM + k] / (float)c : 0.0f;
        rate[k] = s0 * tr + s1 * brate[k] + s2 * crate[k];
    }
    for (int a = 0; a < CIV_N_PREM; a++) {
        float acc = 0.0f;
        for (int k = 0; k < CIV_N_PREM; k++) acc = acc + m->community_matrix[a][k] * rate[k];
        pressure[t * CIV_N_PREM + a] = scale * acc;
    }
}

#ifndef CIV_NBOROUGH
#define CIV_NBOROUGH 5
#endif

/* Output variables: series[var][borough][age band] per day. */
enum civ_var {
    V_SUSCEPTIBLE = 0, V_EXPOSED, V_PRESYMPTOMATIC, V_ASYMPTOMATIC, V_MILD, V_SEVERE,
    V_HOSPITALISED, V_RECOVERED, V_DEAD,
    V_NEW_INFECTIONS, V_NEW_SYMPTOMATIC, V_NEW_HOSPITALISATIONS, V_NEW_DEATHS, V_NEW_RECOVERIES,
    V_NEW_TESTS, V_NEW_REPORTED_CASES, V_NEW_LAYOFFS, V_NEW_REHIRES,
    V_ISOLATING, V_WORKING, V_EMPLOYED, V_UNEMPLOYED, V_NVARS
};

/* What one agent contributes to the day's tallies. */
typedef struct {
    uint32_t events;      /* civ_flow bits */
    uint8_t infected;     /* infected today */
    uint8_t isolating;    /* isolating at the start of the day (alive, not in hospital) */
    uint8_t working;      /* went to its workplace */
    uint8_t stage;        /* stage at the end of the day */
    uint8_t labour;       /* labour status at the end of the day (0 when dead) */
} civ_tally;

/* Pass 3: transmission (pull) for a susceptible, then progression, testing,
 * behaviour and employment for everyone. */
CIV_INLINE civ_tally civ_pass_update(const civ_covid_params *m, const civ_policy *pol, uint64_t seed,
                                     const float *table, const civ_agents *a, const civ_groups *g,
                                     uint32_t i, int day)
{
    civ_tally r;
    r.infected = 0;
    const uint8_t t = g->today[i];
    if (a->stage[i] == CIV_S) {
        uint64_t hs = g->household_sum[a->household[i]];
        int attends = (t & CIV_TODAY_PLACE) != 0;
        uint64_t ps = attends ? g->place_sum[a->place[i]] : 0;
        float c = (t & CIV_TODAY_OUT)
                      ? g->community_pressure[(uint32_t)a->tract[i] * CIV_N_PREM + m->community_band_of_age[a->age[i]]]
                      : 0.0f;
        if (hs || ps || c > 0.0f) {
            float p = civ_hazard_to_prob(civ_infection_hazard(m, pol, a, i, attends, hs, ps, c));
            if (civ_u01(civ_rng(seed, (uint32_t)day, i, CIV_RNG_INFECT).v[0]) < p) {
                civ_infect(m, seed, a, i, day);
                r.infected = 1;
            }
        }
    }
    r.isolating = civ_isolating(a, i, day) && a->stage[i] != CIV_D && a->stage[i] != CIV_H;
    r.working = (t & CIV_TODAY_PLACE) && !a->place_is_school[a->place[i]];
    r.events = civ_progress(m, pol, seed, table, a, i, day);
    r.stage = a->stage[i];
    r.labour = r.stage == CIV_D ? 0 : a->labour[i];
    return r;
}

/* Applies INC(index) for every counter one agent's tally raises; cell = borough * nb + age band. */
#define CIV_TALLY_EACH(r, cell, nb, INC) do {                                                      \
        const int civ_n_ = CIV_NBOROUGH * (nb);                                                    \
        if ((r).infected) INC(V_NEW_INFECTIONS * civ_n_ + (cell));                                \
        if ((r).isolating) INC(V_ISOLATING * civ_n_ + (cell));                                    \
        if ((r).working) INC(V_WORKING * civ_n_ + (cell));                                        \
        INC((V_SUSCEPTIBLE + (r).stage) * civ_n_ + (cell));                                       \
        if ((r).labour == 1) INC(V_EMPLOYED * civ_n_ + (cell));                                   \
        else if ((r).labour == 2) INC(V_UNEMPLOYED * civ_n_ + (cell));                            \
        if ((r).events) {                                                                          \
            static const int civ_flow_var_[CIV_N_FLOW] = {V_NEW_SYMPTOMATIC, V_NEW_HOSPITALISATIONS, \
                V_NEW_DEATHS, V_NEW_RECOVERIES, V_NEW_TESTS, V_NEW_REPORTED_CASES, V_NEW_LAYOFFS,  \
                V_NEW_REHIRES};                                                                    \
            for (int civ_f_ = 0; civ_f_ < CIV_N_FLOW; civ_f_++)                                    \
                if ((r).events & (1u << civ_f_)) INC(civ_flow_var_[civ_f_] * civ_n_ + (cell));     \
        }                                                                                          \
    } while (0)

#endif
