/* ABC-SMC, population Monte Carlo form (Toni et al. 2009; Beaumont et al. 2009), in the priors'
 * unbounded coordinates (calibrate_prior.h): generation 0 draws the prior; generation t proposes by
 * picking a particle of generation t-1 by weight and moving it with a Gaussian kernel, accepts proposals
 * whose distance is within the tolerance (a quantile of generation t-1's distances), and weights each
 * accepted particle by prior density / the mixture of kernels it could have come from. The global kernel
 * (the default) is twice the weighted covariance of all of generation t-1, the same for every particle. The
 * local kernel (an option): particle j's covariance is the weighted second moment, about x_j, of the particles of
 * generation t-1 already within the new tolerance (the "optimal local covariance matrix" of Filippi et al.
 * 2013, Stat Appl Genet Mol Biol 12:87-107), so a particle far from the good region is moved towards it
 * and one inside it by about the region's own spread. It reaches lower tolerances for the same budget, but
 * its importance weights can concentrate on a few particles (an effective sample size of 3-7 of 100 in the
 * New York calibration), which is why it is not the default. These are the sampler's pure functions;
 * the simulations and the generation loop are in calibrate.c. */
#ifndef CIV_CALIBRATE_SAMPLER_H
#define CIV_CALIBRATE_SAMPLER_H

#include "host/workflows/calibrate_prior.h"

typedef struct {
    int n, dim;
    double *x;        /* [particle][dim] coordinates */
    double *w;        /* weights, normalised */
    double *dist;     /* distances */
} civ_abc_generation;

void civ_abc_generation_alloc(civ_abc_generation *g, int n, int dim);
void civ_abc_generation_free(civ_abc_generation *g);

typedef enum { CIV_ABC_KERNEL_GLOBAL, CIV_ABC_KERNEL_LOCAL } civ_abc_kernel_kind;   /* the default first */

/* The perturbation kernels of the next generation, one per particle of g: chol[j] ([n][dim][dim]) is the
 * lower Cholesky factor of particle j's covariance (above; the local kind uses the particles whose distance
 * is <= tolerance, and falls back to the global kind when fewer than two are); a small ridge is added when
 * the particles have collapsed. */
void civ_abc_kernel(const civ_abc_generation *g, civ_abc_kernel_kind kind, double tolerance, double *chol);
/* A proposal's coordinates: from the priors (prev NULL), else a weighted pick j of prev moved by its kernel chol[j]. */
void civ_abc_propose(const civ_abc_generation *prev, const double *chol, const civ_prior *priors, int dim, civ_cal_rng *r,
                     double *x);
/* log of the unnormalised importance weight of an accepted x: log prior(x) - log sum_j w_j K_j(x | x_j)
 * (0 in generation 0, whose particles come from the prior itself) */
double civ_abc_log_weight(const civ_abc_generation *prev, const double *chol, const civ_prior *priors, const double *x);
/* w[i] = exp(logw[i]) / sum, computed stably */
void civ_abc_normalise(const double *logw, int n, double *w);

/* effective sample size (sum w)^2 / sum w^2 */
double civ_abc_ess(const double *w, int n);
/* quantile q of v (linear interpolation between order statistics, as numpy's default) */
double civ_abc_quantile(const double *v, int n, double q);
/* weighted quantile: the value where the weight below it reaches q, interpolated between the
 * midpoints of the sorted values' weights (equal weights give the quantile above) */
double civ_abc_weighted_quantile(const double *v, const double *w, int n, double q);

#endif
