/* `civitas plot`: daily series per area (the city and each borough) of a run file or an ensemble file,
 * in real-city units, as one SVG (host/output/svg_chart.h). */
#ifndef CIV_PLOT_H
#define CIV_PLOT_H

#include <stdbool.h>
#include <stdio.h>

#include "host/output/ensemble_file.h"
#include "host/util/error.h"

typedef struct {
    const char *input;          /* run or ensemble file */
    const char *svg_path;
    bool show_observed, log_y;
    const char *holdout_from;   /* YYYY-MM-DD; NULL: the study's calibration.held_out_from, else 2020-06-01 */
} civ_plot_options;

civ_status civ_plot(const civ_plot_options *o, civ_error *err);

/* The series drawn, one column each: infections, reported cases, hospital admissions, deaths (7-day
 * trailing means of daily counts) and people unemployed. */
#define CIV_PLOT_COLS 5
typedef struct {
    const char *var;        /* run variable */
    int observed;           /* index into cases, hospitalized, deaths; -1: none */
    const char *name, *y_label;
    bool flow;              /* a daily count (smoothed), not a stock */
} civ_plot_column;
extern const civ_plot_column civ_plot_columns[CIV_PLOT_COLS];
extern const char *const civ_area_names[CIV_N_AREAS];

/* An ensemble's chart: each study's median and 5-95% band, observed series, the held-out boundary
 * (holdout_t < 0: none), written as an SVG element to out. */
civ_status civ_ens_chart(const civ_ens *e, bool show_observed, bool log_y, int holdout_t, FILE *out, civ_error *err);

/* 7-day trailing mean of in[t * stride + col] times scale. */
void civ_smooth7(const int *in, int steps, int stride, int col, double scale, double *out);

#endif
