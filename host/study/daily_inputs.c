#include "host/study/daily_inputs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/population/population.h"
#include "host/util/csv.h"
#include "host/util/date.h"

/* Rows of a dated CSV: the row's day, or an error naming the file and line. */
static civ_status row_day(const civ_csv *csv, int r, int col, int *day, civ_error *err)
{
    if (!civ_date_parse(csv->cells[r][col], day))
        return civ_fail(err, CIV_ERR_INPUT, "%s: line %d: date '%s' is not YYYY-MM-DD", csv->path, r + 2,
                        csv->cells[r][col]);
    return CIV_OK;
}

civ_status civ_mobility_load(civ_mobility *m, int start_day, int steps, const char *study_file, const char *field,
                             civ_error *err)
{
    civ_csv csv;
    civ_status st = civ_csv_read(m->file, &csv, err);
    if (st) return st;
    int cd, cg, ci, cn;
    if ((st = civ_csv_col(&csv, "date", &cd, err)) || (st = civ_csv_col(&csv, "geo", &cg, err)) ||
        (st = civ_csv_col(&csv, "m50_index_pct", &ci, err)) || (st = civ_csv_col(&csv, "samples", &cn, err))) {
        civ_csv_free(&csv);
        return st;
    }
    /* the file's days, as a dense table; NAN where a day is absent */
    int first = 0, last = 0;
    bool seen = false;
    for (int r = 0; r < csv.nrows && !st; r++) {
        int d;
        if ((st = row_day(&csv, r, cd, &d, err))) break;
        if (!seen || d < first) first = d;
        if (!seen || d > last) last = d;
        seen = true;
    }
    if (!st && !seen)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\": no rows", study_file, field, m->file);
    if (st) {
        civ_csv_free(&csv);
        return st;
    }
    const int span = last - first + 1;
    double (*idx)[CIV_NBOROUGH] = civ_xmalloc((size_t)span * sizeof *idx);
    double (*devices)[CIV_NBOROUGH] = civ_xcalloc((size_t)span, sizeof *devices);
    for (int d = 0; d < span; d++)
        for (int b = 0; b < CIV_NBOROUGH; b++) idx[d][b] = NAN;
    for (int r = 0; r < csv.nrows; r++) {
        int d, b = civ_borough_index(csv.cells[r][cg]);
        double v, n;
        if (b < 0 || !csv.cells[r][ci][0]) continue;   /* NYS rows; withheld days */
        if ((st = row_day(&csv, r, cd, &d, err)) || (st = civ_csv_number(&csv, r, ci, 0, &v, err)) ||
            (st = civ_csv_number(&csv, r, cn, 1, &n, err)))
            break;
        if (v < 0) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: m50_index_pct = %g is negative", m->file, r + 2, v);
            break;
        }
        idx[d - first][b] = v > 100 ? 100 : v;   /* above normal counts as normal (holiday outliers) */
        devices[d - first][b] = n > 0 ? n : 0;
    }
    civ_csv_free(&csv);
    if (!st && !m->by_borough)   /* the city's index in every borough: the device-weighted mean */
        for (int d = 0; d < span; d++) {
            double sum = 0, w = 0;
            for (int b = 0; b < CIV_NBOROUGH; b++)
                if (!isnan(idx[d][b])) { sum += idx[d][b] * devices[d][b]; w += devices[d][b]; }
            for (int b = 0; b < CIV_NBOROUGH; b++) idx[d][b] = w > 0 ? sum / w : NAN;
        }
    free(devices);
    if (st) {
        free(idx);
        return st;
    }
    m->factor = civ_xmalloc((size_t)(steps > 0 ? steps : 1) * sizeof *m->factor);
    const int half = m->smooth_days / 2;
    for (int t = 0; t < steps; t++) {
        int d = start_day + t;
        if (t <= m->shift_until) d -= m->shift_days;
        for (int b = 0; b < CIV_NBOROUGH; b++) {
            double sum = 0;
            int n = 0;
            for (int w = -half; w <= half; w++) {
                int k = d + w - first;
                k = k < 0 ? 0 : k >= span ? span - 1 : k;   /* the file's nearest day beyond its ends */
                if (!isnan(idx[k][b])) { sum += idx[k][b]; n++; }
            }
            const double x = n ? sum / n / 100.0 : 1.0;
            m->factor[t][b] = (float)(m->floor + (1.0 - m->floor) * pow(x, m->shape));
        }
    }
    free(idx);
    return CIV_OK;
}

civ_status civ_test_capacity_load(civ_test_capacity *c, int start_day, int steps, const char *study_file,
                                  const char *field, civ_error *err)
{
    civ_csv csv;
    civ_status st = civ_csv_read(c->file, &csv, err);
    if (st) return st;
    int cd, cb, ct;
    if ((st = civ_csv_col(&csv, "date", &cd, err)) || (st = civ_csv_col(&csv, "borough", &cb, err)) ||
        (st = civ_csv_col(&csv, "people_tested_molecular", &ct, err))) {
        civ_csv_free(&csv);
        return st;
    }
    c->tests = civ_xmalloc((size_t)(steps > 0 ? steps : 1) * sizeof(double));
    for (int t = 0; t < steps; t++) c->tests[t] = -1;
    int first = 0;
    bool seen = false;
    for (int r = 0; r < csv.nrows; r++) {
        if (strcmp(csv.cells[r][cb], "NYC") != 0) continue;
        int d;
        double v;
        if ((st = row_day(&csv, r, cd, &d, err)) || (st = civ_csv_number(&csv, r, ct, 0, &v, err))) break;
        if (v < 0) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: people_tested_molecular = %g is negative", c->file, r + 2, v);
            break;
        }
        if (!seen || d < first) first = d;
        seen = true;
        if (d >= start_day && d < start_day + steps) c->tests[d - start_day] = v;
    }
    civ_csv_free(&csv);
    if (!st && !seen)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\": no rows for NYC", study_file, field, c->file);
    if (st) {
        free(c->tests);
        c->tests = NULL;
        return st;
    }
    /* before the file: no testing; a day missing after its start: the day before's */
    for (int t = 0; t < steps; t++)
        if (c->tests[t] < 0) c->tests[t] = start_day + t < first || t == 0 ? 0 : c->tests[t - 1];
    return CIV_OK;
}

void civ_mobility_free(civ_mobility *m)
{
    free(m->file);
    free(m->factor);
    memset(m, 0, sizeof *m);
}

void civ_test_capacity_free(civ_test_capacity *c)
{
    free(c->file);
    free(c->tests);
    memset(c, 0, sizeof *c);
}
