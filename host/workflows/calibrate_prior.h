/* Priors of calibrated parameters, and the unbounded coordinates the sampler works in: each
 * parameter value v has a coordinate x on the whole real line (log for lognormal, logit of the
 * position in the range for uniform, log-uniform and beta, the value itself for normal), and the
 * prior's density is taken in x (the density of v times |dv/dx|), so the perturbation kernel and the
 * importance weights never leave the prior's support. */
#ifndef CIV_CALIBRATE_PRIOR_H
#define CIV_CALIBRATE_PRIOR_H

#include "host/workflows/calibrate_rng.h"

typedef enum {
    CIV_PRIOR_LOGNORMAL,    /* a = median, b = sd of log(value) */
    CIV_PRIOR_UNIFORM,      /* a = min, b = max */
    CIV_PRIOR_LOG_UNIFORM,  /* a = min, b = max (> 0): log(value) uniform */
    CIV_PRIOR_BETA,         /* a, b: value in (0, 1) */
    CIV_PRIOR_NORMAL        /* a = mean, b = sd */
} civ_prior_kind;

typedef struct {
    civ_prior_kind kind;
    double a, b;
} civ_prior;

const char *civ_prior_name(civ_prior_kind k);   /* "lognormal", "uniform", "log_uniform", "beta", "normal" */
double civ_prior_value(const civ_prior *p, double x);        /* coordinate -> value */
double civ_prior_coordinate(const civ_prior *p, double v);   /* value -> coordinate */
double civ_prior_log_density(const civ_prior *p, double v);  /* of the value; -inf outside the support */
double civ_prior_log_density_x(const civ_prior *p, double x);/* of the coordinate */
double civ_prior_sample_x(const civ_prior *p, civ_cal_rng *r);
/* The prior's median and central 90% interval of the value (beta: from the coordinate by bisection) */
void civ_prior_interval(const civ_prior *p, double *p05, double *median, double *p95);

#endif
