/* The per-agent rules of models/covid/covid_model.h on hand-built cohorts of
 * agents, against expectations computed here from the parameter file and the
 * rules' documented meaning:
 *   - the infection hazard, term by term;
 *   - the course drawn at infection (absolute probabilities of params.json) and
 *     the whole-day latent period (round(X), X lognormal);
 *   - the isolation decision at symptom onset, the admission test;
 *   - testing: seek x capacity, sensitivity, result after the delay, reported
 *     on the result day, isolation for isolation_days after a positive result;
 *   - layoffs of non-essential workers while workplaces are closed, rehiring
 *     once they reopen;
 *   - the day's policy from a study (intervention dates, capacity per 100k,
 *     seek scale, transmission after the stay-at-home order).
 * and which agents mix where (closures, essential workers, isolation,
 * hospital), what an infectious agent adds to its groups, and its
 * infectiousness (severity factor x gamma profile, integrated here).
 * Probabilities are checked with binomial bounds of 5 standard deviations:
 * a correct rule fails with odds below 1e-6 per check, while the mistakes they
 * guard against (a term dropped, a comparison reversed) move the counts by far
 * more. The draws are deterministic, so a run never flips between pass and fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/population/population.h"
#include "host/study/study.h"
#include "models/covid/covid_step.h"

#define SRC CIVITAS_SOURCE_DIR
#define N 100000
#define NEVER 0x7FFF

/* |k - n p| <= 5 sd (+1 for rounding); exact when p is 0 or 1 */
static void check_binomial(const char *what, long k, long n, double p)
{
    double mean = n * p, sd = sqrt(n * p * (1 - p));
    if (fabs((double)k - mean) > 5 * sd + 1)
        fail_msg("%s: %ld of %ld, expected %.1f +- %.1f (p = %.4f)", what, k, n, mean, 5 * sd + 1, p);
}

/* A cohort of n agents, one per household, all of one age; place 0 is a
 * workplace of n people, place 1 a school. */
typedef struct {
    civ_agents a;
    uint8_t age[N], borough[N], stage[N], course[N], flags[N], labour[N];
    uint16_t tract[N], archetype[N];
    uint32_t household[N], place_size[2];
    int32_t place[N];
    uint8_t place_is_school[2];
    int16_t infected_day[N], next_day[N], test_day[N], iso_until[N];
} cohort;

static cohort *cohort_new(int age, int stage, uint8_t course)
{
    cohort *c = calloc(1, sizeof *c);
    for (uint32_t i = 0; i < N; i++) {
        c->age[i] = (uint8_t)age;
        c->household[i] = i;
        c->place[i] = CIV_NO_PLACE;
        c->stage[i] = (uint8_t)stage;
        c->course[i] = course;
        c->infected_day[i] = -10;
        c->next_day[i] = NEVER;
        c->iso_until[i] = -32000;
    }
    c->place_is_school[0] = 0;
    c->place_is_school[1] = 1;
    c->place_size[0] = c->place_size[1] = N;
    civ_agents *a = &c->a;
    a->n = N;
    a->age = c->age; a->borough = c->borough; a->tract = c->tract; a->archetype = c->archetype;
    a->household = c->household; a->place = c->place; a->place_is_school = c->place_is_school;
    a->place_size = c->place_size; a->stage = c->stage; a->course = c->course; a->flags = c->flags;
    a->labour = c->labour; a->infected_day = c->infected_day; a->next_day = c->next_day;
    a->test_day = c->test_day; a->iso_until = c->iso_until;
    return c;
}

/* The model of the default study (params.json, Prem matrices) and its baseline policy. */
static civ_study *load_study(void)
{
    civ_study *s = calloc(1, sizeof *s);
    civ_study_overrides ov = {-1, -1, -1, NULL, NULL, NULL, NULL, true};
    civ_error err = {0};
    if (civ_study_load(SRC "/models/covid/nyc2020.json", &ov, s, &err)) fail_msg("%s", err.msg);
    return s;
}

static void free_study(civ_study *s)
{
    civ_study_free(s);
    free(s);
}

/* one decision-table row for archetype 0 */
static void set_row(float *row, float isolate, float work, float comply)
{
    row[CIV_DEC_ISOLATE_IF_SYMPTOMATIC] = isolate;
    row[CIV_DEC_GO_TO_WORK] = work;
    row[CIV_DEC_COMPLY_ISOLATION] = comply;
}

/* ---- transmission ------------------------------------------------------------- */

static void test_hazard_term_by_term(void **state)
{
    (void)state;
    civ_study *s = load_study();
    const civ_covid_params *m = &s->model;
    cohort *c = cohort_new(37, CIV_S, 0);
    civ_policy pol = s->base_policy;
    pol.beta = 0.7f;
    c->place_size[0] = 11;   /* 10 others at the workplace */
    c->place_size[1] = 26;   /* 25 others at school */
    const double one = 65536.0, hs = 3 * one, ps = 5 * one, comm = 0.25 * one;
    const double susc = 1.03;   /* params.json relative_susceptibility, ages 30-39 */
    const double work = 1.0 * 1.0 * m->contacts_work[37 / 5], school = 1.0 * m->contacts_school[37 / 5];
    /* household weight 2, school and work weights 1 (params.json) */
    struct { int place, attends; double terms; } cases[] = {
        {0, 1, 2.0 * hs / one + work * (ps / one) / 10 + comm / one},
        {1, 1, 2.0 * hs / one + school * (ps / one) / 25 + comm / one},
        {0, 0, 2.0 * hs / one + comm / one},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        c->place[0] = cases[k].place;
        double want = 0.7 * susc * cases[k].terms;
        float got = civ_infection_hazard(m, &pol, &c->a, 0, cases[k].attends, (uint64_t)hs, (uint64_t)ps, (float)comm);
        if (fabs(got - want) > 1e-5 * want) fail_msg("case %zu: hazard %.7g, expected %.7g", k, got, want);
    }
    /* each term on its own */
    c->place[0] = 0;
    assert_true(fabs(civ_infection_hazard(m, &pol, &c->a, 0, 1, 0, 0, (float)comm) - 0.7 * susc * 0.25) < 1e-6);
    assert_true(fabs(civ_infection_hazard(m, &pol, &c->a, 0, 0, (uint64_t)one, 0, 0) - 0.7 * susc * 2.0) < 1e-6);
    assert_true(civ_infection_hazard(m, &pol, &c->a, 0, 0, 0, (uint64_t)ps, 0) == 0.0f);   /* not at work: no work term */
    /* P(infection) = 1 - exp(-hazard) */
    for (double x = 0.01; x < 20; x *= 1.7)
        if (fabs(civ_hazard_to_prob((float)x) - (1 - exp(-x))) > 2e-6) fail_msg("hazard %g", x);
    free(c);
    free_study(s);
}

/* gamma(mean, sd) density integrated over [lo, hi] by Simpson's rule: independent of the model's own CDF */
static double gamma_mass(double lo, double hi, double mean, double sd)
{
    const double k = mean * mean / (sd * sd), th = sd * sd / mean;
    const int steps = 2000;
    double sum = 0;
    for (int j = 0; j <= steps; j++) {
        double x = lo + (hi - lo) * j / steps;
        double f = x > 0 ? exp((k - 1) * log(x) - x / th - lgamma(k) - k * log(th)) : 0;
        sum += f * (j == 0 || j == steps ? 1 : j % 2 ? 4 : 2);
    }
    return sum * (hi - lo) / (3 * steps);
}

static void test_infectiousness(void **state)
{
    (void)state;
    civ_study *s = load_study();
    cohort *c = cohort_new(30, CIV_S, 0);
    /* severity factor (params.json: asymptomatic 0.33, mild course 0.72, severe course 1) x the mass of the
       infectiousness profile, gamma with mean 5.5 and sd 2.14 days, over the day since infection; 1.0 = 65536 */
    const uint8_t sym = CIV_COURSE_SYMPTOMATIC, sev = CIV_COURSE_SYMPTOMATIC | CIV_COURSE_SEVERE;
    struct { int stage; uint8_t course; double factor; } k[] = {
        {CIV_A, 0, 0.33}, {CIV_P, sym, 0.72}, {CIV_M, sym, 0.72}, {CIV_P, sev, 1.0}, {CIV_V, sev, 1.0}};
    for (size_t j = 0; j < sizeof k / sizeof k[0]; j++)
        for (int since = 0; since < 25; since++) {
            c->stage[0] = (uint8_t)k[j].stage;
            c->course[0] = k[j].course;
            c->infected_day[0] = (int16_t)(40 - since);
            double want = k[j].factor * gamma_mass(since, since + 1, 5.5, 2.14) * 65536;
            uint32_t got = civ_infectiousness(&s->model, &c->a, 0, 40);
            if (fabs(got - want) > 2) fail_msg("stage %d, day %d since infection: %u, expected %.1f", k[j].stage, since, got, want);
        }
    /* not infectious: susceptible, latent, in hospital, recovered, dead */
    const int none[] = {CIV_S, CIV_E, CIV_H, CIV_R, CIV_D};
    for (size_t j = 0; j < sizeof none / sizeof none[0]; j++) {
        c->stage[0] = (uint8_t)none[j];
        c->course[0] = sev;
        c->infected_day[0] = 35;
        assert_int_equal(civ_infectiousness(&s->model, &c->a, 0, 40), 0);
    }
    free(c);
    free_study(s);
}

static void test_who_mixes_where(void **state)
{
    (void)state;
    civ_study *s = load_study();
    const civ_covid_params *m = &s->model;
    cohort *c = cohort_new(30, CIV_S, 0);
    for (uint32_t i = 0; i < N; i++) {   /* even: workers at place 0; odd: pupils at place 1 */
        c->labour[i] = i % 2 ? CIV_NOT_IN_LABOUR_FORCE : CIV_EMPLOYED;
        c->place[i] = (int32_t)(i % 2);
        c->age[i] = i % 2 ? 10 : 30;
    }
    civ_policy pol = s->base_policy;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0);
    const int day = 9;
    assert_true(civ_attends_place(1, &c->a, &pol, row, 0, day) && civ_attends_place(1, &c->a, &pol, row, 1, day));
    pol.schools_closed = 1;
    assert_true(civ_attends_place(1, &c->a, &pol, row, 0, day) && !civ_attends_place(1, &c->a, &pol, row, 1, day));
    pol.schools_closed = 0;
    /* workplaces closed: essential workers (share 0.3 of them) still go */
    pol.work_closed = 1;
    pol.essential_share = 0.3f;
    long going = 0, workers = N / 2;
    for (uint32_t i = 0; i < N; i += 2) {
        int go = civ_attends_place(1, &c->a, &pol, row, i, day);
        if (go != civ_is_essential(1, i, 0.3f)) fail_msg("worker %u: goes %d", i, go);
        going += go;
    }
    check_binomial("essential workers at work", going, workers, 0.3);
    pol.work_closed = 0;
    /* go_to_work 0.4: that share goes each day */
    set_row(row, 0, 0.4f, 0);
    going = 0;
    for (uint32_t i = 0; i < N; i += 2) going += civ_attends_place(1, &c->a, &pol, row, i, day);
    check_binomial("workers going to work (row 0.4)", going, workers, 0.4);
    set_row(row, 0, 1, 0);
    /* nobody out: isolating (symptoms, or until iso_until), in hospital, dead; no job, no workplace */
    c->flags[0] = CIV_FLAG_ISO_SYMPTOMS;
    assert_false(civ_out_and_about(&c->a, 0, day) || civ_attends_place(1, &c->a, &pol, row, 0, day));
    c->flags[0] = 0;
    c->iso_until[0] = day + 1;
    assert_false(civ_out_and_about(&c->a, 0, day));
    assert_true(civ_out_and_about(&c->a, 0, day + 1));
    c->iso_until[0] = -32000;
    c->stage[0] = CIV_H;
    assert_false(civ_out_and_about(&c->a, 0, day));
    c->stage[0] = CIV_D;
    assert_false(civ_out_and_about(&c->a, 0, day));
    c->stage[0] = CIV_S;
    c->labour[0] = CIV_UNEMPLOYED;
    assert_false(civ_attends_place(1, &c->a, &pol, row, 0, day));
    c->labour[0] = CIV_EMPLOYED;

    /* pass 1: an infectious agent adds its infectiousness to its household, place and tract; isolating,
       only to its household; in hospital, to nothing */
    uint64_t *hh = calloc(N, sizeof *hh), place[2] = {0, 0}, tract[CIV_N_PREM] = {0};
    uint8_t *today = calloc(N, 1);
    const civ_groups g = {hh, place, tract, NULL, today};
    c->stage[0] = CIV_M;
    c->course[0] = CIV_COURSE_SYMPTOMATIC;
    c->infected_day[0] = day - 4;
    const uint64_t q = civ_infectiousness(m, &c->a, 0, day);
    assert_true(q > 1000);
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 0, day);
    assert_true(hh[0] == q && place[0] == q && tract[m->community_band_of_age[30]] == q);
    assert_int_equal(today[0], CIV_TODAY_OUT | CIV_TODAY_PLACE);
    c->flags[0] = CIV_FLAG_ISO_SYMPTOMS;
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 0, day);
    assert_true(hh[0] == 2 * q && place[0] == q && tract[m->community_band_of_age[30]] == q);
    assert_int_equal(today[0], 0);
    c->flags[0] = 0;
    c->stage[0] = CIV_H;
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 0, day);
    assert_true(hh[0] == 2 * q && place[0] == q);
    free(hh);
    free(today);
    free(c);
    free_study(s);
}

/* lognormal with the given mean and sd; whole days D = max(1, round(X)): E[D] = 1 + sum_d>=1 P(X >= d + 0.5) */
static double whole_day_mean(double mean, double sd)
{
    double s2 = log(1 + sd * sd / (mean * mean)), mu = log(mean) - s2 / 2, e = 1;
    for (int d = 1; d < CIV_MAX_DAYS - 1; d++) e += 0.5 * erfc((log(d + 0.5) - mu) / sqrt(2 * s2));
    return e;
}

static void test_course_and_latent_period(void **state)
{
    (void)state;
    civ_study *s = load_study();
    cohort *c = cohort_new(75, CIV_S, 0);   /* age band 70-79: params.json index 7 */
    const double ps = 0.85, psev = 0.20655, pd = 0.02439;
    long sym = 0, sev = 0, die = 0, bad = 0;
    double latent = 0;
    for (uint32_t i = 0; i < N; i++) {
        civ_infect(&s->model, 99, &c->a, i, 12);
        uint8_t k = c->course[i];
        sym += (k & CIV_COURSE_SYMPTOMATIC) != 0;
        sev += (k & CIV_COURSE_SEVERE) != 0;
        die += (k & CIV_COURSE_DIES) != 0;
        bad += (k & CIV_COURSE_SEVERE && !(k & CIV_COURSE_SYMPTOMATIC)) || (k & CIV_COURSE_DIES && !(k & CIV_COURSE_SEVERE));
        bad += c->stage[i] != CIV_E || c->infected_day[i] != 12 || c->next_day[i] < 13;
        latent += c->next_day[i] - 12;
    }
    assert_int_equal(bad, 0);
    check_binomial("symptomatic (absolute p_symptomatic)", sym, N, ps);
    check_binomial("severe (absolute p_severe)", sev, N, psev);
    check_binomial("deaths (absolute p_death)", die, N, pd);
    /* latent period: params.json lognormal mean 4.5, sd 1.5 (its sd in whole days is about 1.5) */
    double want = whole_day_mean(4.5, 1.5);
    if (fabs(latent / N - want) > 5 * 1.6 / sqrt(N)) fail_msg("mean latent period %.4f days, expected %.4f", latent / N, want);
    free(c);
    free_study(s);
}

/* ---- progression, isolation, testing --------------------------------------------- */

static void test_isolation_decision_at_onset(void **state)
{
    (void)state;
    civ_study *s = load_study();
    cohort *c = cohort_new(30, CIV_P, CIV_COURSE_SYMPTOMATIC);
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0;
    float row[CIV_N_DECISION];
    set_row(row, 0.3f, 1, 1);
    for (uint32_t i = 0; i < N; i++) c->next_day[i] = 20;
    long onset = 0, iso = 0, mild = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t ev = civ_progress(&s->model, &pol, 5, row, &c->a, i, 20);
        onset += (ev >> CIV_FLOW_SYMPTOM_ONSET) & 1;
        iso += (c->flags[i] & CIV_FLAG_ISO_SYMPTOMS) != 0;
        mild += c->stage[i] == CIV_M;
        if ((c->flags[i] & CIV_FLAG_ISO_SYMPTOMS) && !civ_isolating(&c->a, i, 21)) fail_msg("agent %u not isolating", i);
    }
    assert_int_equal(onset, N);
    assert_int_equal(mild, N);
    check_binomial("isolating at symptom onset (row 0.3)", iso, N, 0.3);
    /* on recovery (M -> R) the symptom isolation ends */
    for (uint32_t i = 0; i < N; i++) {
        int16_t until = c->next_day[i];
        civ_progress(&s->model, &pol, 5, row, &c->a, i, until);
        if (c->stage[i] != CIV_R || (c->flags[i] & CIV_FLAG_ISO_SYMPTOMS)) fail_msg("agent %u: stage %d after recovery", i, c->stage[i]);
    }
    free(c);
    free_study(s);
}

static void test_testing_result_and_isolation(void **state)
{
    (void)state;
    civ_study *s = load_study();
    civ_covid_params *m = &s->model;
    m->test_sensitivity = 0.8f;
    cohort *c = cohort_new(45, CIV_M, CIV_COURSE_SYMPTOMATIC);
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0.4f;
    pol.test_capacity_ratio = 0.5f;   /* half of those seeking get a test */
    pol.test_delay_days = 3;
    pol.isolation_days = 7;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0.6f);
    long tested = 0, positive = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t ev = civ_progress(m, &pol, 7, row, &c->a, i, 10);
        if (ev & (1u << CIV_FLOW_REPORTED)) fail_msg("agent %u reported on the day of its test", i);
        if (!(ev & (1u << CIV_FLOW_TESTED))) continue;
        tested++;
        if (!(c->flags[i] & CIV_FLAG_TEST_PENDING) || c->test_day[i] != 13) fail_msg("agent %u: result due day %d", i, c->test_day[i]);
        positive += (c->flags[i] & CIV_FLAG_TEST_WILL_BE_POS) != 0;
    }
    check_binomial("tested (seek 0.4 x capacity 0.5)", tested, N, 0.2);
    check_binomial("positive among tested (sensitivity 0.8)", positive, tested, 0.8);
    /* nobody seeks a new test from now on: only the day-10 cohort moves */
    pol.test_seek_probability = 0;
    long reported[3] = {0}, complied = 0;
    for (int day = 11; day <= 13; day++)
        for (uint32_t i = 0; i < N; i++) {
            uint8_t before = c->flags[i];
            uint32_t ev = civ_progress(m, &pol, 7, row, &c->a, i, day);
            if (ev & (1u << CIV_FLOW_TESTED)) fail_msg("agent %u retested on day %d", i, day);
            if (!(ev & (1u << CIV_FLOW_REPORTED))) continue;
            reported[day - 11]++;
            if (!(before & CIV_FLAG_TEST_WILL_BE_POS) || !(c->flags[i] & CIV_FLAG_CONFIRMED))
                fail_msg("agent %u: reported without a positive test", i);
            if (c->iso_until[i] > -32000) {
                complied++;
                assert_int_equal(c->iso_until[i], 13 + 7);
                assert_true(civ_isolating(&c->a, i, 19));
                assert_false(civ_isolating(&c->a, i, 20));
            }
        }
    /* reported cases by result date: all positives on day 13, none before */
    assert_int_equal(reported[0], 0);
    assert_int_equal(reported[1], 0);
    assert_int_equal(reported[2], positive);
    check_binomial("isolating after a positive result (comply 0.6)", complied, positive, 0.6);
    /* no result pending any more; the confirmed are never retested, the negatives may seek again */
    pol.test_seek_probability = 1;
    long retested = 0, negatives = 0;
    for (uint32_t i = 0; i < N; i++) {
        int confirmed = (c->flags[i] & CIV_FLAG_CONFIRMED) != 0;
        assert_false(c->flags[i] & (CIV_FLAG_TEST_PENDING | CIV_FLAG_TEST_WILL_BE_POS));
        uint32_t ev = civ_progress(m, &pol, 7, row, &c->a, i, 14);
        if (confirmed && (ev & (1u << CIV_FLOW_TESTED))) fail_msg("confirmed agent %u retested", i);
        negatives += !confirmed;
        retested += !confirmed && (ev & (1u << CIV_FLOW_TESTED));
    }
    check_binomial("negatives seeking again (seek 1 x capacity 0.5)", retested, negatives, 0.5);
    free(c);
    free_study(s);
}

static void test_admission_test(void **state)
{
    (void)state;
    civ_study *s = load_study();
    civ_covid_params *m = &s->model;
    m->p_hospital_test = 0.7f;
    cohort *c = cohort_new(80, CIV_V, CIV_COURSE_SYMPTOMATIC | CIV_COURSE_SEVERE);
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0;
    float row[CIV_N_DECISION];
    set_row(row, 1, 1, 1);
    long tested = 0, admitted = 0, unconfirmed = 0;
    for (uint32_t i = 0; i < N; i++) {
        c->next_day[i] = 30;
        c->flags[i] = CIV_FLAG_ISO_SYMPTOMS | (i % 2 ? CIV_FLAG_CONFIRMED : 0);   /* half already confirmed */
        uint32_t ev = civ_progress(m, &pol, 3, row, &c->a, i, 30);
        admitted += (ev >> CIV_FLOW_HOSPITALISED) & 1;
        assert_int_equal(c->stage[i], CIV_H);
        assert_false(c->flags[i] & CIV_FLAG_ISO_SYMPTOMS);
        if (i % 2) { assert_false(ev & (1u << CIV_FLOW_TESTED)); continue; }
        unconfirmed++;
        if (ev & (1u << CIV_FLOW_TESTED)) {
            tested++;
            assert_int_equal(c->test_day[i], 31);
            assert_true(c->flags[i] & CIV_FLAG_TEST_WILL_BE_POS);   /* hospital tests find every case */
        }
    }
    assert_int_equal(admitted, N);
    check_binomial("tested on admission (p 0.7)", tested, unconfirmed, 0.7);
    long reported = 0;
    for (uint32_t i = 0; i < N; i++)
        reported += (civ_progress(m, &pol, 3, row, &c->a, i, 31) >> CIV_FLOW_REPORTED) & 1;
    assert_int_equal(reported, tested);
    free(c);
    free_study(s);
}

/* ---- employment ---------------------------------------------------------------------- */

static void test_layoffs_and_rehires(void **state)
{
    (void)state;
    civ_study *s = load_study();
    cohort *c = cohort_new(40, CIV_S, 0);
    for (uint32_t i = 0; i < N; i++) {
        c->labour[i] = CIV_EMPLOYED;
        c->place[i] = i % 10 == 9 ? 1 : 0;             /* a tenth at school (pupils who work): never laid off */
        if (i % 10 == 8) { c->labour[i] = CIV_UNEMPLOYED; c->place[i] = CIV_NO_PLACE; }   /* no workplace to return to */
    }
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0;
    pol.work_closed = 1;
    pol.essential_share = 0.3f;
    pol.layoff_probability = 0.05f;
    pol.rehire_probability = 0.2f;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0);
    long workers = 0, essential = 0, laid_off = 0, others = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t ev = civ_progress(&s->model, &pol, 11, row, &c->a, i, 3);
        int ess = civ_is_essential(11, i, 0.3f);
        if (i % 10 >= 8) { others += ev != 0 || c->labour[i] != (i % 10 == 8 ? CIV_UNEMPLOYED : CIV_EMPLOYED); continue; }
        workers++;
        essential += ess;
        if (ev & (1u << CIV_FLOW_LAID_OFF)) {
            laid_off++;
            if (ess) fail_msg("essential worker %u laid off", i);
            assert_int_equal(c->labour[i], CIV_UNEMPLOYED);
        }
    }
    assert_int_equal(others, 0);
    check_binomial("essential workers (share 0.3)", essential, workers, 0.3);
    check_binomial("laid off on a closed day (p 0.05)", laid_off, workers - essential, 0.05);
    /* the same day again while closed: the laid off stay laid off */
    long rehired = 0;
    for (uint32_t i = 0; i < N; i++) rehired += (civ_progress(&s->model, &pol, 11, row, &c->a, i, 4) >> CIV_FLOW_REHIRED) & 1;
    assert_int_equal(rehired, 0);
    /* reopened: the laid off are rehired at their rate, nobody is laid off */
    pol.work_closed = 0;
    long unemployed = 0, layoffs_open = 0;
    rehired = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (i % 10 >= 8) continue;
        unemployed += c->labour[i] == CIV_UNEMPLOYED;
        uint32_t ev = civ_progress(&s->model, &pol, 11, row, &c->a, i, 5);
        rehired += (ev >> CIV_FLOW_REHIRED) & 1;
        layoffs_open += (ev >> CIV_FLOW_LAID_OFF) & 1;
    }
    assert_int_equal(layoffs_open, 0);
    check_binomial("rehired on an open day (p 0.2)", rehired, unemployed, 0.2);
    /* the dead are neither laid off nor rehired */
    pol.work_closed = 1;
    pol.essential_share = 0;
    pol.layoff_probability = 1;
    for (uint32_t i = 0; i < N; i++) {
        c->stage[i] = CIV_D;
        assert_int_equal(civ_progress(&s->model, &pol, 11, row, &c->a, i, 6), 0);
    }
    free(c);
    free_study(s);
}

/* ---- the day's policy ------------------------------------------------------------------ */

static void test_policy_by_date(void **state)
{
    (void)state;
    civ_study *s = load_study();   /* nyc2020.json from 2020-03-01 */
    civ_policy p;
    double comply;
    /* 2020-03-01 (day 0): baseline testing, nothing closed */
    civ_study_policy(s, 0, 0, 1000000, &p, &comply);
    assert_true(fabsf(p.test_seek_probability - 0.02f) < 1e-7f && p.test_delay_days == 4 && p.isolation_days == 10);
    assert_true(!p.schools_closed && !p.work_closed && p.community_factor == 1.0f && comply < 0);
    assert_true(fabsf(p.beta - 1.2f) < 1e-6f && p.test_capacity_ratio == 1.0f);
    assert_true(fabsf(p.layoff_probability - 0.006f) < 1e-7f && fabsf(p.rehire_probability - 0.01f) < 1e-7f);
    /* capacity 30 per 100k of 1,000,000 agents = 300 tests: yesterday's demand 600 -> half get one */
    civ_study_policy(s, 0, 600, 1000000, &p, &comply);
    assert_true(fabsf(p.test_capacity_ratio - 0.5f) < 1e-7f);
    civ_study_policy(s, 0, 300, 1000000, &p, &comply);
    assert_true(p.test_capacity_ratio == 1.0f);
    /* 2020-03-15 (day 14): still the baseline; 2020-03-16 (day 15): schools close, testing expands */
    civ_study_policy(s, 14, 0, 1000000, &p, &comply);
    assert_true(!p.schools_closed && p.test_delay_days == 4);
    civ_study_policy(s, 15, 1200, 1000000, &p, &comply);
    assert_true(p.schools_closed && !p.work_closed && p.test_delay_days == 3);
    assert_true(fabsf(p.test_seek_probability - 0.06f) < 1e-7f && fabsf(p.test_capacity_ratio - 0.5f) < 1e-7f);
    /* 2020-03-22 (day 21): PAUSE */
    civ_study_policy(s, 20, 0, 1000000, &p, &comply);
    assert_true(!p.work_closed && comply < 0);
    civ_study_policy(s, 21, 0, 1000000, &p, &comply);
    assert_true(p.work_closed && fabsf(p.essential_share - 0.4f) < 1e-7f && fabsf(p.community_factor - 0.25f) < 1e-7f);
    assert_true(fabs(comply - 0.75) < 1e-12);
    /* 2020-04-15 (day 45): delay 2, capacity 150 per 100k */
    civ_study_policy(s, 45, 3000, 1000000, &p, &comply);
    assert_true(p.test_delay_days == 2 && fabsf(p.test_capacity_ratio - 0.5f) < 1e-7f);
    /* 2020-06-08 (day 99): workplaces reopen, community contacts partly return */
    civ_study_policy(s, 99, 0, 1000000, &p, &comply);
    assert_true(!p.work_closed && p.schools_closed && fabsf(p.community_factor - 0.6f) < 1e-7f);
    /* seek_scale multiplies every seek probability (capped at 1) */
    s->seek_scale = 2.5;
    civ_study_policy(s, 45, 0, 1000000, &p, &comply);
    assert_true(fabsf(p.test_seek_probability - 0.375f) < 1e-6f);
    s->seek_scale = 10;
    civ_study_policy(s, 45, 0, 1000000, &p, &comply);
    assert_true(p.test_seek_probability == 1.0f);
    /* transmission after the stay-at-home order: from the first workplace closure on */
    s->beta_after_stay_at_home = 0.3;
    civ_study_policy(s, 20, 0, 1000000, &p, &comply);
    assert_true(fabsf(p.beta - 1.2f) < 1e-6f);
    civ_study_policy(s, 21, 0, 1000000, &p, &comply);
    assert_true(fabsf(p.beta - 0.3f) < 1e-7f);
    civ_study_policy(s, 110, 0, 1000000, &p, &comply);   /* still after the reopening */
    assert_true(fabsf(p.beta - 0.3f) < 1e-7f);
    free_study(s);
}

/* What one agent adds to the day's series (covid_step.h): isolating = isolating at the start of the day,
 * alive and not in hospital; working = an employed agent at its workplace (pupils at school are not);
 * labour status 0 once dead. */
static void test_tallies(void **state)
{
    (void)state;
    civ_study *s = load_study();
    const civ_covid_params *m = &s->model;
    cohort *c = cohort_new(40, CIV_R, 0);
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0);
    uint64_t *hh = calloc(N, sizeof *hh), place[2] = {0, 0}, tract[CIV_N_PREM] = {0};
    float pressure[CIV_N_PREM] = {0};
    uint8_t *today = calloc(N, 1);
    const civ_groups g = {hh, place, tract, pressure, today};
    const int day = 12;
    struct { int stage, iso, labour, place; int isolating, working, labour_out; } k[] = {
        {CIV_R, 0, CIV_EMPLOYED, 0, 0, 1, CIV_EMPLOYED},          /* at work */
        {CIV_R, 0, CIV_EMPLOYED, 1, 0, 0, CIV_EMPLOYED},          /* employed pupil at school: not working */
        {CIV_R, 0, CIV_NOT_IN_LABOUR_FORCE, 1, 0, 0, CIV_NOT_IN_LABOUR_FORCE},
        {CIV_R, 1, CIV_EMPLOYED, 0, 1, 0, CIV_EMPLOYED},          /* isolating after a positive test */
        {CIV_H, 1, CIV_EMPLOYED, 0, 0, 0, CIV_EMPLOYED},          /* in hospital: not counted as isolating */
        {CIV_D, 1, CIV_EMPLOYED, 0, 0, 0, 0},                     /* dead: neither, and out of the labour counts */
    };
    for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
        c->stage[j] = (uint8_t)k[j].stage;
        c->next_day[j] = NEVER;
        c->iso_until[j] = (int16_t)(k[j].iso ? day + 3 : -32000);
        c->labour[j] = (uint8_t)k[j].labour;
        c->place[j] = k[j].place;
        civ_pass_attend(m, &pol, 1, row, &c->a, &g, (uint32_t)j, day);
        civ_tally r = civ_pass_update(m, &pol, 1, row, &c->a, &g, (uint32_t)j, day);
        if (r.isolating != k[j].isolating || r.working != k[j].working || r.labour != k[j].labour_out || r.stage != k[j].stage)
            fail_msg("case %zu: isolating %d, working %d, labour %d, stage %d", j, r.isolating, r.working, r.labour, r.stage);
    }
    free(hh);
    free(today);
    free(c);
    free_study(s);
}

static void test_interventions_in_date_order(void **state)
{
    (void)state;
    /* listed out of order; two on 2020-03-05: the later entry wins */
    char path[] = "/tmp/civitas_rules_study_XXXXXX.json";
    int fd = mkstemps(path, 5);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"base\": \"%s\", \"testing\": {\"isolation_days\": 7}, \"interventions\": ["
               "{\"date\": \"2020-03-05\", \"type\": \"community_contacts\", \"factor\": 0.5},"
               "{\"date\": \"2020-03-05\", \"type\": \"community_contacts\", \"factor\": 0.2},"
               "{\"date\": \"2020-03-03\", \"type\": \"community_contacts\", \"factor\": 0.9}]}\n",
            SRC "/models/covid/nyc2020.json");
    fclose(f);
    civ_study s;
    civ_study_overrides ov = {-1, -1, -1, NULL, NULL, NULL, NULL, true};
    civ_error err = {0};
    if (civ_study_load(path, &ov, &s, &err)) fail_msg("%s", err.msg);
    unlink(path);
    const float want[6] = {1.0f, 1.0f, 0.9f, 0.9f, 0.2f, 0.2f};
    for (int day = 0; day < 6; day++) {
        civ_policy p;
        double comply;
        civ_study_policy(&s, day, 0, 1000000, &p, &comply);
        if (fabsf(p.community_factor - want[day]) > 1e-7f) fail_msg("day %d: factor %g, expected %g", day, p.community_factor, want[day]);
        assert_int_equal(p.isolation_days, 7);   /* testing.isolation_days (nyc2020 has 10) */
    }
    civ_study_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hazard_term_by_term),
        cmocka_unit_test(test_infectiousness),
        cmocka_unit_test(test_who_mixes_where),
        cmocka_unit_test(test_course_and_latent_period),
        cmocka_unit_test(test_isolation_decision_at_onset),
        cmocka_unit_test(test_testing_result_and_isolation),
        cmocka_unit_test(test_admission_test),
        cmocka_unit_test(test_layoffs_and_rehires),
        cmocka_unit_test(test_policy_by_date),
        cmocka_unit_test(test_interventions_in_date_order),
        cmocka_unit_test(test_tallies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
