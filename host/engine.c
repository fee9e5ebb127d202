#include "engine.h"
#include "trace.h"
#include "run.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef CIVITAS_HAVE_CUDA
#include "cuda/cuda_backend.h"
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

static void finish_day(civ_engine *e);

static inline int nvals(const civ_engine *e) { return V_NVARS * CIV_NBOROUGH * e->n_out_bands; }

static civ_status start_gpu(civ_engine *e, civ_error *err)
{
#ifdef CIVITAS_HAVE_CUDA
    const civ_population *pop = e->pop;
    civ_cuda_setup cs = {e->device, pop->n_agents, pop->n_households, pop->n_places, pop->n_tracts, e->n_out_bands,
                         e->table.n_archetypes, e->study->seed, &e->model,
                         pop->age, pop->borough, pop->tract, e->archetype, pop->household, pop->place,
                         e->place_is_school, pop->place_size, pop->tract_borough, e->tract_count, &e->level_count[0][0],
                         e->out_band_of_age,
                         e->stage, e->course, e->flags, e->labour, e->infected_day, e->next_day, e->test_day,
                         e->iso_until};
    char msg[512] = "";
    e->gpu = civ_cuda_create(&cs, msg, sizeof msg);
    if (!e->gpu) return civ_fail(err, CIV_ERR_UNAVAILABLE, "CUDA backend: %s", msg);
    return CIV_OK;
#else
    (void)e;
    return civ_fail(err, CIV_ERR_UNAVAILABLE, "this build has no CUDA backend (configured without nvcc, or with -DCIVITAS_ENABLE_CUDA=OFF)");
#endif
}

civ_status civ_engine_init(civ_engine *e, const civ_study *s, const civ_population *pop,
                           int nthreads, civ_backend backend, civ_error *err)
{
    return civ_engine_init_on(e, s, pop, nthreads, backend, 0, err);
}

civ_status civ_engine_init_on(civ_engine *e, const civ_study *s, const civ_population *pop,
                              int nthreads, civ_backend backend, int device, civ_error *err)
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
    /* household with children (any member under 18), for the archetype factor */
    uint8_t *hh_children = civ_xcalloc(pop->n_households, 1);
    for (size_t i = 0; i < n; i++) if (pop->age[i] < 18) hh_children[pop->household[i]] = 1;
    e->agents_per_archetype = civ_xcalloc((size_t)e->table.n_archetypes, sizeof(int64_t));
    e->heuristic = civ_xcalloc((size_t)e->table.n_archetypes * CIV_N_DECISION, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        e->archetype[i] = civ_archetype_of(&e->table, pop->age[i], pop->sex[i], pop->borough[i], pop->labour[i],
                                           hh_children[pop->household[i]]);
        e->agents_per_archetype[e->archetype[i]]++;
        e->infected_day[i] = -32000;
        e->next_day[i] = 0x7FFF;
        e->test_day[i] = 0;
        e->iso_until[i] = -32000;
        e->borough_pop[pop->borough[i]]++;
    }
    free(hh_children);
    e->household_sum = civ_xcalloc(pop->n_households, sizeof(uint64_t));
    e->place_sum = civ_xcalloc(pop->n_places ? pop->n_places : 1, sizeof(uint64_t));
    size_t tb = (size_t)pop->n_tracts * CIV_N_PREM;
    e->tract_sum = civ_xcalloc(tb, sizeof(uint64_t));
    e->tract_count = civ_xcalloc(tb, sizeof(uint32_t));
    e->community_pressure = civ_xcalloc(tb, sizeof(float));
    e->mix_rate = civ_xcalloc(tb, sizeof(float));
    civ_mix_prepare(&e->model);
    for (size_t i = 0; i < n; i++)
        e->tract_count[(size_t)pop->tract[i] * CIV_N_PREM + e->model.community_band_of_age[pop->age[i]]]++;
    for (uint32_t t = 0; t < pop->n_tracts; t++)
        for (int k = 0; k < CIV_N_PREM; k++) {
            e->level_count[pop->tract_borough[t]][k] += e->tract_count[(size_t)t * CIV_N_PREM + k];
            e->level_count[CIV_NBOROUGH][k] += e->tract_count[(size_t)t * CIV_N_PREM + k];
        }

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
    e->backend = backend;
    e->device = device;
    if (backend == CIV_BACKEND_CUDA) return start_gpu(e, err);
    return CIV_OK;
}

civ_status civ_engine_start_bridge(civ_engine *e, int quiet, civ_error *err)
{
    if (e->study->behavior_mode == CIV_BEHAVIOR_HEURISTIC) return CIV_OK;
    e->bridge = civ_xcalloc(1, sizeof *e->bridge);
    civ_status st = civ_bridge_init(e->bridge, e->study, &e->table, e->agents_per_archetype, quiet, err);
    if (st) { civ_bridge_free(e->bridge); free(e->bridge); e->bridge = NULL; }
    else e->bridge->cancel = &civ_interrupted;   /* Ctrl-C aborts a refresh's requests, not only the next day */
    return st;
}

civ_status civ_engine_sync_agents(civ_engine *e, civ_error *err)
{
#ifdef CIVITAS_HAVE_CUDA
    if (e->gpu) {
        char msg[512] = "";
        if (civ_cuda_download(e->gpu, e->stage, e->course, e->flags, e->labour, e->infected_day, e->next_day,
                              e->test_day, e->iso_until, msg, sizeof msg))
            return civ_fail(err, CIV_ERR_RUNTIME, "CUDA backend: %s", msg);
    }
#else
    (void)e; (void)err;
#endif
    return CIV_OK;
}

void civ_engine_free(civ_engine *e)
{
#ifdef CIVITAS_HAVE_CUDA
    if (e->gpu) civ_cuda_destroy(e->gpu);
#endif
    if (e->bridge) { civ_bridge_free(e->bridge); free(e->bridge); }
    free(e->agents_per_archetype);
    free(e->heuristic);
    civ_table_free(&e->table);
    free(e->archetype); free(e->stage); free(e->course); free(e->flags); free(e->today);
    free(e->labour); free(e->infected_day); free(e->next_day); free(e->test_day); free(e->iso_until);
    free(e->place_is_school); free(e->household_sum); free(e->place_sum); free(e->tract_sum);
    free(e->tract_count); free(e->community_pressure); free(e->mix_rate); free(e->out_band_of_age); free(e->series);
    free(e->thread_counts);
    memset(e, 0, sizeof *e);
}

/* The situation the behaviour sources react to: the simulation's own reported
 * cases (last week and 4-week mean per borough) and unemployment. */
static void situation(const civ_engine *e, civ_situation *sit)
{
    const int nb = e->n_out_bands;
    memset(sit, 0, sizeof *sit);
    sit->day = e->day;
    sit->start_day = e->study->start_day;
    sit->scale = e->pop->scale > 0 ? e->pop->scale : 1.0;
    sit->policy = &e->policy;
    /* employed / unemployed per borough: the last day's series, or the population before day 0 */
    double emp[CIV_NBOROUGH] = {0}, unemp[CIV_NBOROUGH] = {0};
    if (e->day == 0) {
        for (uint32_t i = 0; i < e->pop->n_agents; i++) {
            emp[e->pop->borough[i]] += e->labour[i] == CIV_EMPLOYED;
            unemp[e->pop->borough[i]] += e->labour[i] == CIV_UNEMPLOYED;
        }
    } else {
        for (int b = 0; b < CIV_NBOROUGH; b++)
            for (int k = 0; k < nb; k++) {
                emp[b] += e->series[(V_EMPLOYED * CIV_NBOROUGH + b) * nb + k];
                unemp[b] += e->series[(V_UNEMPLOYED * CIV_NBOROUGH + b) * nb + k];
            }
    }
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        for (int d = 0; d < 28; d++) {
            if (d < 7) sit->cases_week[b] += e->reported[(e->day - 1 - d + 28 * 64) % 28][b];
            sit->cases_4wk_weekly[b] += e->reported[d][b] / 4.0;
        }
        sit->unemployment_pct[b] = emp[b] + unemp[b] > 0 ? 100.0 * unemp[b] / (emp[b] + unemp[b]) : 0;
        sit->population[b] = (double)e->borough_pop[b];
    }
}

static civ_status refresh_table(civ_engine *e, double comply_override, civ_error *err)
{
    civ_situation sit;
    situation(e, &sit);
    double per100k[CIV_NBOROUGH];
    for (int b = 0; b < CIV_NBOROUGH; b++) per100k[b] = sit.population[b] > 0 ? sit.cases_week[b] * 1e5 / sit.population[b] : 0;
    civ_table_heuristic(&e->table, e->study, per100k, comply_override);
    if (!e->bridge) return CIV_OK;
    memcpy(e->heuristic, e->table.p, sizeof(float) * (size_t)e->table.n_archetypes * CIV_N_DECISION);
    return civ_bridge_refresh(e->bridge, &sit, e->heuristic, err);
}

/* Community pressure per tract x contactor band (see civ_mix_rate in covid_step.h):
 * the rates, their block exponent, then the exact fixed-point product. */
static void community_pressure(civ_engine *e, const civ_groups *g)
{
    const civ_population *pop = e->pop;
    const civ_covid_params *m = &e->model;
    const uint32_t nt = pop->n_tracts;
    /* level totals in one pass (exact integers), then rates: brate[b] per borough, brate[CIV_NBOROUGH] city */
    uint64_t total[CIV_N_LEVEL_SUMS][CIV_N_PREM] = {{0}};
    for (uint32_t t = 0; t < nt; t++)
        for (int k = 0; k < CIV_N_PREM; k++) {
            total[pop->tract_borough[t]][k] += g->tract_sum[(size_t)t * CIV_N_PREM + k];
            total[CIV_NBOROUGH][k] += g->tract_sum[(size_t)t * CIV_N_PREM + k];
        }
    float brate[CIV_N_LEVEL_SUMS][CIV_N_PREM];
    for (int l = 0; l < CIV_N_LEVEL_SUMS; l++)
        for (int k = 0; k < CIV_N_PREM; k++) brate[l][k] = civ_rate_from_totals(total[l][k], e->level_count[l][k]);
    const float *crate = brate[CIV_NBOROUGH];
    float max = 0.0f;
    #pragma omp parallel for schedule(static) num_threads(e->nthreads) reduction(max : max)
    for (uint32_t t = 0; t < nt; t++)
        for (int k = 0; k < CIV_N_PREM; k++) {
            const size_t j = (size_t)t * CIV_N_PREM + k;
            float r = civ_mix_rate(m, g->tract_sum[j], e->tract_count[j], brate[pop->tract_borough[t]][k], crate[k]);
            e->mix_rate[j] = r;
            if (r > max) max = r;
        }
    const int shift = civ_mix_shift(max, CIV_MIX_RATE_BITS);
    const double p = civ_pow2(shift);
    const float scale = m->w_community * e->policy.community_factor;
    #pragma omp parallel for schedule(static) num_threads(e->nthreads)
    for (uint32_t t = 0; t < nt; t++) {
        int64_t rq[CIV_N_PREM];
        for (int k = 0; k < CIV_N_PREM; k++) rq[k] = (int64_t)civ_mix_quantize(e->mix_rate[(size_t)t * CIV_N_PREM + k], p);
        for (int a = 0; a < CIV_N_PREM; a++) {
            int64_t acc = 0;
            for (int k = 0; k < CIV_N_PREM; k++) acc += (int64_t)m->community_q[a][k] * rq[k];
            e->community_pressure[(size_t)t * CIV_N_PREM + a] =
                civ_mix_pressure((double)acc, m->community_q_shift + shift, scale);
        }
    }
}

int civ_engine_refreshes_on(const civ_engine *e, int day) { return day % e->study->refresh_days == 0; }

civ_status civ_engine_launch(civ_engine *e, civ_error *err)
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
    e->launched_refresh = civ_engine_refreshes_on(e, day);
    if (e->launched_refresh) {
        civ_trace_push("civitas: decision table refresh");
        civ_status st = refresh_table(e, comply_override, err);
        civ_trace_pop();
        if (st) return st;
    }
    const civ_policy pol = e->policy;
    const float *table = e->table.p;
    e->launched = 1;
#ifdef CIVITAS_HAVE_CUDA
    if (e->gpu) {
        char msg[512] = "";
        if ((e->launched_refresh && civ_cuda_upload_table(e->gpu, table, msg, sizeof msg)) ||
            civ_cuda_launch(e->gpu, &pol, day, msg, sizeof msg))
            return civ_fail(err, CIV_ERR_RUNTIME, "CUDA backend, day %d: %s", day, msg);
        return CIV_OK;
    }
#endif

    memset(e->household_sum, 0, pop->n_households * sizeof(uint64_t));
    memset(e->place_sum, 0, (pop->n_places ? pop->n_places : 1) * sizeof(uint64_t));
    memset(e->tract_sum, 0, (size_t)pop->n_tracts * CIV_N_PREM * sizeof(uint64_t));
    memset(e->thread_counts, 0, (size_t)e->nthreads * (size_t)nv * sizeof(int64_t));
    const civ_groups g = {e->household_sum, e->place_sum, e->tract_sum, e->community_pressure, e->today};

    #pragma omp parallel for schedule(static) num_threads(e->nthreads)
    for (uint32_t i = 0; i < n; i++) civ_pass_attend(m, &pol, seed, table, a, &g, i, day);

    community_pressure(e, &g);

    #pragma omp parallel num_threads(e->nthreads)
    {
#ifdef _OPENMP
        int tid = omp_get_thread_num();
#else
        int tid = 0;
#endif
        int64_t *cnt = e->thread_counts + (size_t)tid * (size_t)nv;
#define CIV_CPU_INC(idx) cnt[idx]++
        #pragma omp for schedule(static)
        for (uint32_t i = 0; i < n; i++) {
            civ_tally r = civ_pass_update(m, &pol, seed, table, a, &g, i, day);
            const int cell = a->borough[i] * nb + e->out_band_of_age[a->age[i]];
            CIV_TALLY_EACH(r, cell, nb, CIV_CPU_INC);
        }
#undef CIV_CPU_INC
    }
    return CIV_OK;
}

civ_status civ_engine_complete(civ_engine *e, civ_error *err)
{
    if (!e->launched) return civ_fail(err, CIV_ERR_RUNTIME, "engine: no day launched (internal error)");
    e->launched = 0;
#ifdef CIVITAS_HAVE_CUDA
    if (e->gpu) {
        char msg[512] = "";
        if (civ_cuda_complete(e->gpu, e->series, msg, sizeof msg))
            return civ_fail(err, CIV_ERR_RUNTIME, "CUDA backend, day %d: %s", e->day, msg);
    } else
#endif
    {
        /* integer reduction: exact, independent of thread count */
        const int nv = nvals(e);
        for (int k = 0; k < nv; k++) {
            int64_t sum = 0;
            for (int t = 0; t < e->nthreads; t++) sum += e->thread_counts[(size_t)t * (size_t)nv + k];
            e->series[k] = (int32_t)sum;
        }
    }
    e->table_refreshed = e->launched_refresh;
    finish_day(e);
    return CIV_OK;
}

civ_status civ_engine_step(civ_engine *e, civ_error *err)
{
    civ_status st = civ_engine_launch(e, err);
    return st ? st : civ_engine_complete(e, err);
}

/* Host bookkeeping after a day's series are known (shared by every backend). */
static void finish_day(civ_engine *e)
{
    const int nb = e->n_out_bands;
    uint64_t tests = 0;
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        double rep = 0;
        for (int k = 0; k < nb; k++) {
            tests += (uint64_t)e->series[(V_NEW_TESTS * CIV_NBOROUGH + b) * nb + k];
            rep += e->series[(V_NEW_REPORTED_CASES * CIV_NBOROUGH + b) * nb + k];
        }
        e->reported[e->day % 28][b] = rep;
    }
    e->tests_yesterday = tests;
    e->ratio_yesterday = e->policy.test_capacity_ratio;
    e->day++;
}

int64_t civ_engine_total(const civ_engine *e, int var)
{
    int64_t sum = 0;
    for (int k = 0; k < CIV_NBOROUGH * e->n_out_bands; k++) sum += e->series[var * CIV_NBOROUGH * e->n_out_bands + k];
    return sum;
}
