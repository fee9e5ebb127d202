#include "host/workflows/calibrate_prior.h"

#include <math.h>

#define LOG_SQRT_2PI 0.91893853320467274178
#define Z95 1.6448536269514722   /* standard normal 95% quantile */

const char *civ_prior_name(civ_prior_kind k)
{
    static const char *const names[] = {"lognormal", "uniform", "log_uniform", "beta", "normal"};
    return names[k];
}

static double softplus(double y) { return y > 0 ? y + log1p(exp(-y)) : log1p(exp(y)); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double logit(double u) { return log(u) - log1p(-u); }
static double log_beta_fn(double a, double b) { return lgamma(a) + lgamma(b) - lgamma(a + b); }

double civ_prior_value(const civ_prior *p, double x)
{
    switch (p->kind) {
    case CIV_PRIOR_LOGNORMAL: return exp(x);
    case CIV_PRIOR_UNIFORM: return p->a + (p->b - p->a) * sigmoid(x);
    case CIV_PRIOR_LOG_UNIFORM: return exp(log(p->a) + (log(p->b) - log(p->a)) * sigmoid(x));
    case CIV_PRIOR_BETA: return sigmoid(x);
    case CIV_PRIOR_NORMAL: return x;
    }
    return NAN;
}

double civ_prior_coordinate(const civ_prior *p, double v)
{
    switch (p->kind) {
    case CIV_PRIOR_LOGNORMAL: return log(v);
    case CIV_PRIOR_UNIFORM: return logit((v - p->a) / (p->b - p->a));
    case CIV_PRIOR_LOG_UNIFORM: return logit((log(v) - log(p->a)) / (log(p->b) - log(p->a)));
    case CIV_PRIOR_BETA: return logit(v);
    case CIV_PRIOR_NORMAL: return v;
    }
    return NAN;
}

double civ_prior_log_density(const civ_prior *p, double v)
{
    switch (p->kind) {
    case CIV_PRIOR_LOGNORMAL: {
        if (!(v > 0)) return -INFINITY;
        double z = (log(v) - log(p->a)) / p->b;
        return -0.5 * z * z - log(p->b) - LOG_SQRT_2PI - log(v);
    }
    case CIV_PRIOR_UNIFORM: return v >= p->a && v <= p->b ? -log(p->b - p->a) : -INFINITY;
    case CIV_PRIOR_LOG_UNIFORM: return v >= p->a && v <= p->b ? -log(v) - log(log(p->b) - log(p->a)) : -INFINITY;
    case CIV_PRIOR_BETA:
        if (!(v > 0 && v < 1)) return -INFINITY;
        return (p->a - 1) * log(v) + (p->b - 1) * log1p(-v) - log_beta_fn(p->a, p->b);
    case CIV_PRIOR_NORMAL: {
        double z = (v - p->a) / p->b;
        return -0.5 * z * z - log(p->b) - LOG_SQRT_2PI;
    }
    }
    return -INFINITY;
}

double civ_prior_log_density_x(const civ_prior *p, double x)
{
    switch (p->kind) {
    case CIV_PRIOR_LOGNORMAL: {
        double z = (x - log(p->a)) / p->b;
        return -0.5 * z * z - log(p->b) - LOG_SQRT_2PI;
    }
    case CIV_PRIOR_UNIFORM:
    case CIV_PRIOR_LOG_UNIFORM:   /* the position u = sigmoid(x) is uniform: density u (1 - u) in x */
        return -softplus(-x) - softplus(x);
    case CIV_PRIOR_BETA:          /* u^a (1 - u)^b / B(a, b) */
        return -p->a * softplus(-x) - p->b * softplus(x) - log_beta_fn(p->a, p->b);
    case CIV_PRIOR_NORMAL: {
        double z = (x - p->a) / p->b;
        return -0.5 * z * z - log(p->b) - LOG_SQRT_2PI;
    }
    }
    return -INFINITY;
}

/* log of a Gamma(shape, 1) variate: Marsaglia and Tsang's squeeze method (shape >= 1), and
 * Gamma(shape) = Gamma(shape + 1) * U^(1/shape) below 1; logs keep tiny variates apart from 0 */
static double log_gamma_variate(double shape, civ_cal_rng *r)
{
    if (shape < 1) return log_gamma_variate(shape + 1, r) + log(civ_cal_rng_uniform(r)) / shape;
    const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double z = civ_cal_rng_normal(r), t = 1.0 + c * z;
        if (t <= 0) continue;
        double v = t * t * t;
        if (log(civ_cal_rng_uniform(r)) < 0.5 * z * z + d - d * v + d * log(v)) return log(d) + log(v);
    }
}

double civ_prior_sample_x(const civ_prior *p, civ_cal_rng *r)
{
    switch (p->kind) {
    case CIV_PRIOR_LOGNORMAL: return log(p->a) + p->b * civ_cal_rng_normal(r);
    case CIV_PRIOR_UNIFORM:
    case CIV_PRIOR_LOG_UNIFORM: return logit(civ_cal_rng_uniform(r));
    case CIV_PRIOR_BETA: {   /* X = Ga / (Ga + Gb), so logit(X) = log Ga - log Gb */
        double ga = log_gamma_variate(p->a, r);
        return ga - log_gamma_variate(p->b, r);
    }
    case CIV_PRIOR_NORMAL: return p->a + p->b * civ_cal_rng_normal(r);
    }
    return NAN;
}

/* quantile q of a beta prior: bisection on its distribution function, integrated in x (trapezoids) */
static double beta_quantile(const civ_prior *p, double q)
{
    enum { N = 16000 };
    const double lo = -40, h = 80.0 / N;
    double cdf = 0, prev = exp(civ_prior_log_density_x(p, lo));
    for (int i = 1; i <= N; i++) {
        double x = lo + i * h, f = exp(civ_prior_log_density_x(p, x)), step = 0.5 * (prev + f) * h;
        if (cdf + step >= q) return sigmoid(x - h + h * (q - cdf) / step);
        cdf += step;
        prev = f;
    }
    return 1.0;
}

void civ_prior_interval(const civ_prior *p, double *p05, double *median, double *p95)
{
    const double a = p->a, b = p->b;
    switch (p->kind) {
    case CIV_PRIOR_LOGNORMAL: *p05 = a * exp(-Z95 * b); *median = a; *p95 = a * exp(Z95 * b); return;
    case CIV_PRIOR_NORMAL: *p05 = a - Z95 * b; *median = a; *p95 = a + Z95 * b; return;
    case CIV_PRIOR_UNIFORM: *p05 = a + 0.05 * (b - a); *median = 0.5 * (a + b); *p95 = a + 0.95 * (b - a); return;
    case CIV_PRIOR_LOG_UNIFORM:
        *p05 = exp(log(a) + 0.05 * (log(b) - log(a)));
        *median = sqrt(a * b);
        *p95 = exp(log(a) + 0.95 * (log(b) - log(a)));
        return;
    case CIV_PRIOR_BETA: *p05 = beta_quantile(p, 0.05); *median = beta_quantile(p, 0.5); *p95 = beta_quantile(p, 0.95); return;
    }
}
