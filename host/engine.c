#include "engine.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *const civ_var_name[V_NVARS] = {
    "susceptible", "exposed", "presymptomatic", "asymptomatic", "mild", "severe",
    "hospitalised", "recovered", "dead",
    "new_infections", "new_symptomatic", "new_hospitalisations", "new_deaths", "new_recoveries",
    "new_tests", "new_reported_cases", "new_layoffs", "new_rehires",
    "isolating", "working", "employed", "unemployed"};

const char *const civ_var_description[V_NVARS] = {
    "agents susceptible at end of day", "agents infected, not yet infectious (latent)",
    "infectious, symptoms to come", "infectious, never symptomatic", "symptomatic, mild course",
    "symptomatic, severe course, not yet in hospital", "in hospital", "recovered", "dead (cumulative)",
    "infections during the day", "symptom onsets during the day", "hospital admissions during the day",
    "deaths during the day", "recoveries during the day", "tests taken during the day",
    "positive test results reported during the day (reported cases)", "workers laid off during the day",
    "laid-off workers rehired during the day",
    "agents isolating (symptoms or positive test) at start of day",
    "employed agents who went to their workplace during the day",
    "alive agents employed at end of day", "alive agents unemployed (in labour force) at end of day"};

size_t civ_engine_bytes_per_agent(void)
{
    /* static: age, borough, tract, archetype, household, place; dynamic: stage, course,
       flags, labour, today, 4 x int16 day fields */
    return 1 + 1 + 2 + 2 + 4 + 4 + 5 + 4 * 2;
}

static inline int nvals(const civ_engine *e) { return V_NVARS * CIV_NBOROUGH * e->n_out_bands; }

civ_status civ_engine_init(civ_engine *e, const civ_study *s, const civ_population *pop,
                           int nthreads, civ_error *err)
{
    memset(e, 0, sizeof *e);
    e->study = s;
    e->pop = pop;
    e->model = s->model;
    e->nthreads = nthreads > 0 ? nthreads : 1;
    size_t n = pop->n_agents;
    if (s->steps + 64 > 32000)
        return civ_fail(err, CIV_ERR_INPUT, "%s: steps = %d is too long (day counters are 16-bit)", s->study_file, s->steps);

    civ_table_init(&e->table, s);
    e->archetype = civ_xmalloc(n * sizeof(uint16_t));
    e->stage = civ_xcalloc(n, 1);
    e->course = civ_xcalloc(n, 1);
    e->flags = civ_xcalloc(n, 1);
    e->today = civ_xcalloc(n, 1);
    e->labour = civ_xmalloc(n);
    memcpy(e->labour, pop->labour, n);
    e->infected_day = civ_xmalloc(n * 2);
    e->next_day = civ_xmalloc(n * 2);
    e->test_day = civ_xmalloc(n * 2);
    e->iso_until = civ_xmalloc(n * 2);
    e->place_is_school = civ_xmalloc(pop->n_places ? pop->n_places : 1);
    for (uint32_t p = 0; p < pop->n_places; p++) e->place_is_school[p] = pop->place_type[p] == CIV_PLACE_SCHOOL;
    for (size_t i = 0; i < n; i++) {
        e->archetype[i] = civ_archetype_of(&e->table, pop->age[i], pop->sex[i], pop->borough[i]);
        e->infected_day[i] = -32000;
        e->next_day[i] = 0x7FFF;
        e->test_day[i] = 0;
        e->iso_until[i] = -32000;
        e->borough_pop[pop->borough[i]]++;
    }
    e->household_sum = civ_xcalloc(pop->n_households, sizeof(uint64_t));
    e->place_sum = civ_xcalloc(pop->n_places ? pop->n_places : 1, sizeof(uint64_t));
    size_t tb = (size_t)pop->n_tracts * CIV_N_PREM;
    e->tract_sum = civ_xcalloc(tb, sizeof(uint64_t));
    e->tract_count = civ_xcalloc(tb, sizeof(uint32_t));
    e->community_pressure = civ_xcalloc(tb, sizeof(float));
    for (size_t i = 0; i < n; i++)
        e->tract_count[(size_t)pop->tract[i] * CIV_N_PREM + e->model.community_band_of_age[pop->age[i]]]++;

    e->n_out_bands = s->n_out_bands;
    e->out_band_of_age = civ_xmalloc(CIV_MAX_AGE + 1);
    for (int age = 0; age <= CIV_MAX_AGE; age++) {
        int b = 0;
        while (b + 1 < s->n_out_bands && age >= s->out_band_edges[b + 1]) b++;
        e->out_band_of_age[age] = (uint8_t)b;
    }
    e->series = civ_xcalloc((size_t)nvals(e), sizeof(int32_t));
    e->thread_counts = civ_xcalloc((size_t)e->nthreads * (size_t)nvals(e), sizeof(int64_t));

    civ_agents *a = &e->a;
    a->n = pop->n_agents;
    a->age = pop->age; a->borough = pop->borough; a->tract = pop->tract; a->archetype = e->archetype;
    a->household = pop->household; a->place = pop->place;
    a->place_is_school = e->place_is_school; a->place_size = pop->place_size;
    a->stage = e->stage; a->course = e->course; a->flags = e->flags; a->labour = e->labour;
    a->infected_day = e->infected_day; a->next_day = e->next_day; a->test_day = e->test_day;
    a->iso_until = e->iso_until;

    /* initial infections: distinct random agents, infected over the 7 days before day 0 */
    uint64_t want = (uint64_t)(s->initial_per_100k * (double)n / 1e5 + 0.5);
    if (s->initial_per_100k > 0 && want == 0) want = 1;
    if (want > n) want = n;
    for (uint32_t j = 0; e->seeded < want && j < 20 * want + 1000; j++) {
        uint32_t i = (uint32_t)(((uint64_t)civ_rng(s->seed, 0, j, CIV_RNG_SEED_INFECTION).v[0] * n) >> 32);
        if (e->stage[i] != CIV_S) continue;
        civ_infect(&e->model, s->seed, a, i, -(int)(e->seeded % 7));
        e->seeded++;
    }
    e->ratio_yesterday = 1.0f;
    return CIV_OK;
}

void civ_engine_free(civ_engine *e)
{
    civ_table_free(&e->table);
    free(e->archetype); free(e->stage); free(e->course); free(e->flags); free(e->today);
    free(e->labour); free(e->infected_day); free(e->next_day); free(e->test_day); free(e->iso_until);
    free(e->place_is_school); free(e->household_sum); free(e->place_sum); free(e->tract_sum);
    free(e->tract_count); free(e->community_pressure); free(e->out_band_of_age); free(e->series);
    free(e->thread_counts);
    memset(e, 0, sizeof *e);
}

static void refresh_table(civ_engine *e, double comply_override)
{
    double per100k[CIV_NBOROUGH];
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        double week = 0;
        for (int d = 0; d < 7; d++) week += e->reported_week[d][b];
        per100k[b] = e->borough_pop[b] ? week * 1e5 / (double)e->borough_pop[b] : 0;
    }
    civ_table_heuristic(&e->table, e->study, per100k, comply_override);
}

/* Community pressure per tract x contactor band: sum over levels of
 * share x sum_b C[a][b] x (infectiousness / people) in band b. Serial and in a
 * fixed order: it is small (tracts x 16 x 16) and must be deterministic. */
static void community_pressure(civ_engine *e)
{
    const civ_covid_params *m = &e->model;
    const uint32_t nt = e->pop->n_tracts;
    double bsum[CIV_NBOROUGH][CIV_N_PREM] = {{0}}, bcnt[CIV_NBOROUGH][CIV_N_PREM] = {{0}};
    double csum[CIV_N_PREM] = {0}, ccnt[CIV_N_PREM] = {0};
    for (uint32_t t = 0; t < nt; t++) {
        int b = e->pop->tract_borough[t];
        for (int k = 0; k < CIV_N_PREM; k++) {
            bsum[b][k] += (double)e->tract_sum[t * CIV_N_PREM + k];
            bcnt[b][k] += e->tract_count[t * CIV_N_PREM + k];
        }
    }
    for (int b = 0; b < CIV_NBOROUGH; b++)
        for (int k = 0; k < CIV_N_PREM; k++) { csum[k] += bsum[b][k]; ccnt[k] += bcnt[b][k]; }
    float brate[CIV_NBOROUGH][CIV_N_PREM], crate[CIV_N_PREM];
    for (int k = 0; k < CIV_N_PREM; k++) {
        crate[k] = ccnt[k] > 0 ? (float)(csum[k] / ccnt[k]) : 0.0f;
        for (int b = 0; b < CIV_NBOROUGH; b++) brate[b][k] = bcnt[b][k] > 0 ? (float)(bsum[b][k] / bcnt[b][k]) : 0.0f;
    }
    const float scale = m->w_community * e->policy.community_factor;
    const float s0 = m->level_share[CIV_LEVEL_TRACT], s1 = m->level_share[CIV_LEVEL_BOROUGH],
                s2 = m->level_share[CIV_LEVEL_CITY];
    for (uint32_t t = 0; t < nt; t++) {
        int b = e->pop->tract_borough[t];
        float rate[CIV_N_PREM];
        for (int k = 0; k < CIV_N_PREM; k++) {
            uint32_t c = e->tract_count[t * CIV_N_PREM + k];
            float tr = c ? (float)e->tract_sum[t * CIV_N_PREM + k] / (float)c : 0.0f;
            rate[k] = s0 * tr + s1 * brate[b][k] + s2 * crate[k];
        }
        for (int a = 0; a < CIV_N_PREM; a++) {
            float acc = 0.0f;
            for (int k = 0; k < CIV_N_PREM; k++) acc = acc + m->community_matrix[a][k] * rate[k];
            e->community_pressure[t * CIV_N_PREM + a] = scale * acc;
        }
    }
}

void civ_engine_step(civ_engine *e)
{
    const civ_study *s = e->study;
    const civ_population *pop = e->pop;
    const civ_covid_params *m = &e->model;
    const civ_agents *a = &e->a;
    const int day = e->day;
    const uint64_t seed = s->seed;
    const uint32_t n = pop->n_agents;
    const int nb = e->n_out_bands;
    const int nv = nvals(e);

    double comply_override;
    uint64_t demand = e->ratio_yesterday > 0 ? (uint64_t)((double)e->tests_yesterday / e->ratio_yesterday) : 0;
    civ_study_policy(s, day, demand, n, &e->policy, &comply_override);
    e->table_refreshed = day % s->refresh_days == 0;
    if (e->table_refreshed) refresh_table(e, comply_override);
    const civ_policy pol = e->policy;
    const float *table = e->table.p;

    memset(e->household_sum, 0, pop->n_households * sizeof(uint64_t));
    memset(e->place_sum, 0, (pop->n_places ? pop->n_places : 1) * sizeof(uint64_t));
    memset(e->tract_sum, 0, (size_t)pop->n_tracts * CIV_N_PREM * sizeof(uint64_t));
    memset(e->thread_counts, 0, (size_t)e->nthreads * (size_t)nv * sizeof(int64_t));

    uint64_t *hh_sum = e->household_sum, *pl_sum = e->place_sum, *tr_sum = e->tract_sum;
    uint8_t *today = e->today;

    /* 2. attendance and infectious contributions */
    #pragma omp parallel for schedule(static) num_threads(e->nthreads)
    for (uint32_t i = 0; i < n; i++) {
        uint8_t t = 0;
        if (civ_out_and_about(a, i, day)) {
            t |= CIV_TODAY_OUT;
            if (civ_attends_place(seed, a, &pol, table, i, day)) t |= CIV_TODAY_PLACE;
        }
        today[i] = t;
        uint32_t q = civ_infectiousness(m, a, i, day);
        if (!q || a->stage[i] == CIV_H) continue;
        #pragma omp atomic
        hh_sum[a->household[i]] += q;
        if (t & CIV_TODAY_OUT) {
            #pragma omp atomic
            tr_sum[(size_t)a->tract[i] * CIV_N_PREM + m->community_band_of_age[a->age[i]]] += q;
        }
        if (t & CIV_TODAY_PLACE) {
            #pragma omp atomic
            pl_sum[a->place[i]] += q;
        }
    }

    /* 3. community pressure */
    community_pressure(e);
    const float *cp = e->community_pressure;

    /* 4. transmission (pull) and 5. progression + tallies */
    #pragma omp parallel num_threads(e->nthreads)
    {
#ifdef _OPENMP
        int tid = omp_get_thread_num();
#else
        int tid = 0;
#endif
        int64_t *cnt = e->thread_counts + (size_t)tid * (size_t)nv;
        #pragma omp for schedule(static)
        for (uint32_t i = 0; i < n; i++) {
            const int ob = e->out_band_of_age[a->age[i]];
            const int cell = a->borough[i] * nb + ob;
            const uint8_t t = today[i];
            if (a->stage[i] == CIV_S) {
                uint64_t hs = hh_sum[a->household[i]];
                int attends = (t & CIV_TODAY_PLACE) != 0;
                uint64_t ps = attends ? pl_sum[a->place[i]] : 0;
                float c = (t & CIV_TODAY_OUT) ? cp[(size_t)a->tract[i] * CIV_N_PREM + m->community_band_of_age[a->age[i]]] : 0.0f;
                if (hs || ps || c > 0.0f) {
                    float hz = civ_infection_hazard(m, &pol, a, i, attends, hs, ps, c);
                    float p = civ_hazard_to_prob(hz);
                    if (civ_u01(civ_rng(seed, (uint32_t)day, i, CIV_RNG_INFECT).v[0]) < p) {
                        civ_infect(m, seed, a, i, day);
                        cnt[(V_NEW_INFECTIONS * CIV_NBOROUGH) * nb + cell]++;
                    }
                }
            }
            if (civ_isolating(a, i, day) && a->stage[i] != CIV_D && a->stage[i] != CIV_H)
                cnt[(V_ISOLATING * CIV_NBOROUGH) * nb + cell]++;
            if ((t & CIV_TODAY_PLACE) && !a->place_is_school[a->place[i]])
                cnt[(V_WORKING * CIV_NBOROUGH) * nb + cell]++;
            uint32_t ev = civ_progress(m, &pol, seed, table, a, i, day);
            if (ev) {
                static const int flow_var[CIV_N_FLOW] = {V_NEW_SYMPTOMATIC, V_NEW_HOSPITALISATIONS, V_NEW_DEATHS,
                    V_NEW_RECOVERIES, V_NEW_TESTS, V_NEW_REPORTED_CASES, V_NEW_LAYOFFS, V_NEW_REHIRES};
                for (int f = 0; f < CIV_N_FLOW; f++)
                    if (ev & (1u << f)) cnt[(flow_var[f] * CIV_NBOROUGH) * nb + cell]++;
            }
            int st = a->stage[i];
            cnt[((V_SUSCEPTIBLE + st) * CIV_NBOROUGH) * nb + cell]++;
            if (st != CIV_D) {
                if (a->labour[i] == CIV_EMPLOYED) cnt[(V_EMPLOYED * CIV_NBOROUGH) * nb + cell]++;
                else if (a->labour[i] == CIV_UNEMPLOYED) cnt[(V_UNEMPLOYED * CIV_NBOROUGH) * nb + cell]++;
            }
        }
    }
    /* integer reduction: exact, independent of thread count */
    for (int k = 0; k < nv; k++) {
        int64_t sum = 0;
        for (int t = 0; t < e->nthreads; t++) sum += e->thread_counts[(size_t)t * (size_t)nv + k];
        e->series[k] = (int32_t)sum;
    }
    uint64_t tests = 0;
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        double rep = 0;
        for (int k = 0; k < nb; k++) {
            tests += (uint64_t)e->series[(V_NEW_TESTS * CIV_NBOROUGH + b) * nb + k];
            rep += e->series[(V_NEW_REPORTED_CASES * CIV_NBOROUGH + b) * nb + k];
        }
        e->reported_week[day % 7][b] = rep;
    }
    e->tests_yesterday = tests;
    e->ratio_yesterday = pol.test_capacity_ratio;
    e->day++;
}

int64_t civ_engine_total(const civ_engine *e, int var)
{
    int64_t sum = 0;
    for (int k = 0; k < CIV_NBOROUGH * e->n_out_bands; k++) sum += e->series[var * CIV_NBOROUGH * e->n_out_bands + k];
    return sum;
}
