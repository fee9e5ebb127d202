/* The bodies of one simulated day's passes, for one agent (or one tract),
 * shared verbatim by the OpenMP loops (host/engine.c) and the CUDA kernels
 * (cuda/cuda_engine.cu). Backends differ only in how they iterate and tally.
 *
 * Group sums are fixed-point integers added atomically: integer addition is
 * associative, so the sums, and every decision made from them, are the same
 * whatever the thread count or backend. */
#ifndef CIV_COVID_STEP_H
#define CIV_COVID_STEP_H

#include "host/core/boroughs.h"
#include "models/covid/covid_model.h"

#if defined(__CUDA_ARCH__)
#  define CIV_ATOMIC_ADD_U64(p, v) atomicAdd((unsigned long long *)(p), (unsigned long long)(v))
#elif defined(_OPENMP) && !defined(__CUDACC__)
#  define CIV_ATOMIC_ADD_U64(p, v) do { _Pragma("omp atomic") *(p) += (v); } while (0)
#else
#  define CIV_ATOMIC_ADD_U64(p, v) (*(p) += (v))
#endif

/* levels of the community totals: the 5 boroughs, then the city */
#define CIV_N_LEVEL_SUMS (CIV_NBOROUGH + 1)

/* bits of the per-agent "today" byte written by the attendance pass */
#define CIV_TODAY_OUT 1u
#define CIV_TODAY_PLACE 2u

/* Per-day group state: infectiousness summed over each group's members (fixed point), and the
 * community pressure mixed from the tract sums. */
typedef struct {
    uint64_t *household_sum, *place_sum, *tract_sum;   /* tract_sum[tract][community band] */
    const float *community_pressure;                   /* [tract][community band] */
} civ_groups;

/* Sizes of the tables an agent's indices point into. */
typedef struct {
    uint32_t n_households, n_places, n_tracts, n_archetypes;
} civ_index_limits;

enum civ_index_fault { CIV_FAULT_NONE = 0, CIV_FAULT_HOUSEHOLD, CIV_FAULT_PLACE, CIV_FAULT_TRACT,
                       CIV_FAULT_ARCHETYPE, CIV_FAULT_AGE, CIV_FAULT_BOROUGH, CIV_FAULT_STAGE };

/* Which of agent i's indices falls outside its table (CIV_FAULT_NONE when all are inside). The
 * CPU engine checks every agent once at start; with CIVITAS_CUDA_SYNC=1 every GPU kernel checks
 * the agents it touches, so a corrupt index is named instead of faulting somewhere later. */
CIV_INLINE int civ_agent_index_fault(const civ_agents *a, const civ_index_limits *lim, uint32_t i)
{
    if (a->household[i] >= lim->n_households) return CIV_FAULT_HOUSEHOLD;
    if (a->place[i] < -1 || (a->place[i] >= 0 && (uint32_t)a->place[i] >= lim->n_places))
        return CIV_FAULT_PLACE;
    if (a->tract[i] >= lim->n_tracts) return CIV_FAULT_TRACT;
    if (a->archetype[i] >= lim->n_archetypes) return CIV_FAULT_ARCHETYPE;
    if (a->age[i] > CIV_MAX_AGE) return CIV_FAULT_AGE;
    if (a->borough[i] >= CIV_NBOROUGH) return CIV_FAULT_BOROUGH;
    if (a->stage[i] >= CIV_NSTAGE) return CIV_FAULT_STAGE;
    return CIV_FAULT_NONE;
}

/* The field a civ_index_fault names, for messages. */
CIV_INLINE const char *civ_index_fault_field(int fault)
{
    switch (fault) {
    case CIV_FAULT_HOUSEHOLD: return "household";
    case CIV_FAULT_PLACE: return "place";
    case CIV_FAULT_TRACT: return "tract";
    case CIV_FAULT_ARCHETYPE: return "archetype";
    case CIV_FAULT_AGE: return "age";
    case CIV_FAULT_BOROUGH: return "borough";
    case CIV_FAULT_STAGE: return "stage";
    default: return "none";
    }
}

/* Pass 1: who is out today and who mixes at school/work; infectious agents add
 * their infectiousness to their household, place and community sums. */
CIV_INLINE void civ_pass_attend(const civ_covid_params *m, const civ_policy *pol, uint64_t seed,
                                const float *table, const civ_agents *a, const civ_groups *g,
                                uint32_t i, int day)
{
    uint8_t t = 0;
    if (civ_out_and_about(a, i, day)) t |= CIV_TODAY_OUT;
    if (civ_attends_place(seed, a, pol, table, i, day)) t |= CIV_TODAY_PLACE;
    a->today[i] = t;
    uint32_t q = civ_infectiousness(m, a, i, day);
    if (!q || a->stage[i] == CIV_H) return;
    const uint8_t size = a->household_size[i];
    const uint64_t q_household =
        ((uint64_t)q * m->household_contact_q[size < CIV_MAX_HOUSEHOLD_SCALE ? size : CIV_MAX_HOUSEHOLD_SCALE - 1]) >> 16;
    CIV_ATOMIC_ADD_U64(&g->household_sum[a->household[i]], q_household);
    const uint64_t q_outside = ((uint64_t)q * civ_outside_exposure_q(m, a, i)) >> 16;
    if (t & CIV_TODAY_OUT)
        CIV_ATOMIC_ADD_U64(&g->tract_sum[(uint32_t)a->tract[i] * CIV_N_PREM + m->community_band_of_age[a->age[i]]],
                           (q_outside * civ_older_kept_q(pol, a, i)) >> 16);
    if (t & CIV_TODAY_PLACE) CIV_ATOMIC_ADD_U64(&g->place_sum[a->place[i]], q_outside);
}

/* Infectiousness per person of band k at one level (a borough or the city),
 * from exact integer totals over its tracts (any summation order gives the
 * same), converted once: every backend gets the same float. */
CIV_INLINE float civ_rate_from_totals(uint64_t sum, uint64_t count)
{
    return count ? (float)((double)sum / (double)count) : 0.0f;
}

/* Pass 2: community pressure on contactor band a of tract t,
 *   pressure[t][a] = w_community x community_factor x sum_k C[a][k] x rate[t][k],
 * where rate[t][k] mixes the infectiousness per person of band k in the tract,
 * its borough and the city. The matrix product (a GEMM over all tracts, cuBLAS
 * on the GPU) runs in block fixed point: C is quantized once with 2^F
 * (entries <= 2^25), the day's rates with 2^R chosen from their maximum
 * (entries <= 2^23), so every product and partial sum is an integer below
 * 2^52: exact in int64 on the CPU and in double in cuBLAS's DGEMM, in any
 * summation order, and the backends agree to the bit. The quantization error
 * (2^-24 of the largest rate, 2^-26 of the largest contact rate) is below
 * float rounding of the largest terms. */
#define CIV_MIX_RATE_BITS 23
#define CIV_MIX_MATRIX_BITS 25

/* rate of band k in a tract: level shares x (tract, borough, city) rates, in a fixed order */
CIV_INLINE float civ_mix_rate(const civ_covid_params *m, uint64_t tract_sum, uint32_t tract_count, float brate,
                              float crate)
{
    float tr = tract_count ? (float)tract_sum / (float)tract_count : 0.0f;
    return m->level_share[CIV_LEVEL_TRACT] * tr + m->level_share[CIV_LEVEL_BOROUGH] * brate +
           m->level_share[CIV_LEVEL_CITY] * crate;
}

/* Block exponent for values <= max: the largest s with max x 2^s < 2^bits (0 when max is 0). */
CIV_INLINE int civ_mix_shift(float max, int bits)
{
    return max > 0.0f ? bits - 1 - civ_float_exponent(max) : 0;
}

/* round(x x 2^shift) for 0 <= x x 2^shift <= 2^bits, as an exact integer (double or int64) */
CIV_INLINE uint64_t civ_mix_quantize(float x, double pow2_shift)
{
    return (uint64_t)((double)x * pow2_shift + 0.5);
}

/* The day's pressure from the exact fixed-point product sum_k Cq[a][k] x rq[k] (shift F + R). */
CIV_INLINE float civ_mix_pressure(double product, int shift, float scale)
{
    return scale * (float)(product * civ_pow2(-shift));
}

/* Scales exposure outside the home so that household residents average 1 (count[g]: household residents
 * of group g), in fixed point and as the same float: the layer weights and beta keep their meaning, and
 * with a contrast of 0 every factor is exactly 1. Host only (once per engine). */
CIV_INLINE void civ_exposure_prepare(civ_covid_params *m, const uint64_t count[CIV_N_ETHNICITY])
{
    double people = 0, total = 0;
    for (int g = 0; g < CIV_N_ETHNICITY; g++) {
        people += (double)count[g];
        total += (double)count[g] * m->exposure_relative[g];
    }
    const double mean = people > 0 ? total / people : 1.0;
    for (int g = 0; g < CIV_N_ETHNICITY; g++) {
        m->exposure_q[g] = (uint32_t)(m->exposure_relative[g] / mean * CIV_FIXED_ONE + 0.5);
        m->exposure[g] = (float)m->exposure_q[g] * (1.0f / CIV_FIXED_ONE);
    }
}

/* Quantizes the contact matrix for civ_mix_pressure: Cq[a][k] = round(C[a][k] x 2^F). Host only
 * (once per engine); fills m->community_q and m->community_q_shift. */
CIV_INLINE void civ_mix_prepare(civ_covid_params *m)
{
    float max = 0.0f;
    for (int a = 0; a < CIV_N_PREM; a++)
        for (int k = 0; k < CIV_N_PREM; k++)
            if (m->community_matrix[a][k] > max) max = m->community_matrix[a][k];
    m->community_q_shift = civ_mix_shift(max, CIV_MIX_MATRIX_BITS);
    const double p = civ_pow2(m->community_q_shift);
    for (int a = 0; a < CIV_N_PREM; a++)
        for (int k = 0; k < CIV_N_PREM; k++)
            m->community_q[a][k] = (uint32_t)civ_mix_quantize(m->community_matrix[a][k], p);
}


/* Output variables: series[var][borough][age band] per day. */
enum civ_var {
    CIV_VAR_SUSCEPTIBLE = 0, CIV_VAR_EXPOSED, CIV_VAR_PRESYMPTOMATIC, CIV_VAR_ASYMPTOMATIC, CIV_VAR_MILD, CIV_VAR_SEVERE,
    CIV_VAR_HOSPITALISED, CIV_VAR_RECOVERED, CIV_VAR_DEAD,
    CIV_VAR_NEW_INFECTIONS, CIV_VAR_NEW_SYMPTOMATIC, CIV_VAR_NEW_HOSPITALISATIONS, CIV_VAR_NEW_DEATHS,
    CIV_VAR_NEW_DEATHS_OUTSIDE_HOSPITAL, CIV_VAR_NEW_DEATHS_IN_CARE_HOME, CIV_VAR_NEW_RECOVERIES,
    CIV_VAR_NEW_TEST_SEEKERS, CIV_VAR_NEW_TESTS, CIV_VAR_NEW_REPORTED_CASES, CIV_VAR_NEW_LAYOFFS, CIV_VAR_NEW_REHIRES,
    CIV_VAR_ISOLATING, CIV_VAR_WORKING, CIV_VAR_EMPLOYED, CIV_VAR_UNEMPLOYED, CIV_N_VARS
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
    const uint8_t t = a->today[i];
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
    r.working = (t & CIV_TODAY_PLACE) && a->place_type[a->place[i]] != CIV_PLACE_SCHOOL && a->labour[i] == 1;
    r.events = civ_progress(m, pol, seed, table, a, i, day);
    r.stage = a->stage[i];
    r.labour = r.stage == CIV_D ? 0 : a->labour[i];
    return r;
}

/* Applies INC(index) for every counter one agent's tally raises; cell = borough * nb + age band. */
#define CIV_TALLY_EACH(r, cell, nb, INC) do {                                                      \
        const int civ_n_ = CIV_NBOROUGH * (nb);                                                    \
        if ((r).infected) INC(CIV_VAR_NEW_INFECTIONS * civ_n_ + (cell));                                \
        if ((r).isolating) INC(CIV_VAR_ISOLATING * civ_n_ + (cell));                                    \
        if ((r).working) INC(CIV_VAR_WORKING * civ_n_ + (cell));                                        \
        INC((CIV_VAR_SUSCEPTIBLE + (r).stage) * civ_n_ + (cell));                                       \
        if ((r).labour == 1) INC(CIV_VAR_EMPLOYED * civ_n_ + (cell));                                   \
        else if ((r).labour == 2) INC(CIV_VAR_UNEMPLOYED * civ_n_ + (cell));                            \
        if ((r).events) {                                                                          \
            static const int civ_flow_var_[CIV_N_FLOW] = {CIV_VAR_NEW_SYMPTOMATIC,                    \
                CIV_VAR_NEW_HOSPITALISATIONS, CIV_VAR_NEW_DEATHS, CIV_VAR_NEW_DEATHS_OUTSIDE_HOSPITAL,     \
                CIV_VAR_NEW_DEATHS_IN_CARE_HOME,                                                         \
                CIV_VAR_NEW_RECOVERIES, CIV_VAR_NEW_TEST_SEEKERS, CIV_VAR_NEW_TESTS, CIV_VAR_NEW_REPORTED_CASES, \
                CIV_VAR_NEW_LAYOFFS,                                                                     \
                CIV_VAR_NEW_REHIRES};                                                                    \
            for (int civ_f_ = 0; civ_f_ < CIV_N_FLOW; civ_f_++)                                    \
                if ((r).events & (1u << civ_f_)) INC(civ_flow_var_[civ_f_] * civ_n_ + (cell));     \
        }                                                                                          \
    } while (0)

#endif
