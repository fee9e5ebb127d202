/* Engine behaviour: conservation of agents, thread-count independence, the
 * analytic SIR final size, and interventions reducing transmission. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/engine/engine.h"
#include "host/util/date.h"
#include "host/workflows/run.h"
#include "models/covid/covid_params.h"
#include "tests/sim_fixture.h"

#define SRC CIVITAS_SOURCE_DIR

static void sim_open(sim *m, const char *study, double scale, long steps, int threads)
{
    civ_error err = {0};
    if (sim_load(m, study, scale, steps, -1, threads, CIV_BACKEND_CPU, &err)) fail_msg("%s", err.msg);
}

/* Writes a study that overrides `base` with `body` (JSON members) to a temp file. */
static char *variant(const char *base, const char *body)
{
    char *path = strdup("/tmp/civitas_test_study_XXXXXX.json");
    int fd = mkstemps(path, 5);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"base\": \"%s\", %s}\n", base, body);
    fclose(f);
    return path;
}

static int64_t run_total_infections(const char *study, double scale, long steps)
{
    sim m;
    sim_open(&m, study, scale, steps, 2);
    int64_t total = m.e.seeded;
    while (m.e.day < m.s.steps) {
        civ_engine_step(&m.e, NULL);
        total += civ_engine_total(&m.e, CIV_VAR_NEW_INFECTIONS);
    }
    sim_close(&m);
    return total;
}

static void test_conservation(void **state)
{
    (void)state;
    sim m;
    sim_open(&m, SRC "/models/covid/nyc2020.json", 0.01, 90, 2);
    const int64_t n = m.pop.n_agents;
    int64_t prev_s = n - m.e.seeded, prev_d = 0;
    while (m.e.day < m.s.steps) {
        civ_engine_step(&m.e, NULL);
        int64_t stocks = 0;
        for (int v = CIV_VAR_SUSCEPTIBLE; v <= CIV_VAR_DEAD; v++) stocks += civ_engine_total(&m.e, v);
        if (stocks != n) fail_msg("day %d: compartments sum to %lld, population %lld", m.e.day - 1, (long long)stocks, (long long)n);
        int64_t s = civ_engine_total(&m.e, CIV_VAR_SUSCEPTIBLE), d = civ_engine_total(&m.e, CIV_VAR_DEAD);
        assert_int_equal(s, prev_s - civ_engine_total(&m.e, CIV_VAR_NEW_INFECTIONS));
        assert_int_equal(d, prev_d + civ_engine_total(&m.e, CIV_VAR_NEW_DEATHS));
        /* no agent is employed and unemployed, and labour counts never exceed the living */
        assert_true(civ_engine_total(&m.e, CIV_VAR_EMPLOYED) + civ_engine_total(&m.e, CIV_VAR_UNEMPLOYED) <= n - d);
        prev_s = s;
        prev_d = d;
    }
    assert_true(prev_s < n - (int64_t)m.e.seeded);   /* something happened */
    sim_close(&m);
}

static void test_thread_independence(void **state)
{
    (void)state;
    const int threads[3] = {1, 2, 4};
    sim m[3];
    for (int k = 0; k < 3; k++) sim_open(&m[k], SRC "/models/covid/nyc2020.json", 0.02, 50, threads[k]);
    const size_t nv = (size_t)CIV_N_VARS * CIV_NBOROUGH * m[0].e.n_out_bands;
    int64_t infections = 0;
    for (int day = 0; day < 50; day++) {
        for (int k = 0; k < 3; k++) civ_engine_step(&m[k].e, NULL);
        for (int k = 1; k < 3; k++)
            if (memcmp(m[0].e.series, m[k].e.series, nv * sizeof(int32_t)) != 0)
                fail_msg("day %d: outputs with %d threads differ from 1 thread", day, threads[k]);
        infections += civ_engine_total(&m[0].e, CIV_VAR_NEW_INFECTIONS);
    }
    const uint32_t n = m[0].pop.n_agents;
    for (int k = 1; k < 3; k++) {
        /* every field the passes change (covid_agents.h) */
#define CIV_SAME_DYNAMIC(type, name, kind, init, snap, doc) \
        if (CIV_AGENT_DYNAMIC_##kind) assert_memory_equal(m[0].e.a.name, m[k].e.a.name, (size_t)n * sizeof(type));
        CIV_AGENT_FIELDS(CIV_SAME_DYNAMIC)
#undef CIV_SAME_DYNAMIC
    }
    assert_true(infections > 1000);   /* the comparison covered a real epidemic */
    for (int k = 0; k < 3; k++) sim_close(&m[k]);
}

/* One fully mixed layer: final size z = 1 - (1 - eps) exp(-R0 z). Agents infected
 * on day t are latent on t (1 day) and infectious from t+2 on (the E->P step is
 * applied at the end of day t+1), so R0 = beta * contacts * (1 - F(2)) where F is
 * the infectiousness profile's gamma CDF. */
static void test_sir_final_size(void **state)
{
    (void)state;
    sim m;
    sim_open(&m, SRC "/tests/data/sir.json", -1, -1, 2);
    while (m.e.day < m.s.steps) civ_engine_step(&m.e, NULL);
    const double n = m.pop.n_agents;
    const double z = 1.0 - civ_engine_total(&m.e, CIV_VAR_SUSCEPTIBLE) / n;
    const double eps = m.e.seeded / n;
    const double r0 = 0.2 * 10 * (1.0 - civ_gamma_cdf_mean_sd(2.0, 5.5, 2.14));
    double zz = 0.5;
    for (int k = 0; k < 500; k++) zz = 1.0 - (1.0 - eps) * exp(-r0 * zz);
    /* finite-size noise: sd ~ sqrt(z(1-z)/n)/(1 - R0(1-z)) ~ 0.002 at n = 170k */
    if (fabs(z - zz) > 0.01) fail_msg("final size %.4f, analytic %.4f (R0 %.4f, n %.0f)", z, zz, r0, n);
    /* and the epidemic is over: nobody infectious at the end */
    assert_int_equal(civ_engine_total(&m.e, CIV_VAR_EXPOSED) + civ_engine_total(&m.e, CIV_VAR_PRESYMPTOMATIC), 0);
    sim_close(&m);
}

static void test_interventions_reduce_transmission(void **state)
{
    (void)state;
    const char *base = SRC "/tests/data/free.json";
    const double scale = 0.02;
    const long steps = 30;   /* growth phase: saturation would mask differences */
    int64_t free_run = run_total_infections(base, scale, steps);

    char *iso = variant(base, "\"behavior\": {\"heuristic\": {"
        "\"isolate_if_symptomatic\": {\"base\": 1, \"min\": 1, \"max\": 1, \"case_sensitivity\": 0},"
        "\"comply_isolation\": {\"base\": 1}}}, \"testing\": {\"seek_probability\": 0.5, \"capacity_per_100k\": 0}");
    char *schools = variant(base, "\"interventions\": [{\"date\": \"2020-03-01\", \"type\": \"school_closure\", \"closed\": true}]");
    char *work = variant(base, "\"interventions\": [{\"date\": \"2020-03-01\", \"type\": \"workplace_closure\", \"closed\": true, \"essential_share\": 0}]");
    char *comm = variant(base, "\"interventions\": [{\"date\": \"2020-03-01\", \"type\": \"community_contacts\", \"factor\": 0.3}]");
    const char *names[4] = {"isolation", "school closure", "workplace closure", "stay-at-home"};
    char *paths[4] = {iso, schools, work, comm};
    for (int k = 0; k < 4; k++) {
        int64_t v = run_total_infections(paths[k], scale, steps);
        print_message("%s: %lld infections by day %ld, no intervention %lld\n", names[k], (long long)v, steps, (long long)free_run);
        if (!(v < 0.9 * free_run))
            fail_msg("%s: %lld infections, no intervention %lld: expected at least 10%% fewer", names[k],
                     (long long)v, (long long)free_run);
        unlink(paths[k]);
        free(paths[k]);
    }
}

/* Severity tables from hand-set IFR / IHR / outside-hospital nodes: the probabilities each course draw
 * uses, and what a whole epidemic then gives (deaths and admissions per infection, share of deaths
 * outside hospital) within binomial noise. */
static void test_severity(void **state)
{
    (void)state;
    /* constant IFR 1 %, IHR 5 %, 20 % of deaths outside hospital, half the infections symptomatic:
       severe = 0.05 + 0.01 x 0.2 = 0.052 per infection -> 0.104 of the symptomatic; given severe:
       dies outside 0.002 / 0.052, dies in hospital 0.008 / 0.052 */
    char *path = variant(SRC "/tests/data/free.json",
        "\"steps\": 200, \"parameters\": {\"p_symptomatic\": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],"
        "\"ifr\": {\"age\": [0, 100], \"value\": [0.01, 0.01]}, \"ihr\": {\"age\": [0], \"value\": [0.05]},"
        "\"death_outside_hospital\": {\"age\": [0], \"value\": [0.2]}}");
    sim m;
    sim_open(&m, path, 0.01, -1, 2);
    const civ_covid_params *p = &m.e.model;
    for (int age = 0; age <= 100; age += 25) {
        assert_float_equal(p->p_severe_given_symptomatic[0][age], 0.104, 1e-6);
        assert_float_equal(p->p_dies_outside_given_severe[0][age], 0.002 / 0.052, 1e-6);
        assert_float_equal(p->p_dies_in_hospital_given_severe[0][age], 0.008 / 0.052, 1e-6);
    }
    int64_t infections = m.e.seeded, admissions = 0, deaths = 0, outside = 0, in_care_home = 0;
    while (m.e.day < m.s.steps) {
        civ_engine_step(&m.e, NULL);
        infections += civ_engine_total(&m.e, CIV_VAR_NEW_INFECTIONS);
        admissions += civ_engine_total(&m.e, CIV_VAR_NEW_HOSPITALISATIONS);
        deaths += civ_engine_total(&m.e, CIV_VAR_NEW_DEATHS);
        outside += civ_engine_total(&m.e, CIV_VAR_NEW_DEATHS_OUTSIDE_HOSPITAL);
        in_care_home += civ_engine_total(&m.e, CIV_VAR_NEW_DEATHS_IN_CARE_HOME);
    }
    /* the flows add up to the agents' final state: deaths outside hospital, and those of care-home residents */
    int64_t dead_outside = 0, dead_in_care_home = 0;
    for (uint32_t i = 0; i < m.e.a.n; i++)
        if (m.e.a.stage[i] == CIV_D && (m.e.a.course[i] & CIV_COURSE_OUTSIDE)) {
            dead_outside++;
            dead_in_care_home += m.e.a.residence[i] == CIV_RES_CARE_HOME;
        }
    assert_int_equal(outside, dead_outside);
    assert_int_equal(in_care_home, dead_in_care_home);
    assert_true(in_care_home > 0 && in_care_home < outside);
    /* every course has ended by day 200 */
    assert_int_equal(civ_engine_total(&m.e, CIV_VAR_SEVERE) + civ_engine_total(&m.e, CIV_VAR_HOSPITALISED), 0);
    printf("severity: %lld infections, %lld admissions (%.3f), %lld deaths (%.4f), %.3f of them outside hospital\n",
           (long long)infections, (long long)admissions, (double)admissions / infections, (long long)deaths,
           (double)deaths / infections, (double)outside / deaths);
    assert_true(infections > 20000);
    /* 4 binomial standard deviations */
    const double n = (double)infections;
    assert_true(fabs(admissions - 0.05 * n) < 4 * sqrt(n * 0.05 * 0.95));
    assert_true(fabs(deaths - 0.01 * n) < 4 * sqrt(n * 0.01 * 0.99));
    assert_true(fabs(outside - 0.2 * deaths) < 4 * sqrt(deaths * 0.2 * 0.8));
    sim_close(&m);
    unlink(path);
    free(path);

    /* log-linear nodes: halfway between 0.1 % and 10 % is 1 % */
    path = variant(SRC "/tests/data/free.json",
        "\"parameters\": {\"p_symptomatic\": [1, 1, 1, 1, 1, 1, 1, 1, 1], \"ifr\": {\"age\": [0, 100], \"value\": [0.001, 0.1]},"
        "\"ihr\": {\"age\": [0], \"value\": [0.2]}, \"death_outside_hospital\": {\"age\": [0], \"value\": [0]}}");
    sim_open(&m, path, 0.001, 5, 1);
    assert_float_equal(p->p_dies_in_hospital_given_severe[0][50] * p->p_severe_given_symptomatic[0][50], 0.01, 1e-6);
    sim_close(&m);
    unlink(path);
    free(path);
}

/* Care homes: residents never mix in the community but always in their home (workplaces closed or not);
 * staff go to the home when workplaces are closed; other workers do not. Residents' severity uses the
 * care-home multiplier and share of deaths in the home (hand-computed with constant nodes). */
static void test_care_home_rules(void **state)
{
    (void)state;
    char *path = variant(SRC "/tests/data/free.json",
        "\"parameters\": {\"p_symptomatic\": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],"
        "\"ifr\": {\"age\": [0], \"value\": [0.02]}, \"ihr\": {\"age\": [0], \"value\": [0.05]},"
        "\"death_outside_hospital\": {\"age\": [0], \"value\": [0.1]}, \"care_home_ifr_multiplier\": 2,"
        "\"care_home_death_outside_hospital\": 0.6}");
    sim m;
    sim_open(&m, path, 0.01, 2, 1);
    const civ_covid_params *p = &m.e.model;
    /* household: severe 0.05 + 0.02 x 0.1 = 0.052; care home: IFR 0.04, severe 0.05 + 0.024 = 0.074 */
    assert_float_equal(p->p_severe_given_symptomatic[CIV_RES_HOUSEHOLD][70], 0.052 / 0.5, 1e-6);
    assert_float_equal(p->p_severe_given_symptomatic[CIV_RES_CARE_HOME][70], 0.074 / 0.5, 1e-6);
    assert_float_equal(p->p_dies_outside_given_severe[CIV_RES_CARE_HOME][70], 0.024 / 0.074, 1e-6);
    assert_float_equal(p->p_dies_in_hospital_given_severe[CIV_RES_CARE_HOME][70], 0.016 / 0.074, 1e-6);

    const civ_agents *a = &m.e.a;
    int64_t resident = -1, staff = -1, worker = -1;
    for (uint32_t i = 0; i < a->n; i++) {
        const int pl = a->place[i];
        if (a->residence[i] == CIV_RES_CARE_HOME && resident < 0) resident = i;
        else if (pl >= 0 && a->place_type[pl] == CIV_PLACE_CARE_HOME && a->labour[i] == 1 && staff < 0) staff = i;
        else if (pl >= 0 && a->place_type[pl] == CIV_PLACE_WORK && a->labour[i] == 1 && worker < 0) worker = i;
    }
    assert_true(resident >= 0 && staff >= 0 && worker >= 0);
    float table[4096 * CIV_N_DECISION];
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) table[k] = 1.0f;   /* everyone goes to work */
    civ_policy pol = m.s.base_policy;
    pol.work_closed = 1;
    pol.essential_share = 0.0f;
    assert_false(civ_out_and_about(a, (uint32_t)resident, 0));
    assert_true(civ_attends_place(1, a, &pol, table, (uint32_t)resident, 0));
    assert_true(civ_attends_place(1, a, &pol, table, (uint32_t)staff, 0));
    assert_false(civ_attends_place(1, a, &pol, table, (uint32_t)worker, 0));
    pol.work_closed = 0;
    assert_true(civ_attends_place(1, a, &pol, table, (uint32_t)worker, 0));
    sim_close(&m);
    unlink(path);
    free(path);
}

/* Writes `text` to a temporary file with the given suffix; returns its malloc'd path. */
static char *temp_file(const char *suffix, const char *text)
{
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/civitas_test_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* Daily inputs from data files, against hand-computed values: the mobility factor floor + (1 - floor) x
 * index (a centred 3-day mean, days above 100 % clamped, missing days skipped, shifted for a
 * counterfactual), and the testing capacity (none before the file, gaps and the end carried forward). */
static void test_daily_inputs(void **state)
{
    (void)state;
    char *mob = temp_file(".csv",
        "date,geo,fips,m50_km,m50_index_pct,samples\n"
        "2020-03-01,BX,36005,1,100,1\n2020-03-02,BX,36005,1,50,1\n2020-03-03,BX,36005,1,,1\n"
        "2020-03-04,BX,36005,1,20,1\n2020-03-05,BX,36005,1,250,1\n2020-03-01,NYS,36,1,7,1\n");
    civ_mobility m = {.file = strdup(mob), .floor = 0.2, .shape = 1.0, .smooth_days = 3, .work = true,
                      .by_borough = true, .shift_days = 0, .shift_until = 100};
    int start;
    assert_true(civ_date_parse("2020-03-01", &start));
    civ_error err = {0};
    assert_int_equal(civ_mobility_load(&m, start, 6, "study.json", "behavior.mobility.file", &err), CIV_OK);
    /* day 0: mean(100 (the first day again), 100, 50) = 83.3 %; day 1: mean(100, 50) = 75 % (03-03 missing);
       day 2: mean(50, 20) = 35 %; day 4: mean(20, 100 (clamped), 100) = 73.3 %; no rows for BK: factor 1 */
    assert_float_equal(m.factor[0][CIV_BX], 0.2 + 0.8 * (250.0 / 3) / 100, 1e-6);
    assert_float_equal(m.factor[1][CIV_BX], 0.2 + 0.8 * 0.75, 1e-6);
    assert_float_equal(m.factor[2][CIV_BX], 0.2 + 0.8 * 0.35, 1e-6);
    assert_float_equal(m.factor[4][CIV_BX], 0.2 + 0.8 * (220.0 / 3) / 100, 1e-6);
    assert_float_equal(m.factor[0][CIV_BK], 1.0, 1e-6);
    free(m.factor);
    m.factor = NULL;
    m.shift_days = -2;   /* two days earlier: day 0 behaves like 03-03 */
    m.shift_until = 1;
    assert_int_equal(civ_mobility_load(&m, start, 6, "study.json", "behavior.mobility.file", &err), CIV_OK);
    assert_float_equal(m.factor[0][CIV_BX], 0.2 + 0.8 * 0.35, 1e-6);
    assert_float_equal(m.factor[2][CIV_BX], 0.2 + 0.8 * 0.35, 1e-6);   /* after shift_until: unshifted */
    civ_mobility_free(&m);

    char *tests = temp_file(".csv", "date,borough,people_tested_molecular,people_positive_molecular\n"
                                    "2020-03-03,NYC,15,1\n2020-03-03,BX,5,0\n2020-03-04,NYC,40,5\n2020-03-06,NYC,70,9\n");
    civ_test_capacity c = {.file = strdup(tests)};
    assert_int_equal(civ_test_capacity_load(&c, start, 8, "study.json", "testing.capacity_file", &err), CIV_OK);
    const double want[8] = {0, 0, 15, 40, 40, 70, 70, 70};
    for (int t = 0; t < 8; t++) assert_float_equal(c.tests[t], want[t], 1e-9);
    civ_test_capacity_free(&c);
    unlink(mob); unlink(tests);
    free(mob); free(tests);
}

/* Access to testing by borough (testing.access_file), against hand-computed shares: people tested negative
 * on days t-half..t+half per borough over the city's, linear between snapshots; a window reaching before
 * the first snapshot counts everything up to it, one reaching past the last is moved back to end there;
 * a downward revision counts as nobody tested, and a window with no negatives at all takes the cumulative
 * counts. Bad rows fail naming the file and line. */
static void test_access_by_borough(void **state)
{
    (void)state;
    /* negatives (tested - positive): 03-05 BX 80, BK 40, MN 40, QN 40, SI 0; 03-09 BX 160, BK 60, MN 40,
       QN 40, SI 40; 03-10 BX 150 (revised down), the others flat after their last snapshot */
    char *csv = temp_file(".csv", "snapshot_date,borough,cum_people_tested,cum_people_positive\n"
                                  "2020-03-05,NYC,1000,100\n2020-03-05,BX,100,20\n2020-03-05,BK,50,10\n"
                                  "2020-03-05,MN,40,0\n2020-03-05,QN,40,0\n2020-03-05,SI,0,0\n"
                                  "2020-03-09,BX,180,20\n2020-03-09,BK,70,10\n2020-03-09,MN,40,0\n"
                                  "2020-03-09,QN,40,0\n2020-03-09,SI,40,0\n2020-03-10,BX,170,20\n");
    int start;
    assert_true(civ_date_parse("2020-03-01", &start));
    civ_error err = {0};
    civ_test_access a = {.file = strdup(csv), .window_days = 3};
    assert_int_equal(civ_test_access_load(&a, start, 12, "study.json", "testing.access_file", &err), CIV_OK);
    const struct { int t; double neg[CIV_NBOROUGH]; } k[] = {
        {0, {80, 40, 40, 40, 0}},     /* 02-29..03-02: before the first snapshot, everything up to it */
        {4, {100, 45, 40, 40, 10}},   /* 03-04..03-06: up to 03-06 (BX 80 -> 160 over four days: 100) */
        {6, {60, 15, 0, 0, 30}},      /* 03-06..03-08: N(03-08) - N(03-05) */
        {9, {30, 10, 0, 0, 20}},      /* 03-09..03-11 moved back to 03-08..03-10: N(03-10) - N(03-07) */
        {11, {30, 10, 0, 0, 20}},     /* and so on after the last snapshot */
    };
    for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
        double sum = 0;
        for (int b = 0; b < CIV_NBOROUGH; b++) sum += k[j].neg[b];
        for (int b = 0; b < CIV_NBOROUGH; b++)
            if (fabs(a.share[k[j].t][b] - k[j].neg[b] / sum) > 1e-6)
                fail_msg("day %d borough %d: share %g, expected %g", k[j].t, b, a.share[k[j].t][b], k[j].neg[b] / sum);
    }
    civ_test_access_free(&a);
    /* a one-day window on 03-10: BX revised down (0), the others flat: no negatives, so the cumulative counts */
    a = (civ_test_access){.file = strdup(csv), .window_days = 1};
    assert_int_equal(civ_test_access_load(&a, start, 12, "study.json", "testing.access_file", &err), CIV_OK);
    const double cum[CIV_NBOROUGH] = {150, 60, 40, 40, 40};
    for (int b = 0; b < CIV_NBOROUGH; b++) assert_float_equal(a.share[9][b], cum[b] / 330, 1e-6);
    civ_test_access_free(&a);
    unlink(csv);
    free(csv);

    /* bad inputs: each names the file and what is wrong */
#define ACCESS_HEAD "snapshot_date,borough,cum_people_tested,cum_people_positive\n"
    const struct { const char *text, *says; } bad[] = {
        {ACCESS_HEAD "2020-03-05,BX,10,20\n", "line 2: cum_people_tested = 10, cum_people_positive = 20"},
        {ACCESS_HEAD "2020-03-05,BX,-1,0\n", "line 2: cum_people_tested = -1"},
        {ACCESS_HEAD "2020-03-05,BX,10,\n", "line 2: cum_people_tested = 10, cum_people_positive = nan"},
        {ACCESS_HEAD "2020-03-32,BX,10,1\n", "line 2: snapshot_date '2020-03-32'"},
        {ACCESS_HEAD "2020-03-05,NYC,10,1\n", "no rows for a borough"},
        {ACCESS_HEAD "2020-03-05,BX,10,1\n2020-03-05,BK,10,1\n2020-03-05,MN,10,1\n2020-03-05,QN,10,1\n",
         "no rows for borough SI"},
        {ACCESS_HEAD "2020-03-05,BX,1,1\n2020-03-05,BK,1,1\n2020-03-05,MN,1,1\n2020-03-05,QN,1,1\n2020-03-05,SI,1,1\n",
         "nobody tested negative up to 2020-03-05"},
        {"snapshot_date,borough,cum_people_positive\n2020-03-05,BX,1\n", "cum_people_tested"},
    };
#undef ACCESS_HEAD
    for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
        const char *says = bad[j].says;
        char *f = temp_file(".csv", bad[j].text);
        a = (civ_test_access){.file = strdup(f), .window_days = 3};
        memset(&err, 0, sizeof err);
        assert_int_equal(civ_test_access_load(&a, start, 4, "study.json", "testing.access_file", &err), CIV_ERR_INPUT);
        if (!strstr(err.msg, says) || !strstr(err.msg, f)) fail_msg("case %zu: '%s' does not say '%s' and the file", j, err.msg, says);
        assert_null(a.share);
        civ_test_access_free(&a);
        unlink(f);
        free(f);
    }
}

/* Testing: a positive test is a case on the day it is taken (results take 10 days here); with limited
 * capacity, more people without COVID-19 seeking tests lower both the cases found and the positivity;
 * capacity left over finds infected people without symptoms by screening. */
static void test_testing(void **state)
{
    (void)state;
    const char *common = "\"steps\": 25, \"behavior\": {\"mobility\": null}, \"parameters\": {\"ihr_scale\": 0, \"ifr_scale\": 0}";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s, \"testing\": {\"seek_probability\": 1, \"result_delay_days\": 10, \"capacity_file\": null,"
             "\"capacity_per_100k\": 0, \"other_seekers_per_100k\": 0}", common);
    char *diag = variant(SRC "/tests/data/free.json", buf);
    sim m;
    sim_open(&m, diag, 0.01, -1, 2);
    int64_t cases_by_day9 = 0;
    while (m.e.day < 10) {
        civ_engine_step(&m.e, NULL);
        cases_by_day9 += civ_engine_total(&m.e, CIV_VAR_NEW_REPORTED_CASES);
    }
    printf("testing: %lld cases on days 0-9 with results due after 10 days\n", (long long)cases_by_day9);
    assert_true(cases_by_day9 > 0);
    sim_close(&m);

    /* capacity 5 tests per 100k a day: the symptomatic seekers exceed it; others share it */
    double positivity[2];
    int64_t cases[2];
    for (int k = 0; k < 2; k++) {
        snprintf(buf, sizeof buf, "%s, \"testing\": {\"seek_probability\": 0.5, \"result_delay_days\": 1,"
                 "\"capacity_file\": null, \"capacity_per_100k\": 5, \"other_seekers_per_100k\": %d}", common, k ? 50 : 0);
        char *path = variant(SRC "/tests/data/free.json", buf);
        sim_open(&m, path, 0.01, -1, 2);
        int64_t tests = 0;
        cases[k] = 0;
        while (m.e.day < m.s.steps) {
            civ_engine_step(&m.e, NULL);
            tests += civ_engine_total(&m.e, CIV_VAR_NEW_TESTS);
            cases[k] += civ_engine_total(&m.e, CIV_VAR_NEW_REPORTED_CASES);
        }
        positivity[k] = (double)cases[k] / (double)tests;
        sim_close(&m);
        unlink(path);
        free(path);
    }
    printf("testing: no other seekers: %lld cases, positivity %.3f; 50 per 100k: %lld cases, positivity %.3f\n",
           (long long)cases[0], positivity[0], (long long)cases[1], positivity[1]);
    assert_true(positivity[1] < 0.8 * positivity[0]);
    assert_true(cases[1] < cases[0]);

    /* screening only: nobody seeks a test, capacity 1 % of the people a day, infected people without
       symptoms twice as likely to be picked: every case comes from screening */
    snprintf(buf, sizeof buf, "%s, \"testing\": {\"seek_probability\": 0, \"result_delay_days\": 1, \"capacity_file\": null,"
             "\"capacity_per_100k\": 1000, \"other_seekers_per_100k\": 0, \"screening_targeting\": 2}", common);
    char *screen = variant(SRC "/tests/data/free.json", buf);
    sim_open(&m, screen, 0.01, -1, 2);
    int64_t found = 0;
    double expected = 0;
    while (m.e.day < m.s.steps) {
        civ_engine_step(&m.e, NULL);
        assert_float_equal(m.e.policy.test_screen_probability, 0.02, 1e-6);
        /* screened after the day's stage changes: the agents presymptomatic or asymptomatic at the end of
           the day, less the few already waiting for a result (so the expectation is slightly high) */
        const double at_risk = (double)(civ_engine_total(&m.e, CIV_VAR_PRESYMPTOMATIC) +
                                        civ_engine_total(&m.e, CIV_VAR_ASYMPTOMATIC));
        expected += at_risk * 0.02 * m.e.model.test_sensitivity;
        found += civ_engine_total(&m.e, CIV_VAR_NEW_REPORTED_CASES);
    }
    printf("testing: screening found %lld cases, about %.0f expected\n", (long long)found, expected);
    assert_true(found > 0.7 * expected && found < 1.1 * expected);
    sim_close(&m);
    unlink(diag); unlink(screen);
    free(diag); free(screen);
}

/* Every agent index is checked against its table when an engine starts (the same check the GPU
 * kernels run with CIVITAS_CUDA_SYNC=1): each corrupted field is named, a sound population passes. */
static void test_index_check(void **state)
{
    (void)state;
    sim m;
    sim_open(&m, SRC "/models/covid/nyc2020.json", 0.002, 5, 1);
    const civ_index_limits lim = {m.pop.n_households, m.pop.n_places, m.pop.n_tracts, (uint32_t)m.e.table.n_archetypes};
    const uint32_t i = m.pop.n_agents / 2;
    for (uint32_t k = 0; k < m.pop.n_agents; k++) assert_int_equal(civ_agent_index_fault(&m.e.a, &lim, k), CIV_FAULT_NONE);
    uint32_t hh = m.pop.household[i];
    m.pop.household[i] = m.pop.n_households;
    assert_int_equal(civ_agent_index_fault(&m.e.a, &lim, i), CIV_FAULT_HOUSEHOLD);
    civ_engine e2;
    civ_error err = {0};
    assert_int_equal(civ_engine_init(&e2, &m.s, &m.pop, 1, &civ_backend_cpu, 0, &err), CIV_ERR_INPUT);
    assert_non_null(strstr(err.msg, "household index"));
    civ_engine_free(&e2);
    m.pop.household[i] = hh;
    int32_t place = m.pop.place[i];
    m.pop.place[i] = (int32_t)m.pop.n_places;
    assert_int_equal(civ_agent_index_fault(&m.e.a, &lim, i), CIV_FAULT_PLACE);
    m.pop.place[i] = -2;
    assert_int_equal(civ_agent_index_fault(&m.e.a, &lim, i), CIV_FAULT_PLACE);
    m.pop.place[i] = -1;   /* no place: valid */
    assert_int_equal(civ_agent_index_fault(&m.e.a, &lim, i), CIV_FAULT_NONE);
    m.pop.place[i] = place;
    uint16_t tract = m.pop.tract[i];
    m.pop.tract[i] = (uint16_t)m.pop.n_tracts;
    assert_int_equal(civ_agent_index_fault(&m.e.a, &lim, i), CIV_FAULT_TRACT);
    m.pop.tract[i] = tract;
    ((uint16_t *)m.e.a.archetype)[i] = (uint16_t)m.e.table.n_archetypes;
    assert_int_equal(civ_agent_index_fault(&m.e.a, &lim, i), CIV_FAULT_ARCHETYPE);
    ((uint16_t *)m.e.a.archetype)[i] = 0;
    m.e.a.stage[i] = CIV_NSTAGE;
    assert_int_equal(civ_agent_index_fault(&m.e.a, &lim, i), CIV_FAULT_STAGE);
    assert_string_equal(civ_index_fault_field(CIV_FAULT_STAGE), "stage");
    sim_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conservation),
        cmocka_unit_test(test_thread_independence),
        cmocka_unit_test(test_sir_final_size),
        cmocka_unit_test(test_interventions_reduce_transmission),
        cmocka_unit_test(test_index_check),
        cmocka_unit_test(test_severity),
        cmocka_unit_test(test_care_home_rules),
        cmocka_unit_test(test_daily_inputs),
        cmocka_unit_test(test_access_by_borough),
        cmocka_unit_test(test_testing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
