#include "host/workflows/calibrate_sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/error.h"

#define LOG_2PI 1.8378770664093454836

void civ_abc_generation_alloc(civ_abc_generation *g, int n, int dim)
{
    g->n = n;
    g->dim = dim;
    g->x = civ_xcalloc((size_t)n * dim, sizeof(double));
    g->w = civ_xcalloc((size_t)n, sizeof(double));
    g->dist = civ_xcalloc((size_t)n, sizeof(double));
}

void civ_abc_generation_free(civ_abc_generation *g)
{
    free(g->x); free(g->w); free(g->dist);
    memset(g, 0, sizeof *g);
}

/* Cholesky factor (lower) of the symmetric matrix a; false when it is not positive definite */
static int cholesky(const double *a, int d, double *l)
{
    memset(l, 0, sizeof(double) * (size_t)d * d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j <= i; j++) {
            double s = a[i * d + j];
            for (int k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
            if (i == j) {
                if (!(s > 0)) return 0;
                l[i * d + i] = sqrt(s);
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    return 1;
}

/* weighted second moments of the particles `use` (all when NULL; some weight among them) about `centre`, weights
   renormalised over them, times `factor`, into cov */
static void moment_about(const civ_abc_generation *g, const unsigned char *use, const double *centre, double factor, double *cov)
{
    const int d = g->dim;
    double total = 0;
    memset(cov, 0, sizeof(double) * (size_t)d * d);
    for (int i = 0; i < g->n; i++)
        if (!use || use[i]) total += g->w[i];
    for (int i = 0; i < g->n; i++)
        if ((!use || use[i]) && g->w[i] > 0)
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++)
                    cov[a * d + b] += factor * g->w[i] / total * (g->x[i * d + a] - centre[a]) * (g->x[i * d + b] - centre[b]);
}

/* the Cholesky factor of cov, widened by a growing ridge until it is positive definite (collapsed or collinear
   particles) */
static void factor_with_ridge(double *cov, int d, double *chol)
{
    double trace = 0;
    for (int k = 0; k < d; k++) trace += cov[k * d + k];
    double ridge = 1e-10 * (trace > 0 ? trace / d : 1.0);
    while (!cholesky(cov, d, chol)) {
        for (int k = 0; k < d; k++) cov[k * d + k] += ridge;
        ridge *= 10;
    }
}

void civ_abc_kernel(const civ_abc_generation *g, civ_abc_kernel_kind kind, double tolerance, double *chol)
{
    const int d = g->dim, dd = d * d;
    double mean[64] = {0}, *cov = civ_xcalloc((size_t)dd, sizeof(double));
    unsigned char *close = civ_xmalloc((size_t)g->n);
    int n_close = 0;
    for (int i = 0; i < g->n; i++) {
        n_close += close[i] = g->dist[i] <= tolerance && g->w[i] > 0;
        for (int k = 0; k < d; k++) mean[k] += g->w[i] * g->x[i * d + k];
    }
    /* the local kernel needs at least two particles within the tolerance to have a spread; else the global one */
    if (kind == CIV_ABC_KERNEL_GLOBAL || n_close < 2) {
        moment_about(g, NULL, mean, 2.0, cov);
        factor_with_ridge(cov, d, chol);
        for (int j = 1; j < g->n; j++) memcpy(chol + (size_t)j * dd, chol, sizeof(double) * (size_t)dd);
    } else {
        for (int j = 0; j < g->n; j++) {
            moment_about(g, close, g->x + (size_t)j * d, 1.0, cov);
            factor_with_ridge(cov, d, chol + (size_t)j * dd);
        }
    }
    free(cov); free(close);
}

void civ_abc_propose(const civ_abc_generation *prev, const double *chol, const civ_prior *priors, int dim, civ_cal_rng *r,
                     double *x)
{
    if (!prev) {
        for (int k = 0; k < dim; k++) x[k] = civ_prior_sample_x(&priors[k], r);
        return;
    }
    double u = civ_cal_rng_uniform(r), run = 0;
    int j = 0;
    for (; j < prev->n - 1; j++) {
        run += prev->w[j];
        if (u < run) break;
    }
    const double *l = chol + (size_t)j * dim * dim;
    double z[64];
    for (int k = 0; k < dim; k++) z[k] = civ_cal_rng_normal(r);
    for (int a = 0; a < dim; a++) {
        double s = prev->x[j * dim + a];
        for (int b = 0; b <= a; b++) s += l[a * dim + b] * z[b];
        x[a] = s;
    }
}

double civ_abc_log_weight(const civ_abc_generation *prev, const double *chol, const civ_prior *priors, const double *x)
{
    if (!prev) return 0;
    const int d = prev->dim;
    double log_prior = 0;
    for (int k = 0; k < d; k++) log_prior += civ_prior_log_density_x(&priors[k], x[k]);
    /* log sum_j w_j N(x; x_j, L_j L_j^T), with the largest term factored out */
    double *terms = civ_xmalloc(sizeof(double) * (size_t)prev->n), top = -INFINITY;
    for (int j = 0; j < prev->n; j++) {
        const double *l = chol + (size_t)j * d * d;
        double y[64], q = 0, log_det = 0;
        for (int a = 0; a < d; a++) {   /* y = L_j^-1 (x - x_j), forward substitution */
            double s = x[a] - prev->x[j * d + a];
            for (int b = 0; b < a; b++) s -= l[a * d + b] * y[b];
            y[a] = s / l[a * d + a];
            q += y[a] * y[a];
            log_det += log(l[a * d + a]);
        }
        terms[j] = prev->w[j] > 0 ? log(prev->w[j]) - 0.5 * q - log_det : -INFINITY;
        if (terms[j] > top) top = terms[j];
    }
    double s = 0;
    for (int j = 0; j < prev->n; j++) s += exp(terms[j] - top);
    free(terms);
    double log_mix = top + log(s) - 0.5 * d * LOG_2PI;
    return log_prior - log_mix;
}

void civ_abc_normalise(const double *logw, int n, double *w)
{
    double top = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) if (logw[i] > top) top = logw[i];
    for (int i = 0; i < n; i++) s += (w[i] = exp(logw[i] - top));
    for (int i = 0; i < n; i++) w[i] /= s;
}

double civ_abc_ess(const double *w, int n)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) { s += w[i]; s2 += w[i] * w[i]; }
    return s2 > 0 ? s * s / s2 : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double civ_abc_quantile(const double *v, int n, double q)
{
    if (n <= 0) return NAN;
    double *s = civ_xmalloc(sizeof(double) * (size_t)n);
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    double h = (n - 1) * q, out;
    int lo = (int)h;
    out = lo >= n - 1 ? s[n - 1] : s[lo] + (h - lo) * (s[lo + 1] - s[lo]);
    free(s);
    return out;
}

typedef struct { double v, w; } pair;

static int cmp_pair(const void *a, const void *b)
{
    double x = ((const pair *)a)->v, y = ((const pair *)b)->v;
    return (x > y) - (x < y);
}

double civ_abc_weighted_quantile(const double *v, const double *w, int n, double q)
{
    if (n <= 0) return NAN;
    pair *p = civ_xmalloc(sizeof(pair) * (size_t)n);
    double total = 0;
    int m = 0;
    for (int i = 0; i < n; i++)   /* values without weight have no place in the distribution */
        if (w[i] > 0) { p[m].v = v[i]; p[m].w = w[i]; total += w[i]; m++; }
    if (!m) { free(p); return NAN; }
    n = m;
    qsort(p, (size_t)n, sizeof(pair), cmp_pair);
    /* the position of value i: the weight below it plus half its own, scaled to [0, 1] between the first
       and last midpoints (with equal weights: i / (n - 1), numpy's linear rule) */
    double first = 0.5 * p[0].w, last = total - 0.5 * p[n - 1].w, below = 0, out = p[n - 1].v;
    if (last <= first) { out = p[0].v; free(p); return out; }
    double prev_pos = 0;
    for (int i = 0; i < n; i++) {
        double pos = (below + 0.5 * p[i].w - first) / (last - first);
        if (pos >= q) {
            out = i == 0 || pos <= prev_pos ? p[i].v : p[i - 1].v + (q - prev_pos) / (pos - prev_pos) * (p[i].v - p[i - 1].v);
            break;
        }
        prev_pos = pos;
        below += p[i].w;
    }
    free(p);
    return out;
}
