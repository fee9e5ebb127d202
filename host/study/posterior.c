#include "host/study/posterior.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/philox.h"
#include "host/util/csv.h"
#include "host/util/json_path.h"

civ_status civ_posterior_load(const char *path, civ_posterior *p, civ_error *err)
{
    memset(p, 0, sizeof *p);
    civ_csv csv;
    civ_status st = civ_csv_read(path, &csv, err);
    if (st) return st;
    int wcol = -1;
    int *pcol = civ_xcalloc((size_t)csv.ncols + 1, sizeof(int));
    p->paths = civ_xcalloc((size_t)csv.ncols + 1, sizeof(char *));
    for (int c = 0; c < csv.ncols && !st; c++) {
        const char *h = csv.header[c];
        char why[128];
        if (strcmp(h, "weight") == 0) wcol = c;
        else if (strcmp(h, "particle") == 0 || strcmp(h, "distance") == 0) continue;
        else if (!civ_json_path_valid(h, why, sizeof why))
            st = civ_fail(err, CIV_ERR_INPUT, "%s: column '%s' is not a parameter path (%s)", path, h, why);
        else {
            pcol[p->n_params] = c;
            p->paths[p->n_params++] = strdup(h);
        }
    }
    if (!st && wcol < 0) st = civ_fail(err, CIV_ERR_INPUT, "%s: no 'weight' column", path);
    if (!st && !p->n_params) st = civ_fail(err, CIV_ERR_INPUT, "%s: no parameter columns (one per study path, e.g. parameters.beta)", path);
    if (!st && !csv.nrows) st = civ_fail(err, CIV_ERR_INPUT, "%s: no rows", path);
    if (!st) {
        p->n = csv.nrows;
        p->values = civ_xcalloc((size_t)p->n * p->n_params, sizeof(double));
        p->weights = civ_xcalloc((size_t)p->n, sizeof(double));
        p->cumulative = civ_xcalloc((size_t)p->n, sizeof(double));
        double total = 0;
        for (int r = 0; r < p->n && !st; r++) {
            for (int k = 0; k < p->n_params && !st; k++) {
                double *v = &p->values[(size_t)r * p->n_params + k];
                if (!(st = civ_csv_number(&csv, r, pcol[k], NAN, v, err)) && !isfinite(*v))
                    st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: column '%s' must be a finite number, got '%s'", path, r + 2,
                                  p->paths[k], csv.cells[r][pcol[k]]);
            }
            double *w = &p->weights[r];
            if (!st && !(st = civ_csv_number(&csv, r, wcol, NAN, w, err)) && !(isfinite(*w) && *w >= 0))
                st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: column 'weight' must be a number >= 0, got '%s'", path, r + 2,
                              csv.cells[r][wcol]);
            if (!st) total += *w;
        }
        if (!st && !(total > 0)) st = civ_fail(err, CIV_ERR_INPUT, "%s: the weights sum to 0", path);
        double run = 0;
        for (int r = 0; r < p->n && !st; r++) {
            p->weights[r] /= total;
            run += p->weights[r];
            p->cumulative[r] = run;
        }
    }
    free(pcol);
    civ_csv_free(&csv);
    if (st) civ_posterior_free(p);
    return st;
}

int civ_posterior_draw(const civ_posterior *p, uint64_t seed, uint32_t run, uint32_t runs)
{
    civ_u32x4 r = civ_rng(seed, 0, run, CIV_RNG_POSTERIOR_DRAW);
    /* 53-bit uniform in [0, 1), moved into the run's stratum [run, run + 1) / runs, times the total (the
     * last cumulative weight, 1 up to rounding): a set of weight w is drawn by w x runs runs, give or take
     * one, where independent draws would scatter by the square root of that */
    double u = ((double)(r.v[0] >> 5) * 67108864.0 + (double)(r.v[1] >> 6)) * (1.0 / 9007199254740992.0);
    if (run < runs) u = (run + u) / runs;
    u *= p->cumulative[p->n - 1];
    int lo = 0, hi = p->n - 1;   /* the first set whose cumulative weight exceeds u */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (p->cumulative[mid] > u) hi = mid; else lo = mid + 1;
    }
    return lo;
}

void civ_posterior_free(civ_posterior *p)
{
    if (p->paths)
        for (int k = 0; k < p->n_params; k++) free(p->paths[k]);
    free(p->paths); free(p->values); free(p->weights); free(p->cumulative);
    memset(p, 0, sizeof *p);
}
