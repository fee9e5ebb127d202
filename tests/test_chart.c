/* Numbers as people read them: axis ticks at round values labelled exactly (12.5 stays 12.5), log
 * ticks, counts rounded to three significant figures with thousands separated, the population scale
 * stated; and the interval and paired-difference arithmetic of the ensemble tables, by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/output/ensemble_stats.h"
#include "host/output/svg_chart.h"
#include "host/output/units.h"

static void test_linear_ticks(void **state)
{
    (void)state;
    double t[64];
    /* a peak of 12.3: steps of 2.5 up to 12.5 */
    int n = civ_linear_ticks(12.3, 5, t, 64);
    assert_int_equal(n, 6);
    for (int k = 0; k < n; k++) assert_true(fabs(t[k] - 2.5 * k) < 1e-12);
    char buf[32];
    static const char *const want[6] = {"0", "2.5", "5", "7.5", "10", "12.5"};
    for (int k = 0; k < n; k++) {
        civ_tick_label(t[k], 2.5, buf, sizeof buf);
        assert_string_equal(buf, want[k]);
    }
    /* 4,100: steps of 1,000 to 5,000 */
    n = civ_linear_ticks(4100, 5, t, 64);
    assert_int_equal(n, 6);
    assert_true(t[5] == 5000);
    civ_tick_label(3000, 1000, buf, sizeof buf);
    assert_string_equal(buf, "3,000");
    /* large values in k and M, with the step's digits */
    civ_tick_label(12500, 2500, buf, sizeof buf);
    assert_string_equal(buf, "12.5k");
    civ_tick_label(1250000, 250000, buf, sizeof buf);
    assert_string_equal(buf, "1.25M");
    civ_tick_label(0.25, 0.05, buf, sizeof buf);
    assert_string_equal(buf, "0.25");
    /* nothing to draw: one unit */
    n = civ_linear_ticks(0, 5, t, 64);
    assert_true(n >= 2 && t[n - 1] == 1);
}

static void test_log_ticks(void **state)
{
    (void)state;
    double t[64];
    /* 3 to 800 spans under three decades: 1, 2, 5 x 10^k from 1 to 1000 */
    int n = civ_log_ticks(3, 800, t, 64);
    static const double want[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
    assert_int_equal(n, 10);
    for (int k = 0; k < n; k++) assert_true(fabs(t[k] - want[k]) < 1e-9 * want[k]);
    /* 0.5 to 2e6: powers of ten only */
    n = civ_log_ticks(0.5, 2e6, t, 64);
    assert_int_equal(n, 9);
    assert_true(fabs(t[0] - 0.1) < 1e-12 && fabs(t[8] - 1e7) < 1e-3);
    char buf[32];
    civ_tick_label(0.1, 0.1, buf, sizeof buf);
    assert_string_equal(buf, "0.1");
    civ_tick_label(1e7, 1e7, buf, sizeof buf);
    assert_string_equal(buf, "10M");
}

static void test_counts(void **state)
{
    (void)state;
    char buf[32];
    civ_fmt_count(1234567, 3, buf, sizeof buf);
    assert_string_equal(buf, "1,230,000");
    civ_fmt_count(-4321, 3, buf, sizeof buf);
    assert_string_equal(buf, "-4,320");
    civ_fmt_count(12.5, 3, buf, sizeof buf);
    assert_string_equal(buf, "13");
    civ_fmt_count(999.6, 3, buf, sizeof buf);
    assert_string_equal(buf, "1,000");
    civ_fmt_count(0, 3, buf, sizeof buf);
    assert_string_equal(buf, "0");
    civ_fmt_count(NAN, 3, buf, sizeof buf);
    assert_string_equal(buf, "-");
    /* 7 agents at scale 0.003 are 2,333.3 people */
    assert_true(fabs(civ_real(7, 0.003) - 7 / 0.003) < 1e-9);
    char text[200];
    civ_scale_statement(0.05, text, sizeof text);
    assert_non_null(strstr(text, "population scale 0.05 (one simulated person for 20 New Yorkers)"));
    civ_scale_statement(1, text, sizeof text);
    assert_non_null(strstr(text, "full city"));
}

static void test_intervals_and_pairs(void **state)
{
    (void)state;
    /* 1, 2, 4, 10 (any order): median 3, 5% = 1 + 0.15 x 1 = 1.15, 95% = 4 + 0.85 x 6 = 9.1 */
    const double v[4] = {10, 1, 4, 2};
    civ_interval iv = civ_interval_of(v, 4);
    assert_true(fabs(iv.median - 3) < 1e-12 && fabs(iv.p05 - 1.15) < 1e-12 && fabs(iv.p95 - 9.1) < 1e-12);
    /* two studies x 2 runs: the scenario's run k against the base's run k (not sorted first) */
    civ_ens e;
    memset(&e, 0, sizeof e);
    e.n_studies = 2;
    e.seeds = 2;
    e.n_runs = 4;
    int64_t seeds[4] = {7, 8, 7, 9};
    int32_t sets[4] = {3, 1, 3, 2};
    e.seed = seeds;
    e.posterior_set = sets;
    double tot[4 * CIV_N_AREAS] = {0};
    tot[0 * CIV_N_AREAS] = 100;   /* base run 0 */
    tot[1 * CIV_N_AREAS] = 10;    /* base run 1 */
    tot[2 * CIV_N_AREAS] = 90;    /* scenario run 0: averts 10 */
    tot[3 * CIV_N_AREAS] = 30;    /* scenario run 1: 20 more than its base run */
    double diff[2 * CIV_N_AREAS];
    civ_averted(&e, tot, 1, diff);
    assert_true(diff[0] == 10 && diff[CIV_N_AREAS] == -20);
    int same_seed, same_draw;
    civ_pairing(&e, 1, &same_seed, &same_draw);
    assert_int_equal(same_seed, 1);
    assert_int_equal(same_draw, 1);
    /* outcome totals over days 1..2 of a 3-day series, and as person-months */
    double series[4 * 3 * CIV_N_AREAS];
    for (int k = 0; k < 4 * 3 * CIV_N_AREAS; k++) series[k] = 1;   /* one per day and area */
    e.steps = 3;
    double out[4 * CIV_N_AREAS];
    civ_outcome_totals(&e, series, false, 1, 2, out);
    assert_true(out[0] == 2 && out[3 * CIV_N_AREAS + 5] == 2);
    civ_outcome_totals(&e, series, true, 0, 2, out);
    assert_true(fabs(out[0] - 3 / (365.25 / 12)) < 1e-12);

    /* bands over a study's runs: run k of the base has (k + 1) x t on day t in the city; as 7-day trailing
       means on day 9 (days 3-9, mean t = 6): 6, 12, 18 -> 5% 6.6, median 12, 95% 17.4; day by day: 9, 18, 27 */
    enum { T = 10 };
    e.seeds = 3;
    e.n_runs = 6;
    e.steps = T;
    double *runs = calloc((size_t)6 * T * CIV_N_AREAS, sizeof(double));
    for (int k = 0; k < 3; k++)
        for (int t = 0; t < T; t++) runs[((size_t)k * T + t) * CIV_N_AREAS] = (k + 1) * t;
    double lo[CIV_N_AREAS * T], med[CIV_N_AREAS * T], hi[CIV_N_AREAS * T];
    civ_study_bands(&e, runs, 0, true, lo, med, hi);
    assert_true(fabs(lo[9] - 6.6) < 1e-12 && fabs(med[9] - 12) < 1e-12 && fabs(hi[9] - 17.4) < 1e-12);
    assert_true(fabs(med[3] - 2 * 1.5) < 1e-12);   /* day 3: the mean of days 0-3 */
    civ_study_bands(&e, runs, 0, false, lo, med, hi);
    assert_true(fabs(med[9] - 18) < 1e-12 && fabs(lo[9] - 9.9) < 1e-12);
    free(runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_ticks),
        cmocka_unit_test(test_log_ticks),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_intervals_and_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
