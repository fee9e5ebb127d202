/* `civitas report`: for run files, a validation page with plots of simulated (real-city units) vs
 * observed reported cases, hospitalisations and deaths per borough, unemployment vs the LAUS monthly
 * rates, and error tables (MAE, RMSE, normalised deviation, correlation) on the fitted and held-out
 * windows, in the same form for every run given (e.g. heuristic and LLM agents); runs of scenario
 * studies are drawn but not scored. For an ensemble file, the counterfactual report. */
#ifndef CIV_REPORT_H
#define CIV_REPORT_H

#include "host/util/error.h"

typedef struct {
    const char **runs;
    int n_runs;
    const char *out_dir;
    const char *holdout_from;   /* YYYY-MM-DD; NULL: the study's calibration.held_out_from, else 2020-06-01 when
                                   simulated, else (run files) the last 28 days */
    const char *from, *to;      /* an ensemble's outcome window, YYYY-MM-DD; NULL: the first or last day */
    const char *data_dir;       /* where LAUS is looked for when not beside the study's observed file */
} civ_report_options;

/* Run files: the validation report above. One ensemble file: the counterfactual report
 * (ensemble_report.c). Both write DIR/report.html (self-contained) and DIR/report.md with SVG files. */
civ_status civ_report(const civ_report_options *o, civ_error *err);
civ_status civ_ens_report(const civ_report_options *o, civ_error *err);

typedef struct { double mae, rmse, nd, r; int n; } civ_errors;
/* Errors of sim against obs over [t0, t1). */
civ_errors civ_error_metrics(const double *sim, const double *obs, int t0, int t1);

#endif
