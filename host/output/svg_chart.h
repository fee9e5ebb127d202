/* Daily series drawn as a grid of panels (rows: the city and each borough; columns: the series) in one
 * self-contained SVG: axis labels with units, ticks at round values, an optional log scale, median lines
 * with shaded bands, observed series, and a dated marker (the first held-out day). Used by
 * `civitas plot` and by the reports (inline in their HTML). */
#ifndef CIV_SVG_CHART_H
#define CIV_SVG_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "host/util/error.h"

typedef enum { CIV_MARK_LINE, CIV_MARK_BAND } civ_mark_kind;

/* One thing drawn in every panel where it has values: v (LINE) or lo/hi (BAND) are [panel][t]
 * (panel = row * cols + col), NaN where there is nothing to draw. */
typedef struct {
    civ_mark_kind kind;
    const char *label;      /* legend entry; NULL: none */
    const char *color;
    const char *dash;       /* SVG stroke-dasharray, "" for solid */
    const double *v, *lo, *hi;
} civ_mark;

typedef struct {
    const char *title, *subtitle;
    int rows, cols;
    const char *const *row_names;   /* [rows]: "New York City", "Bronx", ... */
    const char *const *col_names;   /* [cols]: "reported cases" */
    const char *const *y_labels;    /* [cols]: "cases per day" */
    int steps, start_day;
    bool log_y;
    int marker_t;                   /* a dotted vertical line at day marker_t, labelled "held out"; < 0: none */
    const char *marker_label;       /* what it marks, in the footnote: "held out from 2020-06-01" */
    int n_marks;
    const civ_mark *marks;
    const char *footnote;
    const char *const *panel_titles;   /* [rows * cols] in place of "row: column"; NULL: those */
} civ_chart;

/* Writes the SVG element (no XML declaration, so it can be inlined in HTML). */
void civ_chart_svg(FILE *o, const civ_chart *c);
/* Writes the chart to svg_path (whole or not at all). */
civ_status civ_chart_write(const char *svg_path, const civ_chart *c, civ_error *err);

/* Round tick values covering [0, hi] (linear: steps of 1, 2, 2.5 or 5 x 10^k, about `target` of them) or
 * [lo, hi] (log: powers of ten, with 2 and 5 in between over three decades or fewer). Return the count; ticks[0] and
 * ticks[count - 1] are the axis ends. */
int civ_linear_ticks(double hi, int target, double *ticks, int max);
int civ_log_ticks(double lo, double hi, double *ticks, int max);
/* A tick label exact enough for its step (2.5, 7.5, not 2 and 8), thousands as k and millions as M. */
void civ_tick_label(double v, double step, char *buf, size_t n);

/* XML-escaped text (&, <, >, ") written to o. */
void civ_xml_text(FILE *o, const char *s);

#endif
