/* Calibration's arithmetic against hand-computed values: the negative binomial and serosurvey terms,
 * the priors (densities, coordinates, sampling, intervals), the ABC-SMC pieces (weights, ESS,
 * quantiles, kernel), JSON paths into a study, and posterior files with their per-run draws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/study/posterior.h"
#include "host/util/json_path.h"
#include "host/workflows/calibrate_likelihood.h"
#include "host/workflows/calibrate_prior.h"
#include "host/workflows/calibrate_sampler.h"
#include "models/covid/covid_step.h"

#define LOG_SQRT_2PI 0.91893853320467274178

static void test_negative_binomial(void **state)
{
    (void)state;
    /* k = 1 is the geometric: P(0) = k / (k + mu) = 1/3; P(3) = (1/3) (2/3)^3 = 8/81 */
    assert_float_equal(civ_nb_log_pmf(0, 2, 1), log(1.0 / 3), 1e-12);
    assert_float_equal(civ_nb_log_pmf(3, 2, 1), log(8.0 / 81), 1e-12);
    /* y = 2, mu = 3, k = 2: Gamma(4) / (Gamma(2) 2!) (2/5)^2 (3/5)^2 = 3 * 0.16 * 0.36 = 0.1728 */
    assert_float_equal(civ_nb_log_pmf(2, 3, 2), log(0.1728), 1e-12);
    /* a very large size is the Poisson: e^-3 3^4 / 4! */
    assert_float_equal(civ_nb_log_pmf(4, 3, 1e9), -3 + 4 * log(3.0) - log(24.0), 1e-6);
    /* a distribution: sums to 1, mean mu, variance mu + mu^2 / k */
    double s = 0, m = 0, v = 0;
    for (int y = 0; y < 2000; y++) {
        double p = exp(civ_nb_log_pmf(y, 5, 2));
        s += p; m += y * p; v += (y - 5.0) * (y - 5.0) * p;
    }
    assert_float_equal(s, 1, 1e-9);
    assert_float_equal(m, 5, 1e-7);
    assert_float_equal(v, 5 + 25 / 2.0, 1e-6);
    /* real-city counts: large y and mu stay finite */
    assert_true(isfinite(civ_nb_log_pmf(250000, 180000, 10)) && civ_nb_log_pmf(250000, 180000, 10) < 0);
}

static void test_serosurvey_term(void **state)
{
    (void)state;
    civ_sero_target t = {.day = 44, .share = 0.227, .ci_low = 0.215, .ci_high = 0.240, .min_age = 18, .borough = -1};
    /* sd = (logit 0.24 - logit 0.215) / 3.919928 = (-1.1526795 + 1.2949947) / 3.919928 = 0.0363186 */
    assert_float_equal(civ_sero_sd_logit(&t), 0.03631857035112035, 1e-12);
    /* at the survey's share: -log of the normal's peak, log(sd) + log sqrt(2 pi) */
    assert_float_equal(civ_sero_nll(&t, 0.227), log(0.03631857035112035) + LOG_SQRT_2PI, 1e-12);
    /* at 30%: z = (logit 0.3 - logit 0.227) / sd = (-0.8472979 + 1.2252811) / 0.0363186 = 10.4074 */
    assert_float_equal(civ_sero_nll(&t, 0.30), 51.774622826672086, 1e-9);
    assert_float_equal(civ_sero_nll(&t, 0.10), 355.6601253842877, 1e-9);
    /* no infections at all: finite (the share is clamped to 1e-6) */
    assert_true(isfinite(civ_sero_nll(&t, 0)));
}

static void test_weekly_bins_and_terms(void **state)
{
    (void)state;
    /* 15 days, fit through day 13: weekly bins are days 7-13 and 0-6 (the last ends on the last fitted day) */
    enum { T = 15 };
    civ_observed obs = {0};
    int32_t cases[T * CIV_NBOROUGH] = {0}, zero[T * CIV_NBOROUGH] = {0};
    for (int d = 0; d < T; d++) cases[d * CIV_NBOROUGH + 0] = 10 * d;     /* Bronx only */
    obs.steps = T; obs.cases = cases; obs.hospitalized = zero; obs.deaths = zero;
    civ_fit_data f = {0};
    f.n_targets = 1;
    f.targets[0] = (civ_count_target){CIV_FIT_CASES, 0, 7, 4.0, 0};
    f.fit_day = 13; f.days = T; f.scale = 0.5; f.obs = &obs; f.n_bands = 1;
    assert_int_equal(civ_fit_target_observations(&f, 0), 2);
    f.targets[0].first_day = 1;        /* the bin 0-6 no longer fits */
    assert_int_equal(civ_fit_target_observations(&f, 0), 1);
    f.targets[0].first_day = 0;
    civ_fit_run r;
    civ_fit_run_start(&r, &f);
    int32_t series[CIV_N_VARS * CIV_NBOROUGH];
    for (int d = 0; d < T; d++) {
        memset(series, 0, sizeof series);
        series[CIV_VAR_NEW_REPORTED_CASES * CIV_NBOROUGH + 1] = 2;   /* 2 a day in Brooklyn, simulated */
        civ_fit_run_day(&r, d, series);
        if (d == 6) {   /* city totals: observed 0 + 10 + ... + 60 = 210, simulated 14 / scale 0.5 = 28 */
            assert_float_equal(r.total, -civ_nb_log_pmf(210, 28, 4), 1e-9);
        }
    }
    /* days 7-13: observed 70 + ... + 130 = 700, simulated 28; day 14 is not fitted */
    assert_float_equal(r.total, -civ_nb_log_pmf(210, 28, 4) - civ_nb_log_pmf(700, 28, 4), 1e-9);
    assert_float_equal(r.terms[0], r.total, 1e-12);
    civ_fit_run_free(&r);
    /* a target from day 1 on: the bin 0-6 reaches before it and is not scored, only days 7-13 */
    f.targets[0].first_day = 1;
    civ_fit_run_start(&r, &f);
    for (int d = 0; d < T; d++) {
        memset(series, 0, sizeof series);
        series[CIV_VAR_NEW_REPORTED_CASES * CIV_NBOROUGH + 1] = 2;
        civ_fit_run_day(&r, d, series);
    }
    assert_float_equal(r.total, -civ_nb_log_pmf(700, 28, 4), 1e-9);
    civ_fit_run_free(&r);
    f.targets[0].first_day = 0;
    /* per borough, a simulated zero counts as half an event: mu = 0.5 / 0.5 = 1 */
    f.targets[0].by_borough = 1;
    assert_int_equal(civ_fit_target_observations(&f, 0), 2 * CIV_NBOROUGH);
    civ_fit_run_start(&r, &f);
    memset(series, 0, sizeof series);
    for (int d = 0; d <= 6; d++) civ_fit_run_day(&r, d, series);
    assert_float_equal(r.total, -civ_nb_log_pmf(210, 1, 4) - 4 * civ_nb_log_pmf(0, 1, 4), 1e-9);
    civ_fit_run_free(&r);
}

/* Deaths by age band: one term per band and week, the observed count = rate per 100k x the band's agents /
 * scale, rounded (a suppressed rate counts as 2 deaths); simulated = the band's deaths over the week's seven
 * days / scale, other bands ignored. Hand-computed: 50,000 agents aged 65+ at scale 0.5 and a rate of 10 per
 * 100k give 10 observed deaths; one simulated death a day in the band gives 7 / 0.5 = 14 a week. */
static void test_deaths_by_age_terms(void **state)
{
    (void)state;
    enum { T = 15 };
    civ_fit_data f = {0};
    f.fit_day = 13; f.days = T; f.scale = 0.5; f.n_bands = 2; f.band_edges[0] = 0; f.band_edges[1] = 65;
    f.age.n_bands = 1; f.age.band[0] = 1; f.age.people[0] = 50000; f.age.dispersion = 20;
    f.age.n_weeks = 2; f.age.week_end[0] = 6; f.age.week_end[1] = 13;
    f.age.rate[0][0] = 10; f.age.rate[1][0] = CIV_AGE_RATE_SUPPRESSED;
    assert_int_equal(civ_fit_n_terms(&f), 1);
    assert_float_equal(civ_age_target_observed(&f, 0, 0), 10, 0);
    assert_float_equal(civ_age_target_observed(&f, 1, 0), 2, 0);
    f.age.rate[0][0] = 10.9;   /* 10.9 rounds to 11 */
    assert_float_equal(civ_age_target_observed(&f, 0, 0), 11, 0);
    f.age.rate[0][0] = 10;
    civ_fit_run r;
    civ_fit_run_start(&r, &f);
    int32_t series[CIV_N_VARS * CIV_NBOROUGH * 2];
    for (int d = 0; d < T; d++) {
        memset(series, 0, sizeof series);
        series[(CIV_VAR_NEW_DEATHS * CIV_NBOROUGH + 3) * 2 + 1] = 1;   /* one death a day aged 65+, in Queens */
        series[(CIV_VAR_NEW_DEATHS * CIV_NBOROUGH + 0) * 2 + 0] = 5;   /* younger deaths: not this target's */
        civ_fit_run_day(&r, d, series);
        if (d == 5) assert_float_equal(r.total, 0, 0);
        if (d == 6) assert_float_equal(r.total, -civ_nb_log_pmf(10, 14, 20), 1e-9);
    }
    assert_float_equal(r.total, -civ_nb_log_pmf(10, 14, 20) - civ_nb_log_pmf(2, 14, 20), 1e-9);
    assert_float_equal(r.terms[0], r.total, 1e-12);
    civ_fit_run_free(&r);
}

static void test_serosurvey_from_the_series(void **state)
{
    (void)state;
    civ_observed obs = {0};
    int32_t zero[3 * CIV_NBOROUGH] = {0};
    obs.steps = 3; obs.cases = obs.hospitalized = obs.deaths = zero;
    civ_fit_data f = {0};
    f.n_sero = 1;
    f.sero[0] = (civ_sero_target){.day = 1, .share = 0.2, .ci_low = 0.1, .ci_high = 0.3, .min_age = 18, .borough = -1};
    f.fit_day = 2; f.days = 3; f.scale = 1; f.obs = &obs; f.n_bands = 2; f.band_edges[0] = 0; f.band_edges[1] = 18;
    f.sero_people[0] = 1000;
    civ_fit_run r;
    civ_fit_run_start(&r, &f);
    int32_t series[CIV_N_VARS * CIV_NBOROUGH * 2] = {0};
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        series[(CIV_VAR_SUSCEPTIBLE * CIV_NBOROUGH + b) * 2 + 0] = 999;   /* children: not in the survey */
        series[(CIV_VAR_SUSCEPTIBLE * CIV_NBOROUGH + b) * 2 + 1] = 150;   /* 750 adults susceptible of 1000 */
    }
    civ_fit_run_day(&r, 0, series);
    assert_float_equal(r.total, 0, 0);
    civ_fit_run_day(&r, 1, series);
    assert_float_equal(r.total, civ_sero_nll(&f.sero[0], 0.25), 1e-12);
    civ_fit_run_free(&r);
}

static void test_prior_densities(void **state)
{
    (void)state;
    civ_prior ln = {CIV_PRIOR_LOGNORMAL, 2, 0.5}, un = {CIV_PRIOR_UNIFORM, 1, 3}, lu = {CIV_PRIOR_LOG_UNIFORM, 1, exp(2.0)},
              be = {CIV_PRIOR_BETA, 2, 3}, no = {CIV_PRIOR_NORMAL, 1, 2};
    /* at the median of a lognormal: 1 / (v sd sqrt(2 pi)) = 1 / (2 * 0.5 * 2.5066) */
    assert_float_equal(civ_prior_log_density(&ln, 2), -LOG_SQRT_2PI, 1e-12);
    assert_float_equal(civ_prior_log_density(&un, 2), -log(2.0), 1e-12);
    assert_true(isinf(civ_prior_log_density(&un, 3.5)));
    /* log-uniform on [1, e^2]: 1 / (v * 2) at v = e */
    assert_float_equal(civ_prior_log_density(&lu, exp(1.0)), -1 - log(2.0), 1e-12);
    /* Beta(2, 3) at 0.5: 0.5 * 0.25 / B(2, 3) = 0.125 * 12 = 1.5 */
    assert_float_equal(civ_prior_log_density(&be, 0.5), log(1.5), 1e-12);
    assert_float_equal(civ_prior_log_density(&no, 3), -0.5 - log(2.0) - LOG_SQRT_2PI, 1e-12);
    /* the coordinate's density is the value's times |dv/dx| (checked by a central difference), and the
       coordinate maps back to the value */
    const civ_prior *all[] = {&ln, &un, &lu, &be, &no};
    const double at[] = {0.7, 2.6, 5.0, 0.2, -1.5};
    for (int k = 0; k < 5; k++) {
        double x = civ_prior_coordinate(all[k], at[k]), h = 1e-5;
        assert_float_equal(civ_prior_value(all[k], x), at[k], 1e-12 * (1 + fabs(at[k])));
        double dvdx = (civ_prior_value(all[k], x + h) - civ_prior_value(all[k], x - h)) / (2 * h);
        assert_float_equal(civ_prior_log_density_x(all[k], x), civ_prior_log_density(all[k], at[k]) + log(fabs(dvdx)), 1e-7);
    }
}

static void test_prior_sampling_and_intervals(void **state)
{
    (void)state;
    civ_prior be = {CIV_PRIOR_BETA, 2, 3}, ln = {CIV_PRIOR_LOGNORMAL, 2, 0.5}, lu = {CIV_PRIOR_LOG_UNIFORM, 10, 1000};
    double lo, med, hi;
    /* Beta(2, 3): F(x) = 6x^2 - 8x^3 + 3x^4, solved by bisection for 0.05, 0.5, 0.95 */
    civ_prior_interval(&be, &lo, &med, &hi);
    assert_float_equal(lo, 0.09761146288641433, 1e-4);
    assert_float_equal(med, 0.38572756813238945, 1e-4);
    assert_float_equal(hi, 0.7513953742698178, 1e-4);
    civ_prior_interval(&ln, &lo, &med, &hi);
    assert_float_equal(med, 2, 0);
    assert_float_equal(lo, 2 * exp(-1.6448536269514722 * 0.5), 1e-12);
    civ_prior_interval(&lu, &lo, &med, &hi);
    assert_float_equal(med, 100, 1e-9);
    assert_float_equal(hi, pow(10, 1 + 0.95 * 2), 1e-9);
    /* 20000 draws: the beta's mean 0.4 and the lognormal's median 2 */
    const int n = 20000;
    double sb = 0, *v = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) {
        civ_cal_rng r = civ_cal_rng_at(7, 0, (uint32_t)i);
        sb += civ_prior_value(&be, civ_prior_sample_x(&be, &r));
        v[i] = civ_prior_value(&ln, civ_prior_sample_x(&ln, &r));
    }
    assert_float_equal(sb / n, 0.4, 0.005);
    assert_float_equal(civ_abc_quantile(v, n, 0.5), 2, 0.03);
    assert_float_equal(civ_abc_quantile(v, n, 0.05), 2 * exp(-1.6448536269514722 * 0.5), 0.03);
    free(v);
    /* a particle's stream is a pure function of (seed, generation, particle) */
    civ_cal_rng a = civ_cal_rng_at(7, 3, 11), b = civ_cal_rng_at(7, 3, 11), c = civ_cal_rng_at(7, 4, 11);
    double xa = civ_cal_rng_normal(&a), xb = civ_cal_rng_normal(&b), xc = civ_cal_rng_normal(&c);
    assert_true(xa == xb && xa != xc);
}

static void test_sampler_pieces(void **state)
{
    (void)state;
    double w1[] = {0.5, 0.5}, w2[] = {1, 0, 0}, w3[] = {0.25, 0.25, 0.25, 0.25};
    assert_float_equal(civ_abc_ess(w1, 2), 2, 1e-12);
    assert_float_equal(civ_abc_ess(w2, 3), 1, 1e-12);
    double w5[] = {2, 2, 0};   /* unnormalised: (sum w)^2 / sum w^2 */
    assert_float_equal(civ_abc_ess(w5, 3), 2, 1e-12);
    double v[] = {10, 1, 4, 2};
    /* numpy: quantile([1, 2, 4, 10], 0.05) = 1.15, 0.95 -> 9.1, 0.5 -> 3 */
    assert_float_equal(civ_abc_quantile(v, 4, 0.05), 1.15, 1e-12);
    assert_float_equal(civ_abc_quantile(v, 4, 0.95), 9.1, 1e-12);
    assert_float_equal(civ_abc_weighted_quantile(v, w3, 4, 0.05), 1.15, 1e-12);
    assert_float_equal(civ_abc_weighted_quantile(v, w3, 4, 0.5), 3, 1e-12);
    /* all the weight on one value: every quantile is it */
    double wz[] = {0, 0, 1, 0};
    assert_float_equal(civ_abc_weighted_quantile(v, wz, 4, 0.05), 4, 1e-12);
    assert_float_equal(civ_abc_weighted_quantile(v, wz, 4, 0.95), 4, 1e-12);
    /* unequal weights: 1 (0.5), 2 (0.25), 3 (0.25) sit at (weight below + half their own - 0.25) / 0.625 =
       0, 0.6, 1; the median is 1 + 0.5 / 0.6, the 90th percentile 2 + 0.3 / 0.4 */
    double v3[] = {3, 1, 2}, w6[] = {0.25, 0.5, 0.25};
    assert_float_equal(civ_abc_weighted_quantile(v3, w6, 3, 0.5), 1 + 0.5 / 0.6, 1e-12);
    assert_float_equal(civ_abc_weighted_quantile(v3, w6, 3, 0.9), 2.75, 1e-12);
    double lw[] = {log(1.0), log(3.0)}, w[2];
    civ_abc_normalise(lw, 2, w);
    assert_float_equal(w[0], 0.25, 1e-12);

    /* global kernel: twice the weighted covariance; particles (0,0) w 0.5 and (2,4) w 0.5: mean (1,2),
       cov [[1,2],[2,4]] + a ridge (collinear) -> 2 cov = [[2,4],[4,8]]: L = [[sqrt2, 0], [2 sqrt2, ~0]], the same
       for both particles */
    civ_abc_generation g;
    civ_abc_generation_alloc(&g, 2, 2);
    g.x[0] = 0; g.x[1] = 0; g.x[2] = 2; g.x[3] = 4; g.w[0] = g.w[1] = 0.5;
    double L[8];
    civ_abc_kernel(&g, CIV_ABC_KERNEL_GLOBAL, INFINITY, L);
    for (int j = 0; j < 2; j++) {
        assert_float_equal(L[4 * j + 0], sqrt(2.0), 1e-6);
        assert_float_equal(L[4 * j + 2], 2 * sqrt(2.0), 1e-6);
        assert_true(L[4 * j + 3] > 0 && L[4 * j + 3] < 1e-3);
    }
    civ_abc_generation_free(&g);

    /* local kernel (Filippi et al. 2013): particles 0, 1, 3 with weights 0.5, 0.25, 0.25 and distances 10, 20, 30;
       tolerance 20 keeps 0 and 1, weights renormalised to 2/3 and 1/3; particle j's variance is
       sum 2/3 (0 - x_j)^2 + 1/3 (1 - x_j)^2: 1/3 at 0, 2/3 at 1, 6 + 4/3 at 3 */
    civ_abc_generation g3;
    civ_abc_generation_alloc(&g3, 3, 1);
    const double x3[] = {0, 1, 3}, wt3[] = {0.5, 0.25, 0.25}, d3[] = {10, 20, 30};
    memcpy(g3.x, x3, sizeof x3); memcpy(g3.w, wt3, sizeof wt3); memcpy(g3.dist, d3, sizeof d3);
    double L3[3];
    civ_abc_kernel(&g3, CIV_ABC_KERNEL_LOCAL, 20, L3);
    assert_float_equal(L3[0], sqrt(1.0 / 3), 1e-12);
    assert_float_equal(L3[1], sqrt(2.0 / 3), 1e-12);
    assert_float_equal(L3[2], sqrt(22.0 / 3), 1e-12);
    /* fewer than two particles within the tolerance: the global kernel, mean 1, 2 x variance 1.5, for all */
    civ_abc_kernel(&g3, CIV_ABC_KERNEL_LOCAL, 15, L3);
    for (int j = 0; j < 3; j++) assert_float_equal(L3[j], sqrt(3.0), 1e-12);
    civ_abc_generation_free(&g3);

    /* weight: one parent at 0 with kernel sd 2, prior N(0, 1) on the coordinate:
       log w = log N(x; 0, 1) - log N(x; 0, 4) = -x^2/2 + x^2/8 + log 2 */
    civ_abc_generation p;
    civ_abc_generation_alloc(&p, 1, 1);
    p.x[0] = 0; p.w[0] = 1;
    double L1[1] = {2};
    civ_prior pr = {CIV_PRIOR_NORMAL, 0, 1};
    assert_float_equal(civ_abc_log_weight(&p, L1, &pr, (double[]){1.5}), -1.5 * 1.5 * (0.5 - 0.125) + log(2.0), 1e-12);
    assert_float_equal(civ_abc_log_weight(NULL, L1, &pr, (double[]){1.5}), 0, 0);
    /* each parent with its own kernel: parents 0 (sd 1) and 3 (sd 2), weights 1/2; at x = 1 the mixture is
       N(1; 0, 1) / 2 + N(1; 3, 4) / 2 = 3/4 N(1; 0, 1), the prior N(1; 0, 1): log w = log(4/3) */
    civ_abc_generation p2;
    civ_abc_generation_alloc(&p2, 2, 1);
    p2.x[0] = 0; p2.x[1] = 3; p2.w[0] = p2.w[1] = 0.5;
    double L2[2] = {1, 2};
    assert_float_equal(civ_abc_log_weight(&p2, L2, &pr, (double[]){1}), log(4.0 / 3), 1e-12);
    /* proposals move the parent picked by its own kernel: all weight on the parent at 3, whose sd is 0.1 (the other's 100) */
    p2.w[0] = 0; p2.w[1] = 1;
    L2[0] = 100; L2[1] = 0.1;
    double s = 0, s2 = 0;
    for (int i = 0; i < 2000; i++) {
        civ_cal_rng r = civ_cal_rng_at(1, 1, (uint32_t)i);
        double x;
        civ_abc_propose(&p2, L2, &pr, 1, &r, &x);
        s += x;
        s2 += (x - 3) * (x - 3);
    }
    assert_float_equal(s / 2000, 3, 0.01);
    /* and spread by the kernel: sd 0.1 (the sample sd's own sd is 0.1 / sqrt(4000) = 0.0016) */
    assert_float_equal(sqrt(s2 / 2000), 0.1, 0.008);
    civ_abc_generation_free(&p2);
    civ_abc_generation_free(&p);
}

static void test_json_paths(void **state)
{
    (void)state;
    char why[256];
    cJSON *j = cJSON_Parse("{\"parameters\": {\"beta\": 1}, \"interventions\": [{\"factor\": 0.5}, {\"x\": \"a\"}], "
                           "\"testing\": {\"note\": \"n\"}}");
    assert_true(civ_json_path_set(j, "parameters.beta", 0.75, why, sizeof why));
    assert_float_equal(civ_json_path_get(j, "parameters.beta")->valuedouble, 0.75, 0);
    assert_true(civ_json_path_set(j, "transmission.after_stay_at_home", 0.4, why, sizeof why));   /* created */
    assert_float_equal(civ_json_path_get(j, "transmission.after_stay_at_home")->valuedouble, 0.4, 0);
    assert_true(civ_json_path_set(j, "interventions[0].factor", 0.3, why, sizeof why));
    assert_float_equal(civ_json_path_get(j, "interventions[0].factor")->valuedouble, 0.3, 0);
    assert_false(civ_json_path_set(j, "interventions[5].factor", 1, why, sizeof why));
    assert_non_null(strstr(why, "no index 5"));
    assert_false(civ_json_path_set(j, "testing.note", 1, why, sizeof why));
    assert_non_null(strstr(why, "not a number"));
    assert_false(civ_json_path_set(j, "testing.note.x", 1, why, sizeof why));
    assert_false(civ_json_path_valid("a..b", why, sizeof why));
    assert_false(civ_json_path_valid("[0].a", why, sizeof why));
    assert_false(civ_json_path_valid("a[x]", why, sizeof why));
    assert_true(civ_json_path_valid("behavior.heuristic.go_to_work.base[2]", why, sizeof why));
    assert_null(civ_json_path_get(j, "nothing.here"));
    char head[32];
    civ_json_path_head("interventions[0].factor", head, sizeof head);
    assert_string_equal(head, "interventions");
    cJSON_Delete(j);
}

static void test_posterior_file_and_draws(void **state)
{
    (void)state;
    char path[] = "/tmp/civitas_posterior_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "particle,parameters.beta,testing.seek_scale,weight,distance\n0,0.5,1,1,10\n1,0.7,2,3,11\n2,0.9,3,0,12\n");
    fclose(f);
    civ_posterior p;
    civ_error err = {0};
    assert_int_equal(civ_posterior_load(path, &p, &err), CIV_OK);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.n_params, 2);
    assert_string_equal(p.paths[1], "testing.seek_scale");
    assert_float_equal(p.weights[1], 0.75, 1e-12);
    /* stratified draws follow the weights within two runs whatever the number of runs (independent draws
     * would be off by about 39 in 8,000); set 2 has no weight; a run's draw is fixed by (seed, run, runs) */
    const uint32_t runs[] = {1, 8, 9, 32, 8000};
    for (int k = 0; k < 5; k++) {
        int count[3] = {0, 0, 0};
        for (uint32_t run = 0; run < runs[k]; run++) count[civ_posterior_draw(&p, 42, run, runs[k])]++;
        assert_int_equal(count[2], 0);
        assert_true(fabs(count[0] - 0.25 * runs[k]) < 2 && fabs(count[1] - 0.75 * runs[k]) < 2);
    }
    assert_int_equal(civ_posterior_draw(&p, 42, 5, 8), civ_posterior_draw(&p, 42, 5, 8));
    /* with 9 runs, run 2's stratum [2/9, 3/9) straddles the sets' boundary at 1/4: the seed decides */
    int first = 0;
    for (uint64_t seed = 0; seed < 64; seed++) first += civ_posterior_draw(&p, seed, 2, 9) == 0;
    assert_true(first > 4 && first < 32);   /* set 0 with probability (1/4 - 2/9) x 9 = 1/4 */
    civ_posterior_free(&p);
    /* bad files: no weight column, a negative weight, a bad path */
    const char *bad[] = {"particle,parameters.beta\n0,1\n", "parameters.beta,weight\n1,-1\n", "a..b,weight\n1,1\n"};
    const char *msg[] = {"no 'weight' column", "column 'weight' must be a number >= 0", "is not a parameter path"};
    for (int k = 0; k < 3; k++) {
        f = fopen(path, "w");
        fputs(bad[k], f);
        fclose(f);
        civ_error e = {0};
        assert_int_equal(civ_posterior_load(path, &p, &e), CIV_ERR_INPUT);
        assert_non_null(strstr(e.msg, msg[k]));
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negative_binomial),
        cmocka_unit_test(test_serosurvey_term),
        cmocka_unit_test(test_weekly_bins_and_terms),
        cmocka_unit_test(test_serosurvey_from_the_series),
        cmocka_unit_test(test_deaths_by_age_terms),
        cmocka_unit_test(test_prior_densities),
        cmocka_unit_test(test_prior_sampling_and_intervals),
        cmocka_unit_test(test_sampler_pieces),
        cmocka_unit_test(test_json_paths),
        cmocka_unit_test(test_posterior_file_and_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
