#include "host/study/observed.h"

#include <stdlib.h>
#include <string.h>

#include "host/util/csv.h"
#include "host/util/date.h"

civ_status civ_observed_load(const char *path, int start_day, int steps, civ_observed *o, civ_error *err)
{
    memset(o, 0, sizeof *o);
    civ_csv csv;
    civ_status st = civ_csv_read(path, &csv, err);
    if (st) return st;
    int cd, cb, cc, cp, ch, cx;
    if ((st = civ_csv_col(&csv, "date", &cd, err)) || (st = civ_csv_col(&csv, "borough", &cb, err)) ||
        (st = civ_csv_col(&csv, "confirmed_cases", &cc, err)) || (st = civ_csv_col(&csv, "probable_cases", &cp, err)) ||
        (st = civ_csv_col(&csv, "hospitalized", &ch, err)) || (st = civ_csv_col(&csv, "deaths", &cx, err)))
        goto out;
    o->steps = steps;
    o->cases = civ_xcalloc((size_t)steps * CIV_NBOROUGH, sizeof(int32_t));
    o->hospitalized = civ_xcalloc((size_t)steps * CIV_NBOROUGH, sizeof(int32_t));
    o->deaths = civ_xcalloc((size_t)steps * CIV_NBOROUGH, sizeof(int32_t));
    uint8_t *seen = civ_xcalloc((size_t)steps, 1);
    o->first_day = 1 << 30; o->last_day = -(1 << 30);
    for (int r = 0; r < csv.nrows; r++) {
        int day;
        if (!civ_date_parse(csv.cells[r][cd], &day)) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: '%s' is not a date YYYY-MM-DD", path, r + 2, csv.cells[r][cd]);
            free(seen);
            goto out;
        }
        if (day < o->first_day) o->first_day = day;
        if (day > o->last_day) o->last_day = day;
        int b = civ_borough_index(csv.cells[r][cb]);
        int s = day - start_day;
        if (b < 0 || s < 0 || s >= steps) continue;
        double c1, c2, h, d;
        if ((st = civ_csv_number(&csv, r, cc, 0, &c1, err)) || (st = civ_csv_number(&csv, r, cp, 0, &c2, err)) ||
            (st = civ_csv_number(&csv, r, ch, 0, &h, err)) || (st = civ_csv_number(&csv, r, cx, 0, &d, err))) {
            free(seen);
            goto out;
        }
        o->cases[s * CIV_NBOROUGH + b] = (int32_t)(c1 + c2);
        o->hospitalized[s * CIV_NBOROUGH + b] = (int32_t)h;
        o->deaths[s * CIV_NBOROUGH + b] = (int32_t)d;
        seen[s] = 1;
    }
    for (int s = 0; s < steps; s++)
        if (!seen[s]) {
            char a[11], b[11], f1[11], f2[11];
            civ_date_format(start_day, a);
            civ_date_format(start_day + steps - 1, b);
            civ_date_format(o->first_day, f1);
            civ_date_format(o->last_day, f2);
            st = civ_fail(err, CIV_ERR_INPUT, "%s: the study simulates %s to %s, but the observed data cover %s to %s "
                          "(change start_date/steps or drop 'observed')", path, a, b, f1, f2);
            break;
        }
    free(seen);
out:
    civ_csv_free(&csv);
    if (st) civ_observed_free(o);
    return st;
}

void civ_observed_free(civ_observed *o)
{
    free(o->cases); free(o->hospitalized); free(o->deaths);
    memset(o, 0, sizeof *o);
}
