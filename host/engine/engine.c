#include "host/engine/engine.h"

#include <stdlib.h>
#include <string.h>

#include "host/core/trace.h"

const char *const civ_var_name[CIV_N_VARS] = {
    "susceptible", "exposed", "presymptomatic", "asymptomatic", "mild", "severe",
    "hospitalised", "recovered", "dead",
    "new_infections", "new_symptomatic", "new_hospitalisations", "new_deaths", "new_deaths_outside_hospital",
    "new_deaths_in_care_home", "new_recoveries",
    "new_test_seekers", "new_tests", "new_reported_cases", "new_layoffs", "new_rehires",
    "isolating", "working", "employed", "unemployed"};

const char *const civ_var_description[CIV_N_VARS] = {
    "agents susceptible at end of day", "agents infected, not yet infectious (latent)",
    "infectious, symptoms to come", "infectious, never symptomatic", "symptomatic, mild course",
    "symptomatic, severe course, not yet in hospital", "in hospital", "recovered", "dead (cumulative)",
    "infections during the day", "symptom onsets during the day", "hospital admissions during the day",
    "deaths during the day", "deaths during the day without a hospital admission (at home or in a care home)",
    "care-home residents' deaths in the home during the day (without a hospital admission)",
    "recoveries during the day",
    "symptomatic infected agents seeking a test during the day (tested or turned away for lack of capacity)",
    "tests taken during the day: symptomatic seekers, hospital admissions, people without COVID-19 and screening",
    "positive tests taken during the day (reported cases, by diagnosis date)", "workers laid off during the day",
    "laid-off workers rehired during the day",
    "agents isolating (symptoms or positive test) at start of day",
    "employed agents who went to their workplace during the day",
    "alive agents employed at end of day", "alive agents unemployed (in labour force) at end of day"};

size_t civ_engine_bytes_per_agent(void) { return CIV_AGENT_BYTES; }

static void finish_day(civ_engine *e);


/* The engine-owned agent fields (covid_agents.h): allocated and set to their initial values; the
 * population's attributes are borrowed. */
static void attach_agents(civ_agents *a, const civ_population *pop)
{
    const uint32_t n = pop->n_agents;
    a->n = n;
#define CIV_ATTACH(type, name, kind, init, snap, doc) attach_##kind(type, name, init)
#define attach_POP(type, name, init) a->name = pop->name;
#define attach_OWNED(type, name, init)                                            \
    {                                                                             \
        type *v = civ_xmalloc((size_t)(n ? n : 1) * sizeof(type));                \
        for (uint32_t i = 0; i < n; i++) v[i] = (type)(init);                     \
        a->name = v;                                                              \
    }
#define attach_STATIC attach_OWNED
#define attach_STATE attach_OWNED
#define attach_SCRATCH attach_OWNED
    CIV_AGENT_FIELDS(CIV_ATTACH)
#undef attach_POP
#undef attach_OWNED
#undef attach_STATIC
#undef attach_STATE
#undef attach_SCRATCH
#undef CIV_ATTACH
}

static void free_agents(civ_agents *a)
{
#define CIV_FREE_OWNED(type, name, kind, init, snap, doc) \
    if (CIV_AGENT_OWNED_##kind) free((void *)a->name);
    CIV_AGENT_FIELDS(CIV_FREE_OWNED)
#undef CIV_FREE_OWNED
}

civ_status civ_engine_init(civ_engine *e, const civ_study *s, const civ_population *pop, int threads,
                           const civ_backend_ops *backend, int device, civ_error *err)
{
    memset(e, 0, sizeof *e);
    e->study = s;
    e->pop = pop;
    e->model = s->model;
    e->threads = threads > 0 ? threads : 1;
    e->backend = backend;
    e->device = device;
    const size_t n = pop->n_agents;
    if (s->steps + 64 > 32000)
        return civ_fail(err, CIV_ERR_INPUT, "%s: steps = %d is too long (day counters are 16-bit)", s->study_file, s->steps);

    civ_table_init(&e->table, s);
    civ_agents *a = &e->a;
    attach_agents(a, pop);
    a->place_type = pop->place_type;
    a->place_size = pop->place_size;
    /* household with children (any member under 18), for the archetype factor */
    uint8_t *hh_children = civ_xcalloc(pop->n_households, 1);
    for (size_t i = 0; i < n; i++) if (pop->age[i] < 18) hh_children[pop->household[i]] = 1;
    e->agents_per_archetype = civ_xcalloc((size_t)e->table.n_archetypes, sizeof(int64_t));
    e->heuristic = civ_xcalloc((size_t)e->table.n_archetypes * CIV_N_DECISION, sizeof(float));
    uint16_t *archetype = (uint16_t *)a->archetype;   /* STATIC: set here, read-only in the passes */
    uint16_t *essential_rank = (uint16_t *)a->essential_rank;
    for (size_t i = 0; i < n; i++) essential_rank[i] = civ_essential_rank(s->seed, (uint32_t)i);
    uint64_t by_ethnicity[CIV_N_ETHNICITY] = {0};   /* household residents per group */
    for (size_t i = 0; i < n; i++) {
        archetype[i] = civ_archetype_of(&e->table, pop->age[i], pop->sex[i], pop->borough[i], pop->labour[i],
                                        hh_children[pop->household[i]]);
        e->agents_per_archetype[archetype[i]]++;
        e->borough_pop[pop->borough[i]]++;
        if (pop->residence[i] == CIV_RES_HOUSEHOLD) by_ethnicity[pop->ethnicity[i]]++;
    }
    free(hh_children);
    civ_exposure_prepare(&e->model, by_ethnicity);
    const size_t tract_bands = (size_t)pop->n_tracts * CIV_N_PREM;
    e->tract_count = civ_xcalloc(tract_bands, sizeof(uint32_t));
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
    e->series = civ_xcalloc((size_t)CIV_N_VARS * CIV_NBOROUGH * (size_t)e->n_out_bands, sizeof(int32_t));

    const civ_index_limits lim = {pop->n_households, pop->n_places, pop->n_tracts, (uint32_t)e->table.n_archetypes};
    for (uint32_t i = 0; i < pop->n_agents; i++) {
        const int fault = civ_agent_index_fault(a, &lim, i);
        if (fault != CIV_FAULT_NONE)
            return civ_fail(err, CIV_ERR_INPUT, "population: agent %u has a %s index outside its table", i,
                            civ_index_fault_field(fault));
    }

    /* initial infections: distinct random agents, infected over the 7 days before day 0 */
    uint64_t want = (uint64_t)(s->initial_per_100k * (double)n / 1e5 + 0.5);
    if (s->initial_per_100k > 0 && want == 0) want = 1;
    if (want > n) want = n;
    for (uint32_t j = 0; e->seeded < want && j < 20 * want + 1000; j++) {
        uint32_t i = (uint32_t)(((uint64_t)civ_rng(s->seed, 0, j, CIV_RNG_SEED_INFECTION).v[0] * n) >> 32);
        if (a->stage[i] != CIV_S) continue;
        civ_infect(&e->model, s->seed, a, i, -(int)(e->seeded % 7));
        e->seeded++;
    }

    const civ_world w = {
        .model = &e->model, .seed = s->seed, .agents = e->a, .n_households = pop->n_households,
        .n_places = pop->n_places, .n_tracts = pop->n_tracts, .n_archetypes = e->table.n_archetypes,
        .n_out_bands = e->n_out_bands, .tract_borough = pop->tract_borough, .tract_count = e->tract_count,
        .level_count = &e->level_count[0][0], .out_band_of_age = e->out_band_of_age, .threads = e->threads,
        .device = device};
    return backend->create(&w, &e->backend_state, err);
}

civ_status civ_engine_start_bridge(civ_engine *e, int quiet, const volatile sig_atomic_t *cancel, civ_error *err)
{
    if (e->study->behavior_mode == CIV_BEHAVIOR_HEURISTIC) return CIV_OK;
    e->bridge = civ_xcalloc(1, sizeof *e->bridge);
    civ_status st = civ_bridge_init(e->bridge, e->study, &e->table, e->agents_per_archetype, quiet, err);
    if (st) { civ_bridge_free(e->bridge); free(e->bridge); e->bridge = NULL; }
    else e->bridge->cancel = cancel;   /* Ctrl-C aborts a refresh's requests, not only the next day */
    return st;
}

civ_status civ_engine_sync_agents(civ_engine *e, civ_error *err)
{
    return e->backend->download_agents(e->backend_state, &e->a, err);
}

civ_status civ_engine_pressure(civ_engine *e, float *pressure, civ_error *err)
{
    return e->backend->download_pressure(e->backend_state, pressure, err);
}

void civ_engine_free(civ_engine *e)
{
    if (e->backend && e->backend_state) e->backend->destroy(e->backend_state);
    if (e->bridge) { civ_bridge_free(e->bridge); free(e->bridge); }
    free(e->agents_per_archetype);
    free(e->heuristic);
    civ_table_free(&e->table);
    free_agents(&e->a);
    free(e->tract_count); free(e->out_band_of_age); free(e->series);
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
            emp[e->pop->borough[i]] += e->a.labour[i] == CIV_EMPLOYED;
            unemp[e->pop->borough[i]] += e->a.labour[i] == CIV_UNEMPLOYED;
        }
    } else {
        for (int b = 0; b < CIV_NBOROUGH; b++)
            for (int k = 0; k < nb; k++) {
                emp[b] += e->series[(CIV_VAR_EMPLOYED * CIV_NBOROUGH + b) * nb + k];
                unemp[b] += e->series[(CIV_VAR_UNEMPLOYED * CIV_NBOROUGH + b) * nb + k];
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

int civ_engine_refreshes_on(const civ_engine *e, int day) { return day % e->study->refresh_days == 0; }

/* The day's tests shared out: symptomatic seekers (as many as sought one yesterday) and people without
 * COVID-19 seeking one get the same share of the capacity; capacity left over goes to screening, which finds
 * infected agents without symptoms screening_targeting times as often as anyone else. A borough's residents
 * seek and are screened at its access times those rates: its share of the city's negative tests over its
 * share of residents (1 everywhere without testing.access_file; the residents' mean is 1, so the city's
 * demand from people without COVID-19 and its screening tests are the same either way). Sets the policy's
 * capacity ratio, screening probability and access, and the host's share of the day's tests (e->host_tests). */
static void plan_testing(civ_engine *e, const civ_testing_supply *sup)
{
    const double n = e->pop->n_agents, scale = e->pop->scale > 0 ? e->pop->scale : 1.0;
    for (int b = 0; b < CIV_NBOROUGH; b++)
        e->policy.test_access[b] = sup->access_share && e->borough_pop[b] > 0
                                 ? (float)(sup->access_share[b] * n / (double)e->borough_pop[b]) : 1.0f;
    const double capacity = sup->tests >= 0 ? sup->tests * scale
                          : sup->capacity_per_100k > 0 ? sup->capacity_per_100k * n / 1e5 : -1;
    const double seekers = (double)e->seekers_yesterday, others = sup->other_per_100k * n / 1e5;
    civ_policy *pol = &e->policy;
    if (capacity < 0) {   /* unlimited: everyone who seeks a test gets one, no screening */
        pol->test_capacity_ratio = 1.0f;
        e->host_tests = others;
        return;
    }
    const double demand = seekers + others;
    const double ratio = demand > capacity ? capacity / demand : capacity > 0 ? 1.0 : 0.0;
    const double left = capacity - ratio * demand;
    pol->test_capacity_ratio = (float)ratio;
    const double screen = left > 0 ? e->study->screening_targeting * left / n : 0.0;
    pol->test_screen_probability = (float)(screen < 1 ? screen : 1);
    e->host_tests = ratio * others + (left > 0 ? left : 0);
}

civ_status civ_engine_launch(civ_engine *e, civ_error *err)
{
    const int day = e->day;
    double comply_override;
    civ_testing_supply supply;
    civ_study_policy(e->study, day, &e->policy, &comply_override, &supply);
    plan_testing(e, &supply);
    e->launched_refresh = civ_engine_refreshes_on(e, day);
    if (e->launched_refresh) {
        civ_trace_push("civitas: decision table refresh");
        civ_status st = refresh_table(e, comply_override, err);
        civ_trace_pop();
        if (st || (st = e->backend->upload_table(e->backend_state, e->table.p, err))) return st;
    }
    civ_status st = e->backend->launch_day(e->backend_state, &e->policy, day, err);
    if (st) return st;
    e->launched = 1;
    return CIV_OK;
}

civ_status civ_engine_complete(civ_engine *e, civ_error *err)
{
    if (!e->launched) return civ_fail(err, CIV_ERR_RUNTIME, "engine: no day launched (internal error)");
    e->launched = 0;
    civ_status st = e->backend->complete_day(e->backend_state, e->series, err);
    if (st) return st;
    e->table_refreshed = e->launched_refresh;
    finish_day(e);
    return CIV_OK;
}

civ_status civ_engine_step(civ_engine *e, civ_error *err)
{
    civ_status st = civ_engine_launch(e, err);
    return st ? st : civ_engine_complete(e, err);
}

/* Adds `count` tests to the day's series, spread over boroughs and age bands in proportion to the living
 * agents times their borough's access to testing (largest remainders; the same integers on every backend). */
static void add_host_tests(civ_engine *e, double count)
{
    const int nb = e->n_out_bands, cells = CIV_NBOROUGH * nb;
    const int64_t total = (int64_t)(count + 0.5);
    if (total <= 0) return;
    int64_t given = 0;
    double weight[CIV_NBOROUGH * CIV_MAX_BANDS], n = 0, rest[CIV_NBOROUGH * CIV_MAX_BANDS];
    for (int c = 0; c < cells; c++) {
        int64_t alive = 0;
        for (int v = CIV_VAR_SUSCEPTIBLE; v < CIV_VAR_DEAD; v++) alive += e->series[v * cells + c];
        weight[c] = (double)alive * (double)e->policy.test_access[c / nb];
        n += weight[c];
    }
    if (n <= 0) return;
    int32_t *tests = e->series + CIV_VAR_NEW_TESTS * cells;
    for (int c = 0; c < cells; c++) {
        const double x = (double)total * weight[c] / n;
        tests[c] += (int32_t)x;
        given += (int64_t)x;
        rest[c] = x - (int64_t)x;
    }
    for (; given < total; given++) {   /* the largest remainders, lowest index first on ties */
        int best = 0;
        for (int c = 1; c < cells; c++) if (rest[c] > rest[best]) best = c;
        tests[best]++;
        rest[best] = -1;
    }
}

/* Host bookkeeping after a day's series are known (shared by every backend). */
static void finish_day(civ_engine *e)
{
    const int nb = e->n_out_bands;
    add_host_tests(e, e->host_tests);
    int64_t seekers = 0;
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        double rep = 0;
        for (int k = 0; k < nb; k++) {
            seekers += e->series[(CIV_VAR_NEW_TEST_SEEKERS * CIV_NBOROUGH + b) * nb + k];
            rep += e->series[(CIV_VAR_NEW_REPORTED_CASES * CIV_NBOROUGH + b) * nb + k];
        }
        e->reported[e->day % 28][b] = rep;
    }
    e->seekers_yesterday = seekers;
    e->day++;
}

int64_t civ_engine_total(const civ_engine *e, int var)
{
    int64_t sum = 0;
    for (int k = 0; k < CIV_NBOROUGH * e->n_out_bands; k++) sum += e->series[var * CIV_NBOROUGH * e->n_out_bands + k];
    return sum;
}
