/* COVID-19 SEIRM-type model: types and per-agent rules shared by the CPU
 * backend (gcc, OpenMP loop) and the CUDA backend (nvcc kernels). Everything
 * here is plain data and CIV_INLINE functions: no rule is written twice.
 *
 * Course of an infection (all durations in whole days, drawn at each stage):
 *   S -> E (latent) -> A (asymptomatic) ----------------------------> R
 *                   -> P (presymptomatic) -> M (mild) ---------------> R
 *                                         -> V (severe) -> H (hospital) -> R or D
 *                                                       -> D (dies outside hospital: at home or in a care home)
 * Infectiousness = severity factor x gamma profile of days since infection,
 * counted only in P, A, M and V. Hospitalised agents have no contacts.
 * Infectiousness is fixed point (1.0 = 65536) so that group sums are exact
 * integers: the result never depends on summation order or thread count. */
#ifndef CIV_COVID_MODEL_H
#define CIV_COVID_MODEL_H

#include "host/core/boroughs.h"
#include "host/core/detmath.h"
#include "host/core/ethnicity.h"
#include "host/core/portable.h"
#include "host/core/philox.h"
#include "host/core/places.h"

enum civ_stage { CIV_S = 0, CIV_E, CIV_P, CIV_A, CIV_M, CIV_V, CIV_H, CIV_R, CIV_D, CIV_NSTAGE };

/* course bits, drawn at infection */
#define CIV_COURSE_SYMPTOMATIC 1u
#define CIV_COURSE_SEVERE 2u       /* needs hospital care, or dies outside hospital */
#define CIV_COURSE_DIES 4u
#define CIV_COURSE_OUTSIDE 8u      /* dies without being admitted (with CIV_COURSE_DIES) */

/* flags bits */
#define CIV_FLAG_ISO_SYMPTOMS 1u   /* isolating because symptomatic */
#define CIV_FLAG_TEST_PENDING 2u   /* test taken, result on test_day */
#define CIV_FLAG_TEST_WILL_BE_POS 4u
#define CIV_FLAG_CONFIRMED 8u      /* has had a positive result (never retested) */

#define CIV_N_AGE10 9      /* 0-9, ..., 70-79, 80+ */
#define CIV_N_PREM 16      /* 0-4, ..., 70-74, 75+ (Prem et al. bands) */
#define CIV_MAX_DAYS 64    /* length of profile and duration tables */
#define CIV_MAX_HOUSEHOLD_SCALE 32 /* household sizes with their own contact scale (larger: the last) */
#define CIV_FIXED_ONE 65536u
#define CIV_MAX_AGE 120
#define CIV_N_RESIDENCE 2  /* living in a household, in a care home */

enum civ_duration { CIV_DUR_LATENT = 0, CIV_DUR_PRESYMPTOMATIC, CIV_DUR_ASYMPTOMATIC_RECOVERY,
                    CIV_DUR_MILD_RECOVERY, CIV_DUR_ONSET_TO_HOSPITAL, CIV_DUR_HOSPITAL_RECOVERY,
                    CIV_DUR_HOSPITAL_DEATH, CIV_N_DUR };

enum civ_decision { CIV_DEC_ISOLATE_IF_SYMPTOMATIC = 0, CIV_DEC_GO_TO_WORK, CIV_DEC_COMPLY_ISOLATION,
                    CIV_N_DECISION };

/* Community mixing levels: an agent's community contacts are split between
 * its census tract, its borough and the whole city. */
enum civ_level { CIV_LEVEL_TRACT = 0, CIV_LEVEL_BOROUGH, CIV_LEVEL_CITY, CIV_N_LEVEL };

/* Static model parameters and precomputed tables (plain data, copied to the device). */
typedef struct {
    float susceptibility[CIV_N_AGE10];
    float p_symptomatic[CIV_N_AGE10];
    /* severity by residence (0 household, 1 care home) and single year of age: a severe course is a
     * hospital admission or a death outside hospital; given severe, the draw is split into dies outside,
     * dies in hospital, survives (admitted) */
    float p_severe_given_symptomatic[CIV_N_RESIDENCE][CIV_MAX_AGE + 1];
    float p_dies_outside_given_severe[CIV_N_RESIDENCE][CIV_MAX_AGE + 1];
    float p_dies_in_hospital_given_severe[CIV_N_RESIDENCE][CIV_MAX_AGE + 1];
    uint32_t factor_q[3];                 /* asymptomatic, mild course, severe course */
    uint32_t profile_q[CIV_MAX_DAYS];     /* fixed-point infectiousness by day since infection */
    uint32_t dur_cdf[CIV_N_DUR][CIV_MAX_DAYS]; /* P(D <= d) * 2^32, saturating */
    float p_hospital_test;
    float test_sensitivity;
    uint8_t age10_of_age[CIV_MAX_AGE + 1];
    uint8_t prem_of_age[CIV_MAX_AGE + 1];      /* school/work contact bands */
    uint8_t community_band_of_age[CIV_MAX_AGE + 1]; /* rows of community_matrix */
    /* contacts */
    float w_household, w_school, w_work, w_community, w_care_home;   /* per-contact layer weights */
    /* per-contact household transmission by household size (people), relative to a household of two:
     * (size - 1)^-household_size_exponent in fixed point (CIV_FIXED_ONE = 1); applied once per infectious
     * member to what it adds to its household's sum, not per susceptible; sizes 0-2 and beyond the table
     * use its ends */
    uint32_t household_contact_q[CIV_MAX_HOUSEHOLD_SCALE];
    /* exposure outside the home (place and community contacts, both ways) by race/ethnicity group, a proxy
     * for on-site work, crowding and transit: relative_exposure^contrast from the parameters, then scaled by
     * the engine (civ_exposure_prepare) so household residents average 1; fixed point and the same as float.
     * Care-home residents use 1. */
    float exposure_relative[CIV_N_ETHNICITY];
    uint32_t exposure_q[CIV_N_ETHNICITY];
    float exposure[CIV_N_ETHNICITY];
    float contacts_school[CIV_N_PREM], contacts_work[CIV_N_PREM]; /* per day, by age band */
    float contacts_care_home;                            /* per day, residents and staff alike */
    float community_matrix[CIV_N_PREM][CIV_N_PREM];      /* contacts/day, row = contactor */
    uint32_t community_q[CIV_N_PREM][CIV_N_PREM];        /* fixed point, 2^community_q_shift (civ_mix_prepare) */
    int community_q_shift;
    float level_share[CIV_N_LEVEL];
} civ_covid_params;

/* What is in force on a given day (resolved on the host from the interventions, mobility and testing). */
typedef struct {
    float beta;                  /* transmission scale */
    float community_factor[CIV_NBOROUGH]; /* share of usual community contacts kept, by borough of residence */
    float community_order;       /* the stay-at-home orders' part of it (community_contacts interventions) */
    /* household residents aged older_age and over keep older_kept[b] of their (already reduced) community
     * contacts, both as infectee and as infector; fixed point and the same as float (1 = no difference) */
    uint32_t older_kept_q[CIV_NBOROUGH];
    float older_kept[CIV_NBOROUGH];
    int older_age;
    float work_attendance[CIV_NBOROUGH];  /* non-essential workers: chance of going in while workplaces are open */
    int schools_closed;
    int work_closed;
    float essential_share;       /* share of workers exempt from a workplace closure */
    float test_seek_probability; /* per symptomatic day */
    float test_capacity_ratio;   /* share of test seekers who get a test (capacity / demand, at most 1) */
    float test_screen_probability; /* per day, for an infected agent without symptoms: tested by screening */
    float test_access[CIV_NBOROUGH]; /* by borough of residence: multiplies both probabilities above (1 = the
                                        city's rate per resident; from testing.access_file) */
    int test_delay_days;
    int isolation_days;
    float layoff_probability;    /* per day, for workers whose workplace is closed */
    float rehire_probability;    /* per day, for laid-off workers whose workplace is open */
} civ_policy;

/* Per-agent state, struct of arrays: the list is in covid_agents.h. */
#include "models/covid/covid_agents.h"

/* ---- random draws ---------------------------------------------------- */

CIV_INLINE int civ_sample_duration(const civ_covid_params *m, int which, uint32_t u)
{
    const uint32_t *cdf = m->dur_cdf[which];
    int d = 1;
    while (d < CIV_MAX_DAYS - 1 && u >= cdf[d]) d++;
    return d;
}

/* Whether worker i is among the essential share (a fixed rank per agent, drawn once: the same workers
 * stay essential whatever the share, and the test costs no draw). */
CIV_INLINE int civ_is_essential(const civ_agents *a, uint32_t i, float share)
{
    return (float)a->essential_rank[i] * (1.0f / 65536.0f) < share;
}

/* The rank behind civ_is_essential, drawn when the engine starts. */
CIV_INLINE uint16_t civ_essential_rank(uint64_t seed, uint32_t i)
{
    return (uint16_t)(civ_rng(seed, 0, i, CIV_RNG_ESSENTIAL).v[0] >> 16);
}

/* ---- infectiousness and participation ------------------------------- */

CIV_INLINE int civ_is_infectious_stage(int s) { return s == CIV_P || s == CIV_A || s == CIV_M || s == CIV_V; }

CIV_INLINE uint32_t civ_infectiousness(const civ_covid_params *m, const civ_agents *a, uint32_t i, int day)
{
    int s = a->stage[i];
    if (!civ_is_infectious_stage(s)) return 0;
    int since = day - a->infected_day[i];
    if (since < 0 || since >= CIV_MAX_DAYS) return 0;
    uint32_t c = a->course[i];
    uint32_t f = !(c & CIV_COURSE_SYMPTOMATIC) ? m->factor_q[0] : (c & CIV_COURSE_SEVERE) ? m->factor_q[2] : m->factor_q[1];
    return (uint32_t)(((uint64_t)f * m->profile_q[since]) >> 16);
}

CIV_INLINE int civ_isolating(const civ_agents *a, uint32_t i, int day)
{
    return (a->flags[i] & CIV_FLAG_ISO_SYMPTOMS) || day < a->iso_until[i];
}

/* Mixing with anyone outside the household today: not hospitalised, dead or isolating. */
CIV_INLINE int civ_present(const civ_agents *a, uint32_t i, int day)
{
    int s = a->stage[i];
    return s != CIV_H && s != CIV_D && !civ_isolating(a, i, day);
}

/* Out in the community today: present, and not a care-home resident (they mix only in their home). */
CIV_INLINE int civ_out_and_about(const civ_agents *a, uint32_t i, int day)
{
    return a->residence[i] == CIV_RES_HOUSEHOLD && civ_present(a, i, day);
}

/* Whether a workplace closure keeps agent i at home (care homes never close). */
CIV_INLINE int civ_work_closed_for(uint64_t seed, const civ_agents *a, const civ_policy *pol, uint32_t i)
{
    (void)seed;
    return pol->work_closed && a->place_type[a->place[i]] == CIV_PLACE_WORK &&
           !civ_is_essential(a, i, pol->essential_share);
}

CIV_INLINE int civ_goes_to_work(uint64_t seed, const civ_agents *a, const civ_policy *pol,
                                const float *table, uint32_t i, int day)
{
    if (a->labour[i] != 1 /* employed */) return 0;
    if (civ_work_closed_for(seed, a, pol, i)) return 0;
    float p = table[a->archetype[i] * CIV_N_DECISION + CIV_DEC_GO_TO_WORK];
    /* non-essential workers of open workplaces go in as often as mobility says (1 without mobility data) */
    const float attendance = pol->work_attendance[a->borough[i]];
    if (attendance < 1.0f && a->place_type[a->place[i]] == CIV_PLACE_WORK && !civ_is_essential(a, i, pol->essential_share))
        p = p * attendance;
    if (p >= 1.0f) return 1;   /* u < 1 always holds: skip the draw */
    return civ_u01(civ_rng(seed, (uint32_t)day, i, CIV_RNG_WORK).v[0]) < p;
}

/* Whether agent i mixes at its school, workplace or care home today (residents: always, when present). */
CIV_INLINE int civ_attends_place(uint64_t seed, const civ_agents *a, const civ_policy *pol,
                                 const float *table, uint32_t i, int day)
{
    int32_t p = a->place[i];
    if (p < 0 || !civ_present(a, i, day)) return 0;
    if (a->residence[i] == CIV_RES_CARE_HOME) return 1;
    if (a->place_type[p] == CIV_PLACE_SCHOOL) return !pol->schools_closed;
    return civ_goes_to_work(seed, a, pol, table, i, day);
}

/* ---- transmission ------------------------------------------------------ */

/* Agent i's exposure outside its home relative to the average household resident (1 in a care home). */
CIV_INLINE float civ_outside_exposure(const civ_covid_params *m, const civ_agents *a, uint32_t i)
{
    return a->residence[i] == CIV_RES_HOUSEHOLD ? m->exposure[a->ethnicity[i]] : 1.0f;
}

/* The same in fixed point (CIV_FIXED_ONE = 1), for what an infectious agent adds to place and community sums. */
CIV_INLINE uint32_t civ_outside_exposure_q(const civ_covid_params *m, const civ_agents *a, uint32_t i)
{
    return a->residence[i] == CIV_RES_HOUSEHOLD ? m->exposure_q[a->ethnicity[i]] : CIV_FIXED_ONE;
}

/* Share of its community contacts agent i keeps beyond everyone's (older adults' extra distancing). */
CIV_INLINE float civ_older_kept(const civ_policy *pol, const civ_agents *a, uint32_t i)
{
    return a->age[i] >= pol->older_age ? pol->older_kept[a->borough[i]] : 1.0f;
}

/* The same in fixed point, for what an infectious agent adds to its tract's community sum. */
CIV_INLINE uint32_t civ_older_kept_q(const civ_policy *pol, const civ_agents *a, uint32_t i)
{
    return a->age[i] >= pol->older_age ? pol->older_kept_q[a->borough[i]] : CIV_FIXED_ONE;
}

/* Daily infection hazard of susceptible i from the group sums (fixed point).
 * The float operations are written in one fixed order for CPU/GPU parity. */
CIV_INLINE float civ_infection_hazard(const civ_covid_params *m, const civ_policy *pol,
                                      const civ_agents *a, uint32_t i, int attends,
                                      uint64_t household_sum, uint64_t place_sum,
                                      float community_pressure)
{
    float h = m->w_household * (float)household_sum;
    const float e = civ_outside_exposure(m, a, i);
    if (attends) {
        int32_t p = a->place[i];
        uint32_t others = a->place_size[p] > 1 ? a->place_size[p] - 1 : 1;
        int band = m->prem_of_age[a->age[i]];
        const int type = a->place_type[p];
        float c = type == CIV_PLACE_SCHOOL ? m->w_school * m->contacts_school[band]
                : type == CIV_PLACE_WORK   ? m->w_work * m->contacts_work[band]
                                           : m->w_care_home * m->contacts_care_home;
        h = h + e * (c * ((float)place_sum / (float)others));
    }
    h = h + e * (community_pressure * civ_older_kept(pol, a, i));
    return pol->beta * m->susceptibility[m->age10_of_age[a->age[i]]] * (h * (1.0f / 65536.0f));
}

/* civ_residence_kind: 0 lives in a household, 1 in a care home. */
CIV_INLINE int civ_residence(const civ_agents *a, uint32_t i) { return a->residence[i]; }

/* Infects agent i on `day`: draws the course and the latent period. */
CIV_INLINE void civ_infect(const civ_covid_params *m, uint64_t seed, const civ_agents *a,
                           uint32_t i, int day)
{
    civ_u32x4 r = civ_rng(seed, (uint32_t)day, i, CIV_RNG_COURSE);
    const int age = a->age[i], res = civ_residence(a, i);
    uint32_t c = 0;
    if (civ_u01(r.v[0]) < m->p_symptomatic[m->age10_of_age[age]]) {
        c |= CIV_COURSE_SYMPTOMATIC;
        if (civ_u01(r.v[1]) < m->p_severe_given_symptomatic[res][age]) {
            c |= CIV_COURSE_SEVERE;
            /* one draw split three ways: dies outside hospital, dies in hospital, survives */
            const float u = civ_u01(r.v[2]), outside = m->p_dies_outside_given_severe[res][age];
            if (u < outside) c |= CIV_COURSE_DIES | CIV_COURSE_OUTSIDE;
            else if (u < outside + m->p_dies_in_hospital_given_severe[res][age]) c |= CIV_COURSE_DIES;
        }
    }
    a->course[i] = (uint8_t)c;
    a->stage[i] = CIV_E;
    a->infected_day[i] = (int16_t)day;
    a->next_day[i] = (int16_t)(day + civ_sample_duration(m, CIV_DUR_LATENT, r.v[3]));
}

/* ---- progression, testing, behaviour, employment ------------------------ */

/* Flow counters an agent can raise in one day. */
enum civ_flow { CIV_FLOW_SYMPTOM_ONSET = 0, CIV_FLOW_HOSPITALISED, CIV_FLOW_DIED, CIV_FLOW_DIED_OUTSIDE,
                CIV_FLOW_DIED_IN_CARE_HOME, CIV_FLOW_RECOVERED,
                CIV_FLOW_SOUGHT_TEST, CIV_FLOW_TESTED, CIV_FLOW_REPORTED, CIV_FLOW_LAID_OFF, CIV_FLOW_REHIRED,
                CIV_N_FLOW };

/* Advances agent i by one day; returns a bit mask of civ_flow events. */
CIV_INLINE uint32_t civ_progress(const civ_covid_params *m, const civ_policy *pol, uint64_t seed,
                                 const float *table, const civ_agents *a, uint32_t i, int day)
{
    uint32_t ev = 0;
    int s = a->stage[i];
    const float *row = table + a->archetype[i] * CIV_N_DECISION;
    civ_u32x4 r;   /* drawn only on days something can happen: a pure function of its key */

    /* 1. disease stage transition due today */
    if (s != CIV_S && s != CIV_R && s != CIV_D && a->next_day[i] <= day) {
        r = civ_rng(seed, (uint32_t)day, i, CIV_RNG_PROGRESS);
        uint32_t c = a->course[i];
        int next = s, dur = 0;
        switch (s) {
        case CIV_E:
            if (c & CIV_COURSE_SYMPTOMATIC) { next = CIV_P; dur = civ_sample_duration(m, CIV_DUR_PRESYMPTOMATIC, r.v[0]); }
            else { next = CIV_A; dur = civ_sample_duration(m, CIV_DUR_ASYMPTOMATIC_RECOVERY, r.v[0]); }
            break;
        case CIV_P:
            ev |= 1u << CIV_FLOW_SYMPTOM_ONSET;
            if (c & CIV_COURSE_OUTSIDE) {   /* as long as onset to admission plus admission to death */
                next = CIV_V;
                dur = civ_sample_duration(m, CIV_DUR_ONSET_TO_HOSPITAL, r.v[0]) +
                      civ_sample_duration(m, CIV_DUR_HOSPITAL_DEATH, r.v[1]);
            } else if (c & CIV_COURSE_SEVERE) { next = CIV_V; dur = civ_sample_duration(m, CIV_DUR_ONSET_TO_HOSPITAL, r.v[0]); }
            else { next = CIV_M; dur = civ_sample_duration(m, CIV_DUR_MILD_RECOVERY, r.v[0]); }
            {
                civ_u32x4 b = civ_rng(seed, (uint32_t)day, i, CIV_RNG_BEHAVIOUR);
                if (civ_u01(b.v[0]) < row[CIV_DEC_ISOLATE_IF_SYMPTOMATIC]) a->flags[i] |= CIV_FLAG_ISO_SYMPTOMS;
            }
            break;
        case CIV_V:
            if (c & CIV_COURSE_OUTSIDE) {
                next = CIV_D;
                ev |= (1u << CIV_FLOW_DIED) | (1u << CIV_FLOW_DIED_OUTSIDE) |
                      ((uint32_t)(civ_residence(a, i) == CIV_RES_CARE_HOME) << CIV_FLOW_DIED_IN_CARE_HOME);
                a->flags[i] &= (uint8_t)~CIV_FLAG_ISO_SYMPTOMS;
                break;
            }
            next = CIV_H;
            ev |= 1u << CIV_FLOW_HOSPITALISED;
            dur = (c & CIV_COURSE_DIES) ? civ_sample_duration(m, CIV_DUR_HOSPITAL_DEATH, r.v[0])
                                        : civ_sample_duration(m, CIV_DUR_HOSPITAL_RECOVERY, r.v[0]);
            a->flags[i] &= (uint8_t)~CIV_FLAG_ISO_SYMPTOMS;
            /* tested on admission unless already confirmed or waiting for a result; a case from the day of the
               test (DOHMH counts cases by diagnosis date) */
            if (!(a->flags[i] & (CIV_FLAG_CONFIRMED | CIV_FLAG_TEST_PENDING)) && civ_u01(r.v[1]) < m->p_hospital_test) {
                a->flags[i] |= CIV_FLAG_TEST_PENDING | CIV_FLAG_TEST_WILL_BE_POS;
                a->test_day[i] = (int16_t)(day + 1);
                ev |= (1u << CIV_FLOW_TESTED) | (1u << CIV_FLOW_REPORTED);
            }
            break;
        case CIV_H:
            next = (c & CIV_COURSE_DIES) ? CIV_D : CIV_R;
            ev |= 1u << (next == CIV_D ? CIV_FLOW_DIED : CIV_FLOW_RECOVERED);
            break;
        default: /* A, M */
            next = CIV_R;
            ev |= 1u << CIV_FLOW_RECOVERED;
            a->flags[i] &= (uint8_t)~CIV_FLAG_ISO_SYMPTOMS;
            break;
        }
        a->stage[i] = (uint8_t)next;
        a->next_day[i] = (int16_t)(dur ? day + dur : 0x7FFF);
        s = next;
    }
    if (s == CIV_D) return ev;

    /* 2. test result due today */
    uint8_t f = a->flags[i];
    if ((f & CIV_FLAG_TEST_PENDING) && a->test_day[i] <= day) {
        r = civ_rng(seed, (uint32_t)day, i, CIV_RNG_PROGRESS);
        f &= (uint8_t)~CIV_FLAG_TEST_PENDING;
        if (f & CIV_FLAG_TEST_WILL_BE_POS) {   /* already counted as a case on the day of the test */
            f |= CIV_FLAG_CONFIRMED;
            if (civ_u01(r.v[2]) < row[CIV_DEC_COMPLY_ISOLATION])
                a->iso_until[i] = (int16_t)(day + pol->isolation_days);
        }
        f &= (uint8_t)~CIV_FLAG_TEST_WILL_BE_POS;
    }
    /* 3. testing (probabilities times the access of the agent's borough): symptomatic agents seek a test
       and get one if capacity allows (the seekers are counted
       either way: tomorrow's demand); infected agents without symptoms may be found by screening (those
       tests are counted on the host with the other screening tests). A positive test is a case on the day
       it is taken. */
    if (!(f & (CIV_FLAG_TEST_PENDING | CIV_FLAG_CONFIRMED))) {
        const int symptomatic = s == CIV_M || s == CIV_V;
        if (symptomatic || ((s == CIV_P || s == CIV_A) && pol->test_screen_probability > 0.0f)) {
            civ_u32x4 t = civ_rng(seed, (uint32_t)day, i, CIV_RNG_TEST);
            const float access = pol->test_access[a->borough[i]];
            int tested = 0;
            if (symptomatic && civ_u01(t.v[0]) < pol->test_seek_probability * access) {
                ev |= 1u << CIV_FLOW_SOUGHT_TEST;
                tested = civ_u01(t.v[1]) < pol->test_capacity_ratio;
                if (tested) ev |= 1u << CIV_FLOW_TESTED;
            } else if (!symptomatic) {
                tested = civ_u01(t.v[0]) < pol->test_screen_probability * access;
            }
            if (tested) {
                f |= CIV_FLAG_TEST_PENDING;
                if (civ_u01(t.v[2]) < m->test_sensitivity) {
                    f |= CIV_FLAG_TEST_WILL_BE_POS;
                    ev |= 1u << CIV_FLOW_REPORTED;
                }
                a->test_day[i] = (int16_t)(day + pol->test_delay_days);
            }
        }
    }
    a->flags[i] = f;

    /* 4. employment: layoffs while the workplace is closed, rehiring once open */
    int32_t p = a->place[i];
    if (p >= 0 && a->place_type[p] == CIV_PLACE_WORK && (pol->work_closed || a->labour[i] == 2)) {
        int closed = civ_work_closed_for(seed, a, pol, i);
        if (a->labour[i] == 1 && closed) {
            if (civ_u01(civ_rng(seed, (uint32_t)day, i, CIV_RNG_EMPLOYMENT).v[0]) < pol->layoff_probability) {
                a->labour[i] = 2;
                ev |= 1u << CIV_FLOW_LAID_OFF;
            }
        } else if (a->labour[i] == 2 && !closed) {
            if (civ_u01(civ_rng(seed, (uint32_t)day, i, CIV_RNG_EMPLOYMENT).v[1]) < pol->rehire_probability) {
                a->labour[i] = 1;
                ev |= 1u << CIV_FLOW_REHIRED;
            }
        }
    }
    return ev;
}

#endif
