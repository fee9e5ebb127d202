/* The per-agent rules of models/covid/covid_model.h and covid_step.h on hand-built cohorts of agents,
 * against expectations computed here from the parameter file (models/covid/params.json, the nyc2020
 * study) and the rules' documented meaning:
 *   - the infection hazard, term by term (household, school, workplace, care home, community), with the
 *     age-specific susceptibility of params.json (Davies et al.);
 *   - infectiousness: severity factor x the gamma profile, integrated here;
 *   - who mixes where: school and workplace closures, essential workers (a fixed rank per agent), the
 *     mobility-driven attendance of non-essential workers, isolation, hospital, death; what an infectious
 *     agent adds to its household, place and tract;
 *   - the course drawn at infection, with severity by single year of age (IFR, IHR and the share of
 *     deaths outside hospital interpolated here between params.json's nodes, care-home residents with
 *     their multiplier and share) and the whole-day latent period;
 *   - the isolation decision at symptom onset and its end at recovery;
 *   - testing: seek x the day's capacity ratio, sensitivity, a case on the day of the test, the result
 *     after the delay, isolation for isolation_days after a positive result; screening of infected
 *     agents without symptoms; the admission test;
 *   - layoffs of non-essential workers while workplaces are closed, rehiring once they reopen;
 *   - the day's policy from a study (intervention dates in date order, community contacts and attendance
 *     from mobility, the testing supply, seek scale, transmission after the stay-at-home order), and the
 *     engine's sharing out of the day's tests (capacity ratio, screening probability, host tests);
 *   - what one agent adds to the day's tallies.
 * Changed from the first version of these tests, written before the model changes:
 *   - the per-agent capacity draw against a study's capacity per 100k and yesterday's demand is gone from
 *     civ_study_policy: the study now gives a testing supply (civ_testing_supply) and the engine shares
 *     it out once a day (plan_testing in host/engine/engine.c); test_testing_supply_shared_out checks that
 *     sharing on a small engine, test_testing_result_and_isolation the per-agent draw against the ratio;
 *   - a positive test is now a case on the day it is taken (DOHMH counts cases by diagnosis date), not on
 *     the result day, and the admission test is a case on the day of admission;
 *   - community contacts are a factor per borough (orders x mobility), so the policy checks are made with
 *     mobility switched off (exact factors) and separately against the study's mobility series;
 *   - nyc2020.json has no community_contacts intervention any more (mobility replaced it) and sets beta 2.
 * The severity tables' derivation, the care-home mixing rules, the daily input files and testing over a
 * whole run are covered in test_engine.c and not repeated here.
 * Probabilities are checked with binomial bounds of 5 standard deviations: a correct rule fails with odds
 * below 1e-6 per check, while the mistakes they guard against (a term dropped, a comparison reversed) move
 * the counts by far more. The draws are deterministic, so a run never flips between pass and fail. */
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
#include "host/population/population.h"
#include "host/study/study.h"
#include "models/covid/covid_step.h"
#include "tests/sim_fixture.h"

#define SRC CIVITAS_SOURCE_DIR
#define N 100000
#define NEVER 0x7FFF
#define RANK_SEED 11   /* the seed of the cohorts' essential-worker ranks */

/* |k - n p| <= 5 sd (+1 for rounding); exact when p is 0 or 1 */
static void check_binomial(const char *what, long k, long n, double p)
{
    double mean = n * p, sd = sqrt(n * p * (1 - p));
    if (fabs((double)k - mean) > 5 * sd + 1)
        fail_msg("%s: %ld of %ld, expected %.1f +- %.1f (p = %.4f)", what, k, n, mean, 5 * sd + 1, p);
}

/* places of every cohort */
enum { WORKPLACE = 0, SCHOOL = 1, CARE_HOME = 2, N_PLACES = 3 };

/* A cohort of n agents, one per household, all of one age, living in households, in tract 0 of borough 0,
 * with no place; place 0 is a workplace, place 1 a school, place 2 a care home, each of n people. */
typedef struct {
    civ_agents a;
#define CIV_COHORT_FIELD(type, name, kind, init, snap, doc) type name[N];
    CIV_AGENT_FIELDS(CIV_COHORT_FIELD)
#undef CIV_COHORT_FIELD
    uint8_t place_type[N_PLACES];
    uint32_t place_size[N_PLACES];
} cohort;

static cohort *cohort_new(int age, int stage, uint8_t course)
{
    cohort *c = calloc(1, sizeof *c);
    for (uint32_t i = 0; i < N; i++) {
        c->age[i] = (uint8_t)age;
        c->household[i] = i;
        c->place[i] = CIV_NO_PLACE;
        c->residence[i] = CIV_RES_HOUSEHOLD;
        c->essential_rank[i] = civ_essential_rank(RANK_SEED, i);
        c->stage[i] = (uint8_t)stage;
        c->course[i] = course;
        c->infected_day[i] = -10;
        c->next_day[i] = NEVER;
        c->iso_until[i] = -32000;
    }
    c->place_type[WORKPLACE] = CIV_PLACE_WORK;
    c->place_type[SCHOOL] = CIV_PLACE_SCHOOL;
    c->place_type[CARE_HOME] = CIV_PLACE_CARE_HOME;
    for (int p = 0; p < N_PLACES; p++) c->place_size[p] = N;
    civ_agents *a = &c->a;
    a->n = N;
#define CIV_COHORT_POINT(type, name, kind, init, snap, doc) a->name = c->name;
    CIV_AGENT_FIELDS(CIV_COHORT_POINT)
#undef CIV_COHORT_POINT
    a->place_type = c->place_type;
    a->place_size = c->place_size;
    return c;
}

/* Writes a study that overrides nyc2020.json with `body` (JSON members) to path, a mkstemps template
 * ending in ".json". */
static void write_variant(char *path, const char *body)
{
    int fd = mkstemps(path, 5);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"base\": \"%s\", %s}\n", SRC "/models/covid/nyc2020.json", body);
    fclose(f);
}

/* Writes a study that overrides nyc2020.json with `body` (JSON members) and loads it; NULL body: nyc2020.json. */
static civ_study *load_variant(const char *body)
{
    char path[] = "/tmp/civitas_rules_study_XXXXXX.json";
    if (body) write_variant(path, body);
    civ_study *s = calloc(1, sizeof *s);
    civ_study_overrides ov = {-1, -1, -1, NULL, NULL, NULL, NULL, true, NULL};
    civ_error err = {0};
    civ_status st = civ_study_load(body ? path : SRC "/models/covid/nyc2020.json", &ov, s, &err);
    if (body) unlink(path);
    if (st) fail_msg("%s", err.msg);
    return s;
}

/* The model of the default study (params.json, Prem matrices) and its baseline policy. */
static civ_study *load_study(void) { return load_variant(NULL); }

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
    c->place_size[WORKPLACE] = 11;   /* 10 others at the workplace */
    c->place_size[SCHOOL] = 26;      /* 25 others at school */
    c->place_size[CARE_HOME] = 6;    /* 5 others in the care home */
    const double one = 65536.0, hs = 3 * one, ps = 5 * one, comm = 0.25 * one;
    const double susc = 0.86;   /* params.json relative_susceptibility, ages 30-39 (Davies et al.) */
    /* household weight 2, school, work and care-home weights 1, 5 contacts a day in a care home (params.json);
       school and work contacts per day by 5-year band from the Prem matrices */
    const double work = 1.0 * m->contacts_work[37 / 5], school = 1.0 * m->contacts_school[37 / 5], care = 1.0 * 5.0;
    struct { int place, attends; double terms; } cases[] = {
        {WORKPLACE, 1, 2.0 * hs / one + work * (ps / one) / 10 + comm / one},
        {SCHOOL, 1, 2.0 * hs / one + school * (ps / one) / 25 + comm / one},
        {CARE_HOME, 1, 2.0 * hs / one + care * (ps / one) / 5 + comm / one},
        {WORKPLACE, 0, 2.0 * hs / one + comm / one},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        c->place[0] = cases[k].place;
        double want = 0.7 * susc * cases[k].terms;
        float got = civ_infection_hazard(m, &pol, &c->a, 0, cases[k].attends, (uint64_t)hs, (uint64_t)ps, (float)comm);
        if (fabs(got - want) > 1e-5 * want) fail_msg("case %zu: hazard %.7g, expected %.7g", k, got, want);
    }
    /* the layer weights of params.json are all 1 but the household's: with distinct weights, each place
       term must use its own (school 0.5, work 1.5, care home 3) */
    civ_covid_params w = *m;
    w.w_school = 0.5f;
    w.w_work = 1.5f;
    w.w_care_home = 3.0f;
    const double place_term[N_PLACES] = {1.5 * work / 10, 0.5 * school / 25, 3.0 * care / 5};
    for (int p = 0; p < N_PLACES; p++) {
        c->place[0] = p;
        double want = 0.7 * susc * place_term[p];
        float got = civ_infection_hazard(&w, &pol, &c->a, 0, 1, 0, (uint64_t)one, 0);
        if (fabs(got - want) > 1e-5 * want) fail_msg("place %d with distinct weights: hazard %.7g, expected %.7g", p, got, want);
    }
    /* each term on its own */
    c->place[0] = WORKPLACE;
    assert_true(fabs(civ_infection_hazard(m, &pol, &c->a, 0, 1, 0, 0, (float)comm) - 0.7 * susc * 0.25) < 1e-6);
    assert_true(fabs(civ_infection_hazard(m, &pol, &c->a, 0, 0, (uint64_t)one, 0, 0) - 0.7 * susc * 2.0) < 1e-6);
    assert_true(civ_infection_hazard(m, &pol, &c->a, 0, 0, 0, (uint64_t)ps, 0) == 0.0f);   /* not at work: no work term */
    /* a workplace of one: the place sum is the agent's own (0 others counted as 1, no division by zero) */
    c->place_size[WORKPLACE] = 1;
    assert_true(fabs(civ_infection_hazard(m, &pol, &c->a, 0, 1, 0, (uint64_t)one, 0) - 0.7 * susc * work) < 1e-5 * work);
    /* susceptibility by age: a child of 5 (0.4) and a person of 85 (0.74, the 80+ band) */
    c->age[0] = 5;
    assert_true(fabs(civ_infection_hazard(m, &pol, &c->a, 0, 0, (uint64_t)one, 0, 0) - 0.7 * 0.4 * 2.0) < 1e-6);
    c->age[0] = 85;
    assert_true(fabs(civ_infection_hazard(m, &pol, &c->a, 0, 0, (uint64_t)one, 0, 0) - 0.7 * 0.74 * 2.0) < 1e-6);
    /* P(infection) = 1 - exp(-hazard) */
    for (double x = 0.01; x < 20; x *= 1.7)
        if (fabs(civ_hazard_to_prob((float)x) - (1 - exp(-x))) > 2e-6) fail_msg("hazard %g", x);
    free(c);
    free_study(s);
}

/* The household term by household size: each infectious member adds (size - 1)^-exponent of its
 * infectiousness to its household's sum (household_size_exponent, here 0.5 as Madewell et al. 2020
 * suggest), all of it in households of one or two, the table's last entry (31 others) beyond it; its place
 * and community sums get all of it. params.json ships it off (0): every size then adds exactly q. */
static void test_household_size_scales_the_household_term(void **state)
{
    (void)state;
    const int day = 20;
    struct { uint8_t size; double scale; } cases[] = {
        {0, 1.0}, {1, 1.0}, {2, 1.0}, {3, 1 / sqrt(2.0)}, {4, 1 / sqrt(3.0)}, {10, 1 / 3.0},
        {31, 1 / sqrt(30.0)}, {32, 1 / sqrt(30.0)}, {255, 1 / sqrt(30.0)},
    };
    for (int on = 0; on < 2; on++) {
        civ_study *s = on ? load_variant("\"parameters\": {\"household_size_exponent\": 0.5}") : load_study();
        const civ_covid_params *m = &s->model;
        cohort *c = cohort_new(30, CIV_M, CIV_COURSE_SYMPTOMATIC);
        c->infected_day[0] = day - 4;
        c->labour[0] = CIV_EMPLOYED;
        c->place[0] = WORKPLACE;
        civ_policy pol = s->base_policy;
        for (int b = 0; b < CIV_NBOROUGH; b++) pol.work_attendance[b] = 1.0f;
        pol.schools_closed = pol.work_closed = 0;
        float row[CIV_N_DECISION];
        set_row(row, 0, 1, 0);   /* goes to work, does not isolate */
        const uint64_t q = civ_infectiousness(m, &c->a, 0, day);
        assert_true(q > 1000);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            uint64_t hh[1] = {0}, place[N_PLACES] = {0}, tract[CIV_N_PREM] = {0};
            const civ_groups g = {hh, place, tract, NULL};
            c->household_size[0] = cases[k].size;
            civ_pass_attend(m, &pol, 1, row, &c->a, &g, 0, day);
            const double want = on ? q * cases[k].scale : (double)q;
            if (fabs((double)hh[0] - want) > 1.0 + 2e-5 * want)
                fail_msg("exponent %s, household of %d: adds %llu, expected %.1f", on ? "0.5" : "0", cases[k].size,
                         (unsigned long long)hh[0], want);
            if (!on && hh[0] != q) fail_msg("exponent 0, household of %d: adds %llu, not exactly q = %llu",
                                            cases[k].size, (unsigned long long)hh[0], (unsigned long long)q);
            if (place[WORKPLACE] != q || tract[m->community_band_of_age[30]] != q)
                fail_msg("household of %d: the place and community sums must get all of q", cases[k].size);
        }
        free(c);
        free_study(s);
    }
}

/* Exposure outside the home by race/ethnicity group (outside_home_exposure, raised to
 * outside_home_exposure_contrast, scaled so household residents average 1). Hand-computed for a
 * population of 1 Asian, 1 Black, 2 Hispanic and 4 white household residents at contrast 1 (params.json's
 * ratios 1.40, 1.76, 1.76 and 1): mean 10.68 / 8 = 1.335, so a white resident's factor is 1 / 1.335 and a
 * Hispanic one's 1.76 / 1.335. The factor multiplies the place and community terms of a susceptible's
 * hazard and what an infectious agent adds to its place and community sums, never the household term;
 * care-home residents keep 1. At contrast 0 (params.json's default) every factor is exactly 1. */
static void test_outside_exposure_by_group(void **state)
{
    (void)state;
    const int day = 20;
    const uint64_t count[CIV_N_ETHNICITY] = {[CIV_ETH_ASIAN] = 1, [CIV_ETH_BLACK] = 1, [CIV_ETH_HISPANIC] = 2,
                                             [CIV_ETH_WHITE] = 4};
    civ_study *s0 = load_study();
    civ_exposure_prepare(&s0->model, count);
    for (int g = 0; g < CIV_N_ETHNICITY; g++) {
        assert_int_equal(s0->model.exposure_q[g], CIV_FIXED_ONE);
        assert_true(s0->model.exposure[g] == 1.0f);
    }
    free_study(s0);

    civ_study *s = load_variant("\"parameters\": {\"outside_home_exposure_contrast\": 1}");
    civ_covid_params *m = &s->model;
    civ_exposure_prepare(m, count);
    const double mean = 10.68 / 8, white = 1 / mean, hispanic = 1.76 / mean;
    if (fabs(m->exposure[CIV_ETH_WHITE] - white) > 2e-5 || fabs(m->exposure[CIV_ETH_HISPANIC] - hispanic) > 2e-5 ||
        fabs(m->exposure[CIV_ETH_ASIAN] - 1.40 / mean) > 2e-5)
        fail_msg("factors white %.5f hispanic %.5f asian %.5f, expected %.5f %.5f %.5f", m->exposure[CIV_ETH_WHITE],
                 m->exposure[CIV_ETH_HISPANIC], m->exposure[CIV_ETH_ASIAN], white, hispanic, 1.40 / mean);
    double avg = 0;
    for (int g = 0; g < CIV_N_ETHNICITY; g++) {
        avg += (double)count[g] * m->exposure[g] / 8;
        assert_true(m->exposure[g] == (float)m->exposure_q[g] / 65536.0f);   /* the float is the fixed point's */
    }
    assert_true(fabs(avg - 1) < 1e-4);

    /* hazard: place and community terms scale, the household term does not */
    cohort *c = cohort_new(37, CIV_S, 0);
    civ_policy pol = s->base_policy;
    pol.beta = 0.7f;
    c->place[0] = WORKPLACE;
    c->place_size[WORKPLACE] = 11;
    const double one = 65536.0, susc = 0.86, work = m->contacts_work[37 / 5];
    const struct { uint8_t group, residence; double e; } who[] = {
        {CIV_ETH_WHITE, CIV_RES_HOUSEHOLD, white}, {CIV_ETH_HISPANIC, CIV_RES_HOUSEHOLD, hispanic},
        {CIV_ETH_HISPANIC, CIV_RES_CARE_HOME, 1.0}};
    for (size_t k = 0; k < sizeof who / sizeof who[0]; k++) {
        c->ethnicity[0] = who[k].group;
        c->residence[0] = who[k].residence;
        const double want = 0.7 * susc * (2.0 * 3 + who[k].e * (work * 5 / 10 + 0.25));
        const float got = civ_infection_hazard(m, &pol, &c->a, 0, 1, (uint64_t)(3 * one), (uint64_t)(5 * one),
                                               (float)(0.25 * one));
        if (fabs(got - want) > 1e-5 * want) fail_msg("case %zu: hazard %.7g, expected %.7g", k, got, want);
        const float home = civ_infection_hazard(m, &pol, &c->a, 0, 0, (uint64_t)one, 0, 0);
        assert_true(fabs(home - 0.7 * susc * 2.0) < 1e-6);
    }
    free(c);

    /* what an infectious agent adds: household q, place and community q x factor */
    c = cohort_new(30, CIV_M, CIV_COURSE_SYMPTOMATIC);
    c->infected_day[0] = day - 4;
    c->labour[0] = CIV_EMPLOYED;
    c->place[0] = WORKPLACE;
    pol = s->base_policy;
    for (int b = 0; b < CIV_NBOROUGH; b++) pol.work_attendance[b] = 1.0f;
    pol.schools_closed = pol.work_closed = 0;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0);
    const uint64_t q = civ_infectiousness(m, &c->a, 0, day);
    assert_true(q > 1000);
    for (int g = 0; g < CIV_N_ETHNICITY; g++) {
        uint64_t hh[1] = {0}, place[N_PLACES] = {0}, tract[CIV_N_PREM] = {0};
        const civ_groups gr = {hh, place, tract, NULL};
        c->ethnicity[0] = (uint8_t)g;
        civ_pass_attend(m, &pol, 1, row, &c->a, &gr, 0, day);
        const uint64_t want = (q * m->exposure_q[g]) >> 16;
        if (hh[0] != q || place[WORKPLACE] != want || tract[m->community_band_of_age[30]] != want)
            fail_msg("group %s: adds household %llu place %llu community %llu, expected %llu, %llu, %llu",
                     civ_ethnicity_name[g], (unsigned long long)hh[0], (unsigned long long)place[WORKPLACE],
                     (unsigned long long)tract[m->community_band_of_age[30]], (unsigned long long)q,
                     (unsigned long long)want, (unsigned long long)want);
        if (fabs((double)want - q * m->exposure[g]) > 1.0) fail_msg("group %d: fixed point off the factor", g);
    }
    free(c);
    free_study(s);
}

static void policy_on(const civ_study *s, int day, civ_policy *p, double *comply, civ_testing_supply *sup);

/* Older adults' further distancing (behavior.mobility.older_adult_extra, from older_adult_age on): the day's
 * policy keeps 1 - extra x (1 - community factor) of their community contacts on top of everyone's cut, in
 * fixed point with the same float; it scales the community term of a susceptible of that age (not the
 * household or place term) and what an infectious one adds to its tract (not to its household or place).
 * Hand-computed with extra 0.5 and a community factor of 0.2: 1 - 0.5 x 0.8 = 0.6. The shipped study's
 * default (0) keeps exactly 1 on every day, and so does a study without mobility data. */
static void test_older_adults_distancing(void **state)
{
    (void)state;
    civ_policy p;
    civ_testing_supply sup;
    double comply;
    civ_study *s0 = load_study();
    assert_true(s0->mobility.older_adult_extra == 0.0 && s0->mobility.older_adult_age == 65);
    for (int t = 0; t < s0->steps; t++) {
        policy_on(s0, t, &p, &comply, &sup);
        for (int b = 0; b < CIV_NBOROUGH; b++)
            if (p.older_kept_q[b] != CIV_FIXED_ONE || p.older_kept[b] != 1.0f) fail_msg("day %d: older adults keep %g", t, p.older_kept[b]);
    }
    free_study(s0);

    civ_study *s = load_variant("\"behavior\": {\"mobility\": {\"older_adult_extra\": 0.5, \"older_adult_age\": 70}}");
    assert_true(s->mobility.older_adult_extra == 0.5 && s->mobility.older_adult_age == 70);
    for (int t = 0; t < s->steps; t++) {
        policy_on(s, t, &p, &comply, &sup);
        assert_int_equal(p.older_age, 70);
        for (int b = 0; b < CIV_NBOROUGH; b++) {
            const double cf = s->mobility.factor[t][b] < 1 ? s->mobility.factor[t][b] : 1;
            const uint32_t want = (uint32_t)((1 - 0.5 * (1 - cf)) * 65536 + 0.5);
            if (p.older_kept_q[b] != want || p.older_kept[b] != (float)want / 65536.0f)
                fail_msg("day %d, borough %d: older adults keep %u/65536, expected %u (community factor %g)", t, b,
                         p.older_kept_q[b], want, cf);
        }
    }
    /* in April (day 40) everyone kept well under 1, so older adults keep less than everyone */
    policy_on(s, 40, &p, &comply, &sup);
    assert_true(p.older_kept[0] < 0.95f);

    civ_covid_params *m = &s->model;
    p = s->base_policy;
    p.beta = 0.7f;
    p.older_age = 70;
    for (int b = 0; b < CIV_NBOROUGH; b++) { p.older_kept_q[b] = 39322; p.older_kept[b] = 39322 / 65536.0f; }   /* 0.6 */
    const double one = 65536.0, kept = 39322 / 65536.0;
    const int ages[] = {69, 70, 88};
    for (size_t k = 0; k < sizeof ages / sizeof ages[0]; k++) {
        cohort *c = cohort_new(ages[k], CIV_S, 0);
        c->place[0] = WORKPLACE;
        c->place_size[WORKPLACE] = 11;
        const double f = ages[k] >= 70 ? kept : 1.0, susc = m->susceptibility[m->age10_of_age[ages[k]]];
        const double work = m->contacts_work[m->prem_of_age[ages[k]]];
        const double want = 0.7 * susc * (m->w_household * 3 + m->w_work * work * 5 / 10 + 0.25 * f);
        const float got = civ_infection_hazard(m, &p, &c->a, 0, 1, (uint64_t)(3 * one), (uint64_t)(5 * one), (float)(0.25 * one));
        if (fabs(got - want) > 1e-5 * want) fail_msg("age %d: hazard %.7g, expected %.7g", ages[k], got, want);
        free(c);

        /* what an infectious agent of that age adds */
        c = cohort_new(ages[k], CIV_M, CIV_COURSE_SYMPTOMATIC);
        c->infected_day[0] = 16;
        c->labour[0] = CIV_EMPLOYED;
        c->place[0] = WORKPLACE;
        civ_policy pa = p;
        for (int b = 0; b < CIV_NBOROUGH; b++) pa.work_attendance[b] = 1.0f;
        pa.schools_closed = pa.work_closed = 0;
        float row[CIV_N_DECISION];
        set_row(row, 0, 1, 0);
        const uint64_t q = civ_infectiousness(m, &c->a, 0, 20);
        assert_true(q > 1000);
        uint64_t hh[1] = {0}, place[N_PLACES] = {0}, tract[CIV_N_PREM] = {0};
        const civ_groups gr = {hh, place, tract, NULL};
        civ_pass_attend(m, &pa, 1, row, &c->a, &gr, 0, 20);
        const uint64_t community = ages[k] >= 70 ? (q * 39322) >> 16 : q;
        if (hh[0] != q || place[WORKPLACE] != q || tract[m->community_band_of_age[ages[k]]] != community)
            fail_msg("age %d: adds household %llu place %llu community %llu, expected %llu, %llu, %llu", ages[k],
                     (unsigned long long)hh[0], (unsigned long long)place[WORKPLACE],
                     (unsigned long long)tract[m->community_band_of_age[ages[k]]], (unsigned long long)q,
                     (unsigned long long)q, (unsigned long long)community);
        free(c);
    }
    free_study(s);

    /* a study without mobility data: nobody distances further */
    s = load_variant("\"behavior\": {\"mobility\": null}");
    policy_on(s, 40, &p, &comply, &sup);
    assert_true(p.older_age > CIV_MAX_AGE && p.older_kept[0] == 1.0f);
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
        {CIV_A, 0, 0.33}, {CIV_P, sym, 0.72}, {CIV_M, sym, 0.72}, {CIV_P, sev, 1.0}, {CIV_V, sev, 1.0},
        {CIV_V, sev | CIV_COURSE_DIES | CIV_COURSE_OUTSIDE, 1.0}};
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
    for (uint32_t i = 0; i < N; i++) {   /* even: workers at the workplace, in borough 3; odd: pupils at school */
        c->labour[i] = i % 2 ? CIV_NOT_IN_LABOUR_FORCE : CIV_EMPLOYED;
        c->place[i] = i % 2 ? SCHOOL : WORKPLACE;
        c->age[i] = i % 2 ? 10 : 30;
        c->borough[i] = i % 2 ? 0 : 3;
    }
    civ_policy pol = s->base_policy;
    for (int b = 0; b < CIV_NBOROUGH; b++) pol.work_attendance[b] = 1.0f;
    pol.schools_closed = pol.work_closed = 0;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0);
    const int day = 9;
    assert_true(civ_attends_place(1, &c->a, &pol, row, 0, day) && civ_attends_place(1, &c->a, &pol, row, 1, day));
    pol.schools_closed = 1;
    assert_true(civ_attends_place(1, &c->a, &pol, row, 0, day) && !civ_attends_place(1, &c->a, &pol, row, 1, day));
    pol.schools_closed = 0;
    /* workplaces closed: essential workers (share 0.3 of them, by their fixed rank) still go, pupils too */
    pol.work_closed = 1;
    pol.essential_share = 0.3f;
    long going = 0, workers = N / 2, pupils = 0;
    for (uint32_t i = 0; i < N; i += 2) {
        int go = civ_attends_place(1, &c->a, &pol, row, i, day);
        if (go != civ_is_essential(&c->a, i, 0.3f)) fail_msg("worker %u: goes %d", i, go);
        going += go;
        pupils += civ_attends_place(1, &c->a, &pol, row, i + 1, day);
    }
    check_binomial("essential workers at work", going, workers, 0.3);
    assert_int_equal(pupils, N / 2);
    pol.work_closed = 0;
    /* go_to_work 0.4: that share goes each day */
    set_row(row, 0, 0.4f, 0);
    going = 0;
    for (uint32_t i = 0; i < N; i += 2) going += civ_attends_place(1, &c->a, &pol, row, i, day);
    check_binomial("workers going to work (row 0.4)", going, workers, 0.4);
    /* mobility: in borough 3 non-essential workers keep half their days at work (0.4 x 0.5), essential
       workers all of theirs (0.4); pupils are not affected; attendance elsewhere changes nothing here */
    for (int b = 0; b < CIV_NBOROUGH; b++) pol.work_attendance[b] = b == 3 ? 0.5f : 0.1f;
    pol.work_attendance[0] = 0.0f;
    long ess = 0, ess_going = 0, other_going = 0;
    pupils = 0;
    for (uint32_t i = 0; i < N; i += 2) {
        const int e = civ_is_essential(&c->a, i, 0.3f), go = civ_attends_place(1, &c->a, &pol, row, i, day);
        ess += e;
        ess_going += e && go;
        other_going += !e && go;
        pupils += civ_attends_place(1, &c->a, &pol, row, i + 1, day);
    }
    check_binomial("essential workers going (row 0.4, attendance not applied)", ess_going, ess, 0.4);
    check_binomial("non-essential workers going (row 0.4 x attendance 0.5)", other_going, workers - ess, 0.2);
    assert_int_equal(pupils, N / 2);
    for (int b = 0; b < CIV_NBOROUGH; b++) pol.work_attendance[b] = 1.0f;
    set_row(row, 0, 1, 0);
    /* nobody out: isolating (symptoms, or until iso_until), in hospital, dead; no job, no workplace */
    c->flags[0] = CIV_FLAG_ISO_SYMPTOMS;
    assert_false(civ_out_and_about(&c->a, 0, day) || civ_attends_place(1, &c->a, &pol, row, 0, day));
    c->flags[0] = 0;
    c->iso_until[0] = day + 1;
    assert_false(civ_out_and_about(&c->a, 0, day) || civ_attends_place(1, &c->a, &pol, row, 0, day));
    assert_true(civ_out_and_about(&c->a, 0, day + 1));
    c->iso_until[0] = -32000;
    assert_true(civ_out_and_about(&c->a, 0, day));
    c->stage[0] = CIV_H;
    assert_false(civ_out_and_about(&c->a, 0, day) || civ_attends_place(1, &c->a, &pol, row, 0, day));
    c->stage[0] = CIV_D;
    assert_false(civ_out_and_about(&c->a, 0, day) || civ_attends_place(1, &c->a, &pol, row, 0, day));
    c->stage[0] = CIV_S;
    c->labour[0] = CIV_UNEMPLOYED;
    assert_false(civ_attends_place(1, &c->a, &pol, row, 0, day));
    c->labour[0] = CIV_EMPLOYED;
    c->place[0] = CIV_NO_PLACE;
    assert_false(civ_attends_place(1, &c->a, &pol, row, 0, day));
    c->place[0] = WORKPLACE;

    /* pass 1: an infectious agent adds its infectiousness to its household, place and tract; isolating,
       only to its household; in hospital, to nothing */
    uint64_t *hh = calloc(N, sizeof *hh), place[N_PLACES] = {0}, tract[CIV_N_PREM] = {0};
    const civ_groups g = {hh, place, tract, NULL};
    c->stage[0] = CIV_M;
    c->course[0] = CIV_COURSE_SYMPTOMATIC;
    c->infected_day[0] = day - 4;
    const uint64_t q = civ_infectiousness(m, &c->a, 0, day);
    assert_true(q > 1000);
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 0, day);
    assert_true(hh[0] == q && place[WORKPLACE] == q && tract[m->community_band_of_age[30]] == q);
    assert_int_equal(c->today[0], CIV_TODAY_OUT | CIV_TODAY_PLACE);
    c->flags[0] = CIV_FLAG_ISO_SYMPTOMS;
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 0, day);
    assert_true(hh[0] == 2 * q && place[WORKPLACE] == q && tract[m->community_band_of_age[30]] == q);
    assert_int_equal(c->today[0], 0);
    c->flags[0] = 0;
    c->stage[0] = CIV_H;
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 0, day);
    assert_true(hh[0] == 2 * q && place[WORKPLACE] == q && tract[m->community_band_of_age[30]] == q);
    /* a susceptible adds nothing but is marked out and at its place */
    c->stage[0] = CIV_S;
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 0, day);
    assert_true(hh[0] == 2 * q && place[WORKPLACE] == q);
    assert_int_equal(c->today[0], CIV_TODAY_OUT | CIV_TODAY_PLACE);
    free(hh);
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

/* params.json severity nodes, interpolated at `age` (log-linearly, or linearly when !log_scale) */
static double node_value(const double *ages, const double *values, int n, int age, int log_scale)
{
    if (age >= ages[n - 1]) return values[n - 1];
    int k = 0;
    while (age >= ages[k + 1]) k++;
    const double t = (age - ages[k]) / (ages[k + 1] - ages[k]);
    return log_scale ? exp(log(values[k]) + t * (log(values[k + 1]) - log(values[k]))) : values[k] + t * (values[k + 1] - values[k]);
}

/* Absolute probabilities per infection at `age` (params.json, ifr/ihr scale 1): symptomatic, severe (an
 * admission, or a death without one), death, death outside hospital. */
static void course_probabilities(int age, int care_home, double out[4])
{
    static const double ifr_age[] = {0, 20, 35, 55, 70, 82, 95};
    static const double ifr_val[] = {1.806e-05, 0.0001969, 0.001182, 0.007567, 0.05344, 0.09984, 0.1965};
    static const double ihr_age[] = {0, 5, 15, 21, 30, 40, 50, 60, 70, 82, 95};
    static const double ihr_val[] = {0.00162, 0.000631, 0.001612, 0.005288, 0.01059, 0.01386, 0.02046, 0.04239,
                                     0.1076, 0.1499, 0.3658};
    static const double out_age[] = {0, 45, 55, 70, 85}, out_val[] = {0.0, 0.0, 0.05, 0.1, 0.2};
    static const double p_symptomatic[] = {0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9};
    double ifr = node_value(ifr_age, ifr_val, 7, age, 1), ihr = node_value(ihr_age, ihr_val, 11, age, 1);
    double outside = node_value(out_age, out_val, 5, age, 0);
    if (care_home) { ifr *= 2.59; outside = 0.65; }   /* care_home_ifr_multiplier, care_home_death_outside_hospital */
    /* at these ages the deaths in hospital stay below 90 % of admissions: no cap applies */
    assert_true(ifr * (1 - outside) < 0.9 * ihr);
    out[0] = p_symptomatic[age / 10 < 9 ? age / 10 : 8];
    out[1] = ihr + ifr * outside;
    out[2] = ifr;
    out[3] = ifr * outside;
}

static void test_course_and_latent_period(void **state)
{
    (void)state;
    civ_study *s = load_study();
    /* a 75-year-old living at home, an 85-year-old care-home resident */
    const struct { int age, residence; } who[] = {{75, CIV_RES_HOUSEHOLD}, {85, CIV_RES_CARE_HOME}};
    for (int w = 0; w < 2; w++) {
        cohort *c = cohort_new(who[w].age, CIV_S, 0);
        for (uint32_t i = 0; i < N; i++) c->residence[i] = (uint8_t)who[w].residence;
        double p[4];
        course_probabilities(who[w].age, who[w].residence == CIV_RES_CARE_HOME, p);
        long sym = 0, sev = 0, die = 0, outside = 0, bad = 0;
        double latent = 0;
        for (uint32_t i = 0; i < N; i++) {
            civ_infect(&s->model, 99, &c->a, i, 12);
            uint8_t k = c->course[i];
            sym += (k & CIV_COURSE_SYMPTOMATIC) != 0;
            sev += (k & CIV_COURSE_SEVERE) != 0;
            die += (k & CIV_COURSE_DIES) != 0;
            outside += (k & CIV_COURSE_OUTSIDE) != 0;
            bad += (k & CIV_COURSE_SEVERE && !(k & CIV_COURSE_SYMPTOMATIC)) || (k & CIV_COURSE_DIES && !(k & CIV_COURSE_SEVERE)) ||
                   (k & CIV_COURSE_OUTSIDE && !(k & CIV_COURSE_DIES));
            bad += c->stage[i] != CIV_E || c->infected_day[i] != 12 || c->next_day[i] < 13;
            latent += c->next_day[i] - 12;
        }
        assert_int_equal(bad, 0);
        print_message("age %d (%s): symptomatic %.4f, severe %.4f, deaths %.4f, outside hospital %.4f per infection\n",
                      who[w].age, w ? "care home" : "household", p[0], p[1], p[2], p[3]);
        check_binomial("symptomatic (absolute p_symptomatic)", sym, N, p[0]);
        check_binomial("severe (ihr + ifr x outside share)", sev, N, p[1]);
        check_binomial("deaths (ifr)", die, N, p[2]);
        check_binomial("deaths outside hospital (ifr x outside share)", outside, N, p[3]);
        /* latent period: params.json lognormal mean 4.5, sd 1.5 (its sd in whole days is about 1.5) */
        double want = whole_day_mean(4.5, 1.5);
        if (fabs(latent / N - want) > 5 * 1.6 / sqrt(N)) fail_msg("mean latent period %.4f days, expected %.4f", latent / N, want);
        free(c);
    }
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
    pol.test_screen_probability = 0;
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
        if (c->next_day[i] <= 20) fail_msg("agent %u: recovery due day %d", i, c->next_day[i]);
    }
    assert_int_equal(onset, N);
    assert_int_equal(mild, N);
    check_binomial("isolating at symptom onset (row 0.3)", iso, N, 0.3);
    /* on recovery (M -> R) the symptom isolation ends */
    for (uint32_t i = 0; i < N; i++) {
        int16_t until = c->next_day[i];
        uint32_t ev = civ_progress(&s->model, &pol, 5, row, &c->a, i, until);
        if (c->stage[i] != CIV_R || (c->flags[i] & CIV_FLAG_ISO_SYMPTOMS) || !(ev & (1u << CIV_FLOW_RECOVERED)))
            fail_msg("agent %u: stage %d after recovery", i, c->stage[i]);
    }
    free(c);
    free_study(s);
}

static void test_testing_result_and_isolation(void **state)
{
    (void)state;
    civ_study *s = load_study();
    civ_covid_params *m = &s->model;
    assert_float_equal(m->test_sensitivity, 0.8, 1e-7);   /* params.json test_sensitivity */
    cohort *c = cohort_new(45, CIV_M, CIV_COURSE_SYMPTOMATIC);
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0.4f;
    pol.test_capacity_ratio = 0.5f;   /* the engine's share of seekers who get a test today */
    pol.test_screen_probability = 0;
    pol.test_delay_days = 3;
    pol.isolation_days = 7;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0.6f);
    long sought = 0, tested = 0, positive = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t ev = civ_progress(m, &pol, 7, row, &c->a, i, 10);
        const int seek = (ev >> CIV_FLOW_SOUGHT_TEST) & 1, test = (ev >> CIV_FLOW_TESTED) & 1, rep = (ev >> CIV_FLOW_REPORTED) & 1;
        if ((test && !seek) || (rep && !test)) fail_msg("agent %u: events %#x", i, ev);
        sought += seek;
        if (!test) {
            if (c->flags[i]) fail_msg("agent %u not tested, flags %#x", i, c->flags[i]);
            continue;
        }
        tested++;
        if (!(c->flags[i] & CIV_FLAG_TEST_PENDING) || c->test_day[i] != 13) fail_msg("agent %u: result due day %d", i, c->test_day[i]);
        /* a positive test is a case on the day it is taken */
        if (rep != ((c->flags[i] & CIV_FLAG_TEST_WILL_BE_POS) != 0)) fail_msg("agent %u: reported %d, flags %#x", i, rep, c->flags[i]);
        positive += rep;
        if (c->flags[i] & CIV_FLAG_CONFIRMED) fail_msg("agent %u confirmed before the result", i);
    }
    check_binomial("seeking a test (seek 0.4)", sought, N, 0.4);
    check_binomial("tested among seekers (capacity ratio 0.5)", tested, sought, 0.5);
    check_binomial("positive among tested (sensitivity 0.8)", positive, tested, 0.8);
    /* nobody seeks a new test from now on: only the day-10 tests move; results on day 13 */
    pol.test_seek_probability = 0;
    long confirmed[3] = {0}, complied = 0;
    for (int day = 11; day <= 13; day++)
        for (uint32_t i = 0; i < N; i++) {
            uint8_t before = c->flags[i];
            uint32_t ev = civ_progress(m, &pol, 7, row, &c->a, i, day);
            if (ev) fail_msg("agent %u: events %#x on day %d", i, ev, day);
            if ((c->flags[i] & CIV_FLAG_CONFIRMED) && !(before & CIV_FLAG_CONFIRMED)) {
                confirmed[day - 11]++;
                if (!(before & CIV_FLAG_TEST_WILL_BE_POS)) fail_msg("agent %u: confirmed without a positive test", i);
            }
            if (day < 13 && c->flags[i] != before) fail_msg("agent %u: flags changed on day %d", i, day);
            if (day == 13 && c->iso_until[i] > -32000) {
                complied++;
                assert_true(before & CIV_FLAG_TEST_WILL_BE_POS);
                assert_int_equal(c->iso_until[i], 13 + 7);
                assert_true(civ_isolating(&c->a, i, 19));
                assert_false(civ_isolating(&c->a, i, 20));
            }
        }
    assert_int_equal(confirmed[0], 0);
    assert_int_equal(confirmed[1], 0);
    assert_int_equal(confirmed[2], positive);
    check_binomial("isolating after a positive result (comply 0.6)", complied, positive, 0.6);
    /* no result pending any more; the confirmed are never retested, the rest (negatives and the untested)
       may seek again */
    pol.test_seek_probability = 1;
    long retested = 0, others = 0;
    for (uint32_t i = 0; i < N; i++) {
        int conf = (c->flags[i] & CIV_FLAG_CONFIRMED) != 0;
        assert_false(c->flags[i] & (CIV_FLAG_TEST_PENDING | CIV_FLAG_TEST_WILL_BE_POS));
        uint32_t ev = civ_progress(m, &pol, 7, row, &c->a, i, 14);
        if (conf && ev) fail_msg("confirmed agent %u sought a test (events %#x)", i, ev);
        if (!conf && !(ev & (1u << CIV_FLOW_SOUGHT_TEST))) fail_msg("agent %u did not seek a test at seek 1", i);
        others += !conf;
        retested += !conf && (ev & (1u << CIV_FLOW_TESTED));
    }
    check_binomial("the rest tested again (seek 1 x capacity 0.5)", retested, others, 0.5);
    free(c);
    free_study(s);
}

/* Screening: infected agents without symptoms (presymptomatic, asymptomatic) are tested with the day's
 * screening probability; those tests are counted on the host (no seeker or test event here), a positive one
 * is a case that day. The symptomatic, the uninfected and the recovered are never screened. */
static void test_screening(void **state)
{
    (void)state;
    civ_study *s = load_study();
    const civ_covid_params *m = &s->model;
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0;
    pol.test_capacity_ratio = 1;
    pol.test_screen_probability = 0.1f;
    pol.test_delay_days = 2;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 1);
    const struct { int stage; uint8_t course; } k[] = {{CIV_A, 0}, {CIV_P, CIV_COURSE_SYMPTOMATIC}};
    for (int j = 0; j < 2; j++) {
        cohort *c = cohort_new(30, k[j].stage, k[j].course);
        long screened = 0, reported = 0;
        for (uint32_t i = 0; i < N; i++) {
            uint32_t ev = civ_progress(m, &pol, 21, row, &c->a, i, 8);
            if (ev & ~(1u << CIV_FLOW_REPORTED)) fail_msg("agent %u: events %#x", i, ev);
            if (!(c->flags[i] & CIV_FLAG_TEST_PENDING)) continue;
            screened++;
            assert_int_equal(c->test_day[i], 10);
            if (((ev >> CIV_FLOW_REPORTED) & 1) != ((c->flags[i] & CIV_FLAG_TEST_WILL_BE_POS) != 0)) fail_msg("agent %u", i);
            reported += (ev >> CIV_FLOW_REPORTED) & 1;
        }
        check_binomial("screened (p 0.1)", screened, N, 0.1);
        check_binomial("positive among screened (sensitivity 0.8)", reported, screened, 0.8);
        free(c);
    }
    /* never screened, even at probability 1 */
    pol.test_screen_probability = 1;
    const struct { int stage; uint8_t course; } never[] = {{CIV_S, 0}, {CIV_E, 0}, {CIV_M, CIV_COURSE_SYMPTOMATIC},
        {CIV_V, CIV_COURSE_SYMPTOMATIC | CIV_COURSE_SEVERE}, {CIV_H, CIV_COURSE_SYMPTOMATIC | CIV_COURSE_SEVERE}, {CIV_R, 0}};
    cohort *c = cohort_new(30, CIV_S, 0);
    for (size_t j = 0; j < sizeof never / sizeof never[0]; j++)
        for (uint32_t i = 0; i < 1000; i++) {
            c->stage[i] = (uint8_t)never[j].stage;
            c->course[i] = never[j].course;
            c->flags[i] = 0;
            civ_progress(m, &pol, 21, row, &c->a, i, 8);
            if (c->flags[i] & CIV_FLAG_TEST_PENDING) fail_msg("agent %u in stage %d screened", i, never[j].stage);
        }
    /* and nobody without symptoms is tested when screening is off */
    pol.test_screen_probability = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        c->stage[i] = CIV_A;
        c->flags[i] = 0;
        civ_progress(m, &pol, 21, row, &c->a, i, 8);
        assert_int_equal(c->flags[i], 0);
    }
    free(c);
    free_study(s);
}

/* Access to testing by borough: a resident's seek and screening probabilities are the day's times the
 * access of the borough they live in (Bronx 0.5, Staten Island 2 here; the others 1). */
static void test_access_by_borough(void **state)
{
    (void)state;
    civ_study *s = load_study();
    const civ_covid_params *m = &s->model;
    civ_policy pol = s->base_policy;
    for (int b = 0; b < CIV_NBOROUGH; b++) assert_float_equal(pol.test_access[b], 1.0, 0);   /* no file: 1 */
    pol.test_access[CIV_BX] = 0.5f;
    pol.test_access[CIV_SI] = 2.0f;
    pol.test_capacity_ratio = 1;
    pol.test_delay_days = 2;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 1);
    const struct { int stage; uint8_t course; float seek, screen; } k[] = {
        {CIV_M, CIV_COURSE_SYMPTOMATIC, 0.2f, 0.0f},   /* symptomatic: seeks at 0.2 x access */
        {CIV_A, 0, 0.0f, 0.15f},                       /* without symptoms: screened at 0.15 x access */
    };
    for (int j = 0; j < 2; j++) {
        cohort *c = cohort_new(30, k[j].stage, k[j].course);
        pol.test_seek_probability = k[j].seek;
        pol.test_screen_probability = k[j].screen;
        long tested[CIV_NBOROUGH] = {0}, n[CIV_NBOROUGH] = {0};
        for (uint32_t i = 0; i < N; i++) {
            const int b = (int)(i % CIV_NBOROUGH);
            c->borough[i] = (uint8_t)b;
            civ_progress(m, &pol, 5, row, &c->a, i, 8);
            n[b]++;
            tested[b] += (c->flags[i] & CIV_FLAG_TEST_PENDING) != 0;
        }
        const double p = k[j].seek + k[j].screen;
        check_binomial("tested in the Bronx (access 0.5)", tested[CIV_BX], n[CIV_BX], 0.5 * p);
        check_binomial("tested in Brooklyn (access 1)", tested[CIV_BK], n[CIV_BK], p);
        check_binomial("tested on Staten Island (access 2)", tested[CIV_SI], n[CIV_SI], 2 * p);
        free(c);
    }
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
    pol.test_screen_probability = 0;
    float row[CIV_N_DECISION];
    set_row(row, 1, 1, 1);
    long tested = 0, admitted = 0, unconfirmed = 0;
    for (uint32_t i = 0; i < N; i++) {
        c->next_day[i] = 30;
        /* a third already confirmed, a third waiting for a result, a third neither */
        const uint8_t prior = i % 3 == 1 ? CIV_FLAG_CONFIRMED : i % 3 == 2 ? CIV_FLAG_TEST_PENDING : 0;
        c->flags[i] = CIV_FLAG_ISO_SYMPTOMS | prior;
        c->test_day[i] = 40;
        uint32_t ev = civ_progress(m, &pol, 3, row, &c->a, i, 30);
        admitted += (ev >> CIV_FLOW_HOSPITALISED) & 1;
        assert_int_equal(c->stage[i], CIV_H);
        assert_false(c->flags[i] & CIV_FLAG_ISO_SYMPTOMS);
        if (prior) { assert_false(ev & ((1u << CIV_FLOW_TESTED) | (1u << CIV_FLOW_REPORTED))); continue; }
        unconfirmed++;
        if (ev & (1u << CIV_FLOW_TESTED)) {
            tested++;
            assert_int_equal(c->test_day[i], 31);
            assert_true(c->flags[i] & CIV_FLAG_TEST_WILL_BE_POS);   /* hospital tests find every case */
            assert_true(ev & (1u << CIV_FLOW_REPORTED));             /* a case on the day of admission */
        } else {
            assert_false(ev & (1u << CIV_FLOW_REPORTED));
        }
    }
    assert_int_equal(admitted, N);
    check_binomial("tested on admission (p 0.7)", tested, unconfirmed, 0.7);
    /* the result the next day confirms them, without a second report */
    long newly_confirmed = 0;
    for (uint32_t i = 0; i < N; i += 3) {
        uint32_t ev = civ_progress(m, &pol, 3, row, &c->a, i, 31);
        assert_false(ev & (1u << CIV_FLOW_REPORTED));
        newly_confirmed += (c->flags[i] & CIV_FLAG_CONFIRMED) != 0;
    }
    assert_int_equal(newly_confirmed, tested);
    /* dying without an admission (V -> D): no admission, no admission test; a care-home resident's death
       is also one in the home (every third agent here lives in a care home) */
    for (uint32_t i = 0; i < 1000; i++) {
        c->stage[i] = CIV_V;
        c->course[i] = CIV_COURSE_SYMPTOMATIC | CIV_COURSE_SEVERE | CIV_COURSE_DIES | CIV_COURSE_OUTSIDE;
        c->residence[i] = (uint8_t)(i % 3 == 0 ? CIV_RES_CARE_HOME : CIV_RES_HOUSEHOLD);
        c->next_day[i] = 50;
        c->flags[i] = CIV_FLAG_ISO_SYMPTOMS;
        uint32_t ev = civ_progress(m, &pol, 3, row, &c->a, i, 50);
        const uint32_t in_home = i % 3 == 0 ? 1u << CIV_FLOW_DIED_IN_CARE_HOME : 0u;
        assert_int_equal(ev, (1u << CIV_FLOW_DIED) | (1u << CIV_FLOW_DIED_OUTSIDE) | in_home);
        assert_int_equal(c->stage[i], CIV_D);
        assert_int_equal(c->flags[i], 0);
    }
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
        c->place[i] = i % 10 == 9 ? SCHOOL : i % 10 == 7 ? CARE_HOME : WORKPLACE;   /* pupils who work, care-home staff: never laid off */
        if (i % 10 == 8) { c->labour[i] = CIV_UNEMPLOYED; c->place[i] = CIV_NO_PLACE; }   /* no workplace to return to */
    }
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0;
    pol.test_screen_probability = 0;
    pol.work_closed = 1;
    pol.essential_share = 0.3f;
    pol.layoff_probability = 0.05f;
    pol.rehire_probability = 0.2f;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0);
    long workers = 0, essential = 0, laid_off = 0, others = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t ev = civ_progress(&s->model, &pol, 11, row, &c->a, i, 3);
        int ess = civ_is_essential(&c->a, i, 0.3f);
        if (i % 10 >= 7) { others += ev != 0 || c->labour[i] != (i % 10 == 8 ? CIV_UNEMPLOYED : CIV_EMPLOYED); continue; }
        workers++;
        essential += ess;
        if (ev & (1u << CIV_FLOW_LAID_OFF)) {
            laid_off++;
            if (ess) fail_msg("essential worker %u laid off", i);
            assert_int_equal(c->labour[i], CIV_UNEMPLOYED);
        } else {
            assert_int_equal(c->labour[i], CIV_EMPLOYED);
        }
    }
    assert_int_equal(others, 0);
    check_binomial("essential workers (share 0.3)", essential, workers, 0.3);
    check_binomial("laid off on a closed day (p 0.05)", laid_off, workers - essential, 0.05);
    /* the next day, still closed: the laid off stay laid off */
    long rehired = 0;
    for (uint32_t i = 0; i < N; i++) rehired += (civ_progress(&s->model, &pol, 11, row, &c->a, i, 4) >> CIV_FLOW_REHIRED) & 1;
    assert_int_equal(rehired, 0);
    /* reopened: the laid off are rehired at their rate, nobody is laid off */
    pol.work_closed = 0;
    long unemployed = 0, layoffs_open = 0;
    rehired = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (i % 10 >= 7) continue;
        const int was = c->labour[i];
        unemployed += was == CIV_UNEMPLOYED;
        uint32_t ev = civ_progress(&s->model, &pol, 11, row, &c->a, i, 5);
        rehired += (ev >> CIV_FLOW_REHIRED) & 1;
        layoffs_open += (ev >> CIV_FLOW_LAID_OFF) & 1;
        if ((ev >> CIV_FLOW_REHIRED) & 1) assert_true(was == CIV_UNEMPLOYED && c->labour[i] == CIV_EMPLOYED);
    }
    assert_int_equal(layoffs_open, 0);
    assert_true(unemployed > 0);
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

static void policy_on(const civ_study *s, int day, civ_policy *p, double *comply, civ_testing_supply *sup)
{
    civ_study_policy(s, day, p, comply, sup);
}

static void test_policy_by_date(void **state)
{
    (void)state;
    /* nyc2020.json from 2020-03-01, without mobility data (exact factors) and with a fixed capacity */
    civ_study *s = load_variant("\"behavior\": {\"mobility\": null}, \"testing\": {\"capacity_file\": null, \"capacity_per_100k\": 30}");
    civ_policy p;
    civ_testing_supply sup;
    double comply;
    /* seek probabilities are the study's times testing.seek_scale 0.15 */
    /* 2020-03-01 (day 0): baseline testing (seek 0.1, delay 4, other seekers 120 per 100k), nothing closed */
    policy_on(s, 0, &p, &comply, &sup);
    assert_true(fabsf(p.test_seek_probability - 0.015f) < 1e-7f && p.test_delay_days == 4 && p.isolation_days == 10);
    assert_true(!p.schools_closed && !p.work_closed && comply < 0 && p.community_order == 1.0f);
    for (int b = 0; b < CIV_NBOROUGH; b++) assert_true(p.community_factor[b] == 1.0f && p.work_attendance[b] == 1.0f);
    assert_true(fabsf(p.beta - 2.0f) < 1e-6f);   /* nyc2020.json's beta */
    assert_true(p.test_capacity_ratio == 1.0f && p.test_screen_probability == 0.0f);   /* left to the engine */
    assert_true(sup.tests < 0 && sup.capacity_per_100k == 30 && sup.other_per_100k == 120);
    assert_true(fabsf(p.layoff_probability - 0.006f) < 1e-7f && fabsf(p.rehire_probability - 0.01f) < 1e-7f);
    /* 2020-03-15 (day 14): still the baseline; 2020-03-16 (day 15): schools close, testing expands (seek 0.2, delay 3) */
    policy_on(s, 14, &p, &comply, &sup);
    assert_true(!p.schools_closed && p.test_delay_days == 4);
    policy_on(s, 15, &p, &comply, &sup);
    assert_true(p.schools_closed && !p.work_closed && p.test_delay_days == 3);
    assert_true(fabsf(p.test_seek_probability - 0.03f) < 1e-7f);
    /* 2020-03-22 (day 21): PAUSE, essential share 0.4, isolation compliance 0.75 */
    policy_on(s, 20, &p, &comply, &sup);
    assert_true(!p.work_closed && comply < 0);
    policy_on(s, 21, &p, &comply, &sup);
    assert_true(p.work_closed && fabsf(p.essential_share - 0.4f) < 1e-7f && fabs(comply - 0.75) < 1e-12);
    /* 2020-04-15 (day 45): seek 0.35, delay 2 */
    policy_on(s, 44, &p, &comply, &sup);
    assert_true(p.test_delay_days == 3);
    policy_on(s, 45, &p, &comply, &sup);
    assert_true(p.test_delay_days == 2 && fabsf(p.test_seek_probability - 0.0525f) < 1e-7f);
    /* 2020-05-15 (day 75): seek 0.5, other seekers 150 per 100k */
    policy_on(s, 74, &p, &comply, &sup);
    assert_true(sup.other_per_100k == 120);
    policy_on(s, 75, &p, &comply, &sup);
    assert_true(fabsf(p.test_seek_probability - 0.075f) < 1e-7f && sup.other_per_100k == 150 && sup.capacity_per_100k == 30);
    /* 2020-06-08 (day 99): workplaces reopen, schools stay closed */
    policy_on(s, 98, &p, &comply, &sup);
    assert_true(p.work_closed);
    policy_on(s, 99, &p, &comply, &sup);
    assert_true(!p.work_closed && p.schools_closed && fabs(comply - 0.75) < 1e-12);
    /* seek_scale multiplies every seek probability (capped at 1) */
    s->seek_scale = 2.5;
    policy_on(s, 45, &p, &comply, &sup);
    assert_true(fabsf(p.test_seek_probability - 0.875f) < 1e-6f);
    s->seek_scale = 10;
    policy_on(s, 45, &p, &comply, &sup);
    assert_true(p.test_seek_probability == 1.0f);
    /* transmission after the stay-at-home order: from the first workplace closure on */
    s->beta_after_stay_at_home = 0.3;
    policy_on(s, 20, &p, &comply, &sup);
    assert_true(fabsf(p.beta - 2.0f) < 1e-6f);
    policy_on(s, 21, &p, &comply, &sup);
    assert_true(fabsf(p.beta - 0.3f) < 1e-7f);
    policy_on(s, 110, &p, &comply, &sup);   /* still after the reopening */
    assert_true(fabsf(p.beta - 0.3f) < 1e-7f);
    free_study(s);

    /* the study as shipped: community contacts and attendance of non-essential workers follow its mobility
       series, per borough and day (the orders' factor is 1: no community_contacts intervention); the day's
       tests are the city's count from its capacity file */
    s = load_study();
    assert_non_null(s->mobility.factor);
    assert_non_null(s->test_capacity.tests);
    const int days[] = {0, 21, 40, 99, s->steps - 1};
    for (size_t k = 0; k < sizeof days / sizeof days[0]; k++) {
        const int t = days[k];
        policy_on(s, t, &p, &comply, &sup);
        assert_true(p.community_order == 1.0f);
        for (int b = 0; b < CIV_NBOROUGH; b++) {
            if (p.community_factor[b] != s->mobility.factor[t][b] || p.work_attendance[b] != s->mobility.factor[t][b])
                fail_msg("day %d, borough %d: community %g, attendance %g, mobility %g", t, b, p.community_factor[b],
                         p.work_attendance[b], s->mobility.factor[t][b]);
        }
        assert_true(sup.tests == s->test_capacity.tests[t]);
    }
    /* mid-April the city moved far less than in early March, and tested far more */
    assert_true(s->mobility.factor[40][0] < 0.8f * s->mobility.factor[0][0]);
    assert_true(s->test_capacity.tests[40] > 10 * (s->test_capacity.tests[0] + 1));
    /* days past the run use its last day */
    policy_on(s, s->steps + 5, &p, &comply, &sup);
    assert_true(p.community_factor[2] == s->mobility.factor[s->steps - 1][2] && sup.tests == s->test_capacity.tests[s->steps - 1]);
    free_study(s);
}

/* The engine shares the day's tests out (host/engine/engine.c): yesterday's symptomatic seekers and the
 * people without COVID-19 seeking one (other_seekers_per_100k) get the same share, capacity / demand (at
 * most 1); capacity left over goes to screening with probability targeting x left / agents; the host counts
 * the other seekers' tests and the screening tests. Capacity is per 100k agents, or the city's count from
 * the capacity file times the population scale; with testing.access_file, each borough at its access. */
static void test_testing_supply_shared_out(void **state)
{
    (void)state;
    char csv[] = "/tmp/civitas_rules_tests_XXXXXX.csv";
    int fd = mkstemps(csv, 4);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "date,borough,people_tested_molecular,people_positive_molecular\n2020-03-01,NYC,20000,100\n2020-03-02,NYC,50000,100\n");
    fclose(f);
    char path[] = "/tmp/civitas_rules_study_XXXXXX.json", body[512];
    write_variant(path, "\"behavior\": {\"mobility\": null}, \"testing\": {\"capacity_file\": null,"
                        "\"capacity_per_100k\": 30, \"other_seekers_per_100k\": 60, \"screening_targeting\": 3}");
    sim m;
    civ_error err = {0};
    if (sim_load(&m, path, 0.002, 10, -1, 1, CIV_BACKEND_CPU, &err)) fail_msg("%s", err.msg);
    const double n = m.pop.n_agents, cap = 30 * n / 1e5;
    assert_true(n > 10000);
    const int64_t seekers = (int64_t)cap;
    struct { double capacity, other; int64_t seekers; double ratio, screen, host; } k[] = {
        /* seekers 0, others 60 per 100k: twice the capacity -> half get a test, nothing left to screen */
        {30, 60, 0, 0.5, 0, cap},
        /* as many seekers as tests (rounded down), plus the others: about a third */
        {30, 60, seekers, cap / (seekers + 2 * cap), 0, 2 * cap * cap / (seekers + 2 * cap)},
        /* demand a third of capacity: everyone is tested, the rest screens 3 x 20 per 100k */
        {30, 10, 0, 1, 3 * 20 / 1e5, cap},
        /* unlimited capacity: everyone tested, no screening; the host counts the others' tests */
        {0, 60, 500, 1, 0, 60 * n / 1e5},
    };
    for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
        m.s.test_capacity_per_100k = k[j].capacity;
        m.s.other_seekers_per_100k = k[j].other;
        m.e.seekers_yesterday = k[j].seekers;
        if (civ_engine_step(&m.e, &err)) fail_msg("%s", err.msg);
        const civ_policy *p = &m.e.policy;
        if (fabs(p->test_capacity_ratio - k[j].ratio) > 1e-6 || fabs(p->test_screen_probability - k[j].screen) > 1e-7 ||
            fabs(m.e.host_tests - k[j].host) > 1e-6 * cap)
            fail_msg("case %zu: ratio %g (expected %g), screening %g (%g), host tests %g (%g)", j, p->test_capacity_ratio,
                     k[j].ratio, p->test_screen_probability, k[j].screen, m.e.host_tests, k[j].host);
    }
    sim_close(&m);
    unlink(path);

    /* the city's count, scaled: 20,000 tests on 2020-03-01, 50,000 on 2020-03-02, at scale 0.002 */
    char path2[] = "/tmp/civitas_rules_study_XXXXXX.json";
    snprintf(body, sizeof body, "\"behavior\": {\"mobility\": null}, \"testing\": {\"capacity_file\": \"%s\","
                                "\"other_seekers_per_100k\": 0, \"screening_targeting\": 1}", csv);
    write_variant(path2, body);
    if (sim_load(&m, path2, 0.002, 10, -1, 1, CIV_BACKEND_CPU, &err)) fail_msg("%s", err.msg);
    const double scale = m.pop.scale, tests[2] = {20000 * scale, 50000 * scale};
    assert_true(fabs(scale - 0.002) < 1e-4);
    for (int day = 0; day < 2; day++) {
        m.e.seekers_yesterday = 10;
        if (civ_engine_step(&m.e, &err)) fail_msg("%s", err.msg);
        const double left = tests[day] - 10;
        assert_float_equal(m.e.policy.test_capacity_ratio, 1.0, 1e-7);
        assert_float_equal(m.e.policy.test_screen_probability, left / m.pop.n_agents, 1e-7);
        assert_float_equal(m.e.host_tests, left, 1e-6);
    }
    sim_close(&m);
    unlink(path2);

    /* access by borough: BX holds a third of the negative tests, the others a sixth each; each borough's
       access is its share over its share of the agents, and the host's tests (others and screening, about 500
       here; nobody seeks) go to the boroughs in proportion to agents x access, that is to their shares, not
       to their agents (the Bronx has about 17% of them) */
    char acc[] = "/tmp/civitas_rules_access_XXXXXX.csv";
    fd = mkstemps(acc, 4);
    f = fdopen(fd, "w");
    fprintf(f, "snapshot_date,borough,cum_people_tested,cum_people_positive\n2020-02-01,BX,300,100\n"
               "2020-02-01,BK,150,50\n2020-02-01,MN,100,0\n2020-02-01,QN,100,0\n2020-02-01,SI,120,20\n");
    fclose(f);
    char path3[] = "/tmp/civitas_rules_study_XXXXXX.json";
    snprintf(body, sizeof body, "\"behavior\": {\"mobility\": null}, \"testing\": {\"capacity_file\": null,"
                                "\"seek_probability\": 0, \"capacity_per_100k\": 3000, \"other_seekers_per_100k\": 60,"
                                "\"access_file\": \"%s\"}", acc);
    write_variant(path3, body);
    if (sim_load(&m, path3, 0.002, 10, -1, 1, CIV_BACKEND_CPU, &err)) fail_msg("%s", err.msg);
    const double share[CIV_NBOROUGH] = {1.0 / 3, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6}, n3 = m.pop.n_agents;
    m.e.seekers_yesterday = 0;
    if (civ_engine_step(&m.e, &err)) fail_msg("%s", err.msg);
    double mean = 0;
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        const double nb = (double)m.e.borough_pop[b];
        assert_float_equal(m.e.policy.test_access[b], share[b] * n3 / nb, 1e-5);
        mean += nb * m.e.policy.test_access[b] / n3;
        int64_t tests = 0;
        for (int k = 0; k < m.e.n_out_bands; k++)
            tests += m.e.series[(CIV_VAR_NEW_TESTS * CIV_NBOROUGH + b) * m.e.n_out_bands + k];
        const double want = 3000 * n3 / 1e5 * share[b];   /* the others' tests and screening: the whole capacity */
        if (fabs((double)tests - want) > m.e.n_out_bands)
            fail_msg("borough %d: %lld tests, expected %.1f", b, (long long)tests, want);
    }
    assert_float_equal(mean, 1.0, 1e-5);   /* the residents' mean access is 1 */
    sim_close(&m);
    unlink(path3);
    unlink(acc);
    unlink(csv);
}

/* What one agent adds to the day's series (covid_step.h): isolating = isolating at the start of the day,
 * alive and not in hospital; working = an employed agent at its workplace or care home (pupils at school are
 * not); labour status 0 once dead. */
static void test_tallies(void **state)
{
    (void)state;
    civ_study *s = load_study();
    const civ_covid_params *m = &s->model;
    cohort *c = cohort_new(40, CIV_R, 0);
    civ_policy pol = s->base_policy;
    pol.test_seek_probability = 0;
    pol.test_screen_probability = 0;
    pol.work_closed = pol.schools_closed = 0;
    for (int b = 0; b < CIV_NBOROUGH; b++) pol.work_attendance[b] = 1.0f;
    float row[CIV_N_DECISION];
    set_row(row, 0, 1, 0);
    uint64_t *hh = calloc(N, sizeof *hh), place[N_PLACES] = {0}, tract[CIV_N_PREM] = {0};
    float pressure[CIV_N_PREM] = {0};
    const civ_groups g = {hh, place, tract, pressure};
    const int day = 12;
    struct { int stage, iso, labour, place; int isolating, working, labour_out; } k[] = {
        {CIV_R, 0, CIV_EMPLOYED, WORKPLACE, 0, 1, CIV_EMPLOYED},   /* at work */
        {CIV_R, 0, CIV_EMPLOYED, CARE_HOME, 0, 1, CIV_EMPLOYED},   /* care-home staff at work */
        {CIV_R, 0, CIV_EMPLOYED, SCHOOL, 0, 0, CIV_EMPLOYED},      /* employed pupil at school: not working */
        {CIV_R, 0, CIV_NOT_IN_LABOUR_FORCE, SCHOOL, 0, 0, CIV_NOT_IN_LABOUR_FORCE},
        {CIV_R, 0, CIV_UNEMPLOYED, WORKPLACE, 0, 0, CIV_UNEMPLOYED},
        {CIV_R, 1, CIV_EMPLOYED, WORKPLACE, 1, 0, CIV_EMPLOYED},   /* isolating after a positive test */
        {CIV_H, 1, CIV_EMPLOYED, WORKPLACE, 0, 0, CIV_EMPLOYED},   /* in hospital: not counted as isolating */
        {CIV_D, 1, CIV_EMPLOYED, WORKPLACE, 0, 0, 0},              /* dead: neither, and out of the labour counts */
    };
    for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
        c->stage[j] = (uint8_t)k[j].stage;
        c->next_day[j] = NEVER;
        c->iso_until[j] = (int16_t)(k[j].iso ? day + 3 : -32000);
        c->labour[j] = (uint8_t)k[j].labour;
        c->place[j] = k[j].place;
        civ_pass_attend(m, &pol, 1, row, &c->a, &g, (uint32_t)j, day);
        civ_tally r = civ_pass_update(m, &pol, 1, row, &c->a, &g, (uint32_t)j, day);
        if (r.isolating != k[j].isolating || r.working != k[j].working || r.labour != k[j].labour_out ||
            r.stage != k[j].stage || r.infected || r.events)
            fail_msg("case %zu: isolating %d, working %d, labour %d, stage %d, infected %d, events %#x", j, r.isolating,
                     r.working, r.labour, r.stage, r.infected, r.events);
    }
    /* a susceptible under certain infection (household sum huge) is infected and counted once */
    c->stage[20] = CIV_S;
    hh[20] = (uint64_t)1000 * 65536;
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 20, day);
    civ_tally r = civ_pass_update(m, &pol, 1, row, &c->a, &g, 20, day);
    assert_true(r.infected && r.stage == CIV_E && c->infected_day[20] == day);
    /* with no infectiousness around, nobody is infected */
    c->stage[21] = CIV_S;
    civ_pass_attend(m, &pol, 1, row, &c->a, &g, 21, day);
    r = civ_pass_update(m, &pol, 1, row, &c->a, &g, 21, day);
    assert_true(!r.infected && r.stage == CIV_S);
    free(hh);
    free(c);
    free_study(s);
}

static void test_interventions_in_date_order(void **state)
{
    (void)state;
    /* listed out of order; two on 2020-03-05: the later entry wins; no mobility data: the factor is the orders' */
    civ_study *s = load_variant("\"behavior\": {\"mobility\": null}, \"testing\": {\"isolation_days\": 7}, \"interventions\": ["
                                "{\"date\": \"2020-03-05\", \"type\": \"community_contacts\", \"factor\": 0.5},"
                                "{\"date\": \"2020-03-05\", \"type\": \"community_contacts\", \"factor\": 0.2},"
                                "{\"date\": \"2020-03-03\", \"type\": \"community_contacts\", \"factor\": 0.9}]");
    const float want[6] = {1.0f, 1.0f, 0.9f, 0.9f, 0.2f, 0.2f};
    for (int day = 0; day < 6; day++) {
        civ_policy p;
        civ_testing_supply sup;
        double comply;
        civ_study_policy(s, day, &p, &comply, &sup);
        if (fabsf(p.community_order - want[day]) > 1e-7f) fail_msg("day %d: order %g, expected %g", day, p.community_order, want[day]);
        for (int b = 0; b < CIV_NBOROUGH; b++)
            if (fabsf(p.community_factor[b] - want[day]) > 1e-7f)
                fail_msg("day %d, borough %d: factor %g, expected %g", day, b, p.community_factor[b], want[day]);
        assert_int_equal(p.isolation_days, 7);   /* testing.isolation_days (nyc2020 has 10) */
    }
    free_study(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hazard_term_by_term),
        cmocka_unit_test(test_household_size_scales_the_household_term),
        cmocka_unit_test(test_outside_exposure_by_group),
        cmocka_unit_test(test_older_adults_distancing),
        cmocka_unit_test(test_infectiousness),
        cmocka_unit_test(test_who_mixes_where),
        cmocka_unit_test(test_course_and_latent_period),
        cmocka_unit_test(test_isolation_decision_at_onset),
        cmocka_unit_test(test_testing_result_and_isolation),
        cmocka_unit_test(test_screening),
        cmocka_unit_test(test_access_by_borough),
        cmocka_unit_test(test_admission_test),
        cmocka_unit_test(test_layoffs_and_rehires),
        cmocka_unit_test(test_policy_by_date),
        cmocka_unit_test(test_testing_supply_shared_out),
        cmocka_unit_test(test_interventions_in_date_order),
        cmocka_unit_test(test_tallies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
