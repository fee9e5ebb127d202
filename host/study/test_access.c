/* testing.access_file: how the city's tests were shared between boroughs (daily_inputs.h). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "host/study/daily_inputs.h"
#include "host/population/population.h"
#include "host/util/csv.h"
#include "host/util/date.h"

/* Cumulative people tested negative per borough on every day first..last, linear between the days a
 * borough has a snapshot, flat before its first and after its last. */
typedef struct {
    int first, last;
    double (*neg)[CIV_NBOROUGH];   /* [day - first][borough] */
} negatives;

static double negatives_on(const negatives *n, int day, int b)
{
    if (day < n->first) return 0;   /* before the first snapshot: nothing counted yet */
    if (day > n->last) day = n->last;
    return n->neg[day - n->first][b];
}

static civ_status read_negatives(const char *file, const char *study_file, const char *field, negatives *out,
                                 civ_error *err)
{
    civ_csv csv;
    civ_status st = civ_csv_read(file, &csv, err);
    if (st) return st;
    int cd, cb, ct, cp;
    if ((st = civ_csv_col(&csv, "snapshot_date", &cd, err)) || (st = civ_csv_col(&csv, "borough", &cb, err)) ||
        (st = civ_csv_col(&csv, "cum_people_tested", &ct, err)) || (st = civ_csv_col(&csv, "cum_people_positive", &cp, err))) {
        civ_csv_free(&csv);
        return st;
    }
    bool seen = false;
    int first = 0, last = 0;
    for (int r = 0; r < csv.nrows; r++) {
        int d;
        if (civ_borough_index(csv.cells[r][cb]) < 0) continue;   /* the city's own rows, unknown ZIPs */
        if (!civ_date_parse(csv.cells[r][cd], &d)) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: snapshot_date '%s' is not YYYY-MM-DD", file, r + 2,
                          csv.cells[r][cd]);
            break;
        }
        if (!seen || d < first) first = d;
        if (!seen || d > last) last = d;
        seen = true;
    }
    if (!st && !seen)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\": no rows for a borough (BX, BK, MN, QN, SI)",
                      study_file, field, file);
    if (st) {
        civ_csv_free(&csv);
        return st;
    }
    const int span = last - first + 1;
    double (*neg)[CIV_NBOROUGH] = civ_xmalloc((size_t)span * sizeof *neg);
    for (int d = 0; d < span; d++)
        for (int b = 0; b < CIV_NBOROUGH; b++) neg[d][b] = NAN;
    for (int r = 0; r < csv.nrows && !st; r++) {
        const int b = civ_borough_index(csv.cells[r][cb]);
        if (b < 0) continue;
        int d;
        double tested, positive;
        civ_date_parse(csv.cells[r][cd], &d);
        if ((st = civ_csv_number(&csv, r, ct, NAN, &tested, err)) || (st = civ_csv_number(&csv, r, cp, NAN, &positive, err)))
            break;
        if (!(tested >= 0) || !(positive >= 0) || positive > tested)
            st = civ_fail(err, CIV_ERR_INPUT,
                          "%s: line %d: cum_people_tested = %g, cum_people_positive = %g: need 0 <= positive <= tested",
                          file, r + 2, tested, positive);
        else
            neg[d - first][b] = tested - positive;
    }
    civ_csv_free(&csv);
    for (int b = 0; b < CIV_NBOROUGH && !st; b++) {
        int prev = -1;
        for (int d = 0; d < span; d++) {
            if (isnan(neg[d][b])) continue;
            for (int k = prev + 1; k < d; k++)   /* a gap: linear from the day before it, flat before the first */
                neg[k][b] = prev < 0 ? neg[d][b] : neg[prev][b] + (neg[d][b] - neg[prev][b]) * (k - prev) / (d - prev);
            prev = d;
        }
        if (prev < 0)
            st = civ_fail(err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\": no rows for borough %s", study_file, field, file,
                          civ_borough_code[b]);
        else
            for (int k = prev + 1; k < span; k++) neg[k][b] = neg[prev][b];
    }
    if (st) {
        free(neg);
        return st;
    }
    out->first = first;
    out->last = last;
    out->neg = neg;
    return CIV_OK;
}

civ_status civ_test_access_load(civ_test_access *a, int start_day, int steps, const char *study_file,
                                const char *field, civ_error *err)
{
    negatives n;
    civ_status st = read_negatives(a->file, study_file, field, &n, err);
    if (st) return st;
    const int half = a->window_days / 2;
    a->share = civ_xmalloc((size_t)(steps > 0 ? steps : 1) * sizeof *a->share);
    for (int t = 0; t < steps && !st; t++) {
        int lo = start_day + t - half, hi = start_day + t + half;
        if (hi > n.last) { lo -= hi - n.last; hi = n.last; }   /* past the last snapshot: the last window */
        if (hi < n.first) hi = n.first;                        /* before the first: everything up to it */
        double inc[CIV_NBOROUGH], sum = 0;
        for (int b = 0; b < CIV_NBOROUGH; b++) {
            inc[b] = negatives_on(&n, hi, b) - negatives_on(&n, lo - 1, b);   /* tested on days lo..hi */
            if (inc[b] < 0) inc[b] = 0;   /* a revision downwards: nobody tested */
            sum += inc[b];
        }
        if (!(sum > 0)) {   /* no negatives in the window (or revisions only): everything up to its end */
            sum = 0;
            for (int b = 0; b < CIV_NBOROUGH; b++) sum += inc[b] = negatives_on(&n, hi, b);
        }
        if (!(sum > 0)) {
            char date[16];
            civ_date_format(hi, date);
            st = civ_fail(err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\": nobody tested negative up to %s", study_file,
                          field, a->file, date);
            break;
        }
        for (int b = 0; b < CIV_NBOROUGH; b++) a->share[t][b] = (float)(inc[b] / sum);
    }
    free(n.neg);
    if (st) {
        free(a->share);
        a->share = NULL;
    }
    return st;
}

void civ_test_access_free(civ_test_access *a)
{
    free(a->file);
    free(a->share);
    memset(a, 0, sizeof *a);
}
