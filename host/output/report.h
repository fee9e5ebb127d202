/* `civitas report`: a self-contained Markdown validation page with SVG plots of
 * simulated vs observed reported cases, hospitalisations and deaths per borough,
 * unemployment vs the LAUS monthly rates, and error tables (MAE, RMSE,
 * normalised deviation, correlation) on the fitted and held-out windows, in the
 * same form for every run given (e.g. heuristic and LLM agents). */
#ifndef CIV_REPORT_H
#define CIV_REPORT_H

#include "host/util/error.h"

typedef struct {
    const char **runs;
    int n_runs;
    const char *out_dir;
    const char *holdout_from;   /* YYYY-MM-DD; NULL: the last 28 days */
} civ_report_options;

civ_status civ_report(const civ_report_options *o, civ_error *err);

typedef struct { double mae, rmse, nd, r; int n; } civ_errors;
/* Errors of sim against obs over [t0, t1). */
civ_errors civ_error_metrics(const double *sim, const double *obs, int t0, int t1);

#endif
