/* An ensemble's chart: per area and series, each study's median over its runs with the 5-95% band
 * (of the runs' 7-day trailing means), the observed series, and the first held-out day. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/output/ensemble_stats.h"
#include "host/output/plot.h"
#include "host/output/svg_chart.h"
#include "host/output/units.h"
#include "host/population/population.h"
#include "host/util/date.h"

/* one colour per study: the base first */
static const char *const palette[] = {"#1f5fbf", "#d2691e", "#2e8b57", "#8b3a8b", "#b8860b", "#708090"};
#define N_PALETTE (int)(sizeof palette / sizeof palette[0])

civ_status civ_ens_chart(const civ_ens *e, bool show_observed, bool log_y, int holdout_t, FILE *out, civ_error *err)
{
    const int T = e->steps, S = e->n_studies;
    const size_t n = (size_t)CIV_N_AREAS * CIV_PLOT_COLS * T;
    const bool have_obs = show_observed && e->observed[0];
    /* per study: band lo, median, band hi; then observed */
    double *v = civ_xmalloc(((size_t)3 * S + 1) * n * sizeof(double));
    for (size_t k = 0; k < ((size_t)3 * S + 1) * n; k++) v[k] = NAN;
    double *lo = civ_xmalloc((size_t)CIV_N_AREAS * T * sizeof(double)), *md = civ_xmalloc((size_t)CIV_N_AREAS * T * sizeof(double)),
           *hi = civ_xmalloc((size_t)CIV_N_AREAS * T * sizeof(double));
    civ_status st = CIV_OK;
    for (int c = 0; c < CIV_PLOT_COLS && !st; c++) {
        double *series = NULL;
        if ((st = civ_ens_series(e, civ_plot_columns[c].var, &series, err))) break;
        for (int i = 0; i < S; i++) {
            civ_study_bands(e, series, i, civ_plot_columns[c].flow, lo, md, hi);
            for (int a = 0; a < CIV_N_AREAS; a++) {
                const size_t off = ((size_t)a * CIV_PLOT_COLS + c) * T;
                memcpy(v + (3 * (size_t)i) * n + off, lo + (size_t)a * T, (size_t)T * sizeof(double));
                memcpy(v + (3 * (size_t)i + 1) * n + off, md + (size_t)a * T, (size_t)T * sizeof(double));
                memcpy(v + (3 * (size_t)i + 2) * n + off, hi + (size_t)a * T, (size_t)T * sizeof(double));
            }
        }
        free(series);
        const int ob = civ_plot_columns[c].observed;
        if (have_obs && ob >= 0) {
            double *o = v + (size_t)3 * S * n;
            int *city = civ_xcalloc((size_t)T + 1, sizeof(int)), *bor = civ_xmalloc((size_t)T * CIV_NBOROUGH * sizeof(int));
            for (int t = 0; t < T; t++)
                for (int b = 0; b < CIV_NBOROUGH; b++) {
                    bor[t * CIV_NBOROUGH + b] = e->observed[ob][t * CIV_NBOROUGH + b];
                    city[t] += bor[t * CIV_NBOROUGH + b];
                }
            civ_smooth7(city, T, 1, 0, 1.0, o + (size_t)c * T);
            for (int b = 0; b < CIV_NBOROUGH; b++)
                civ_smooth7(bor, T, CIV_NBOROUGH, b, 1.0, o + ((size_t)(b + 1) * CIV_PLOT_COLS + c) * T);
            free(city);
            free(bor);
        }
    }
    free(lo); free(md); free(hi);
    if (st) { free(v); return st; }

    civ_mark *marks = civ_xcalloc((size_t)2 * S + 1, sizeof(civ_mark));
    char (*labels)[2][200] = civ_xcalloc((size_t)S, sizeof *labels);
    int nm = 0;
    for (int i = 0; i < S; i++) {
        const char *role = i == 0 ? "base" : "scenario";
        snprintf(labels[i][0], sizeof labels[i][0], "%s (%s): median of %d runs", e->study[i], role, e->seeds);
        snprintf(labels[i][1], sizeof labels[i][1], "%s: 5-95%% of runs", e->study[i]);
        const char *color = palette[i % N_PALETTE];
        marks[nm++] = (civ_mark){CIV_MARK_BAND, labels[i][1], color, "", NULL, v + (3 * (size_t)i) * n, v + (3 * (size_t)i + 2) * n};
        marks[nm++] = (civ_mark){CIV_MARK_LINE, labels[i][0], color, i ? "7 3" : "", v + (3 * (size_t)i + 1) * n, NULL, NULL};
    }
    if (have_obs) marks[nm++] = (civ_mark){CIV_MARK_LINE, "observed (NYC DOHMH)", "#111111", "2 2", v + (size_t)3 * S * n, NULL, NULL};
    const char *cols[CIV_PLOT_COLS], *ylab[CIV_PLOT_COLS];
    for (int c = 0; c < CIV_PLOT_COLS; c++) { cols[c] = civ_plot_columns[c].name; ylab[c] = civ_plot_columns[c].y_label; }
    bool same_scale = true;
    for (int i = 1; i < S; i++) same_scale &= e->scale[i] == e->scale[0];
    char title[400], sub[500], scale_text[200], marker[40], hd[11] = "";
    size_t len = (size_t)snprintf(title, sizeof title, "civitas ensemble: %s (base)", e->study[0]);
    for (int i = 1; i < S && len < sizeof title; i++) len += (size_t)snprintf(title + len, sizeof title - len, "%s%s", i == 1 ? " vs " : ", ", e->study[i]);
    civ_scale_statement(e->scale[0], scale_text, sizeof scale_text);
    snprintf(sub, sizeof sub, "Daily counts as 7-day trailing means, unemployed on the day; %s%s", scale_text,
             same_scale ? "" : " (the base's; other studies are scaled by their own)");
    if (holdout_t >= 0) civ_date_format(e->start_day + holdout_t, hd);
    snprintf(marker, sizeof marker, "held out from %s", hd);
    civ_chart chart = {title, sub, CIV_N_AREAS, CIV_PLOT_COLS, civ_area_names, cols, ylab, T, e->start_day, log_y,
                       holdout_t, marker, nm, marks,
                       have_obs ? "observed: NYC DOHMH daily counts by borough (2025 revision, by date of event); bands: "
                                  "5% to 95% of each study's runs, which pair by seed (and posterior draw)"
                                : "bands: 5% to 95% of each study's runs, which pair by seed (and posterior draw)",
                       NULL};
    civ_chart_svg(out, &chart);
    free(marks);
    free(labels);
    free(v);
    return CIV_OK;
}
