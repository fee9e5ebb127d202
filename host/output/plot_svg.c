/* Epidemic curves by borough as a self-contained SVG: one panel for the city
 * and one per borough, 7-day trailing means of simulated infections, reported
 * cases and hospital admissions, with the observed DOHMH series (scaled to the
 * simulated population) when the run carries them. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/date.h"
#include "host/util/file.h"
#include "host/util/h5_util.h"
#include "host/util/interrupt.h"
#include "host/output/info.h"
#include "host/population/population.h"

#define PW 430
#define PH 250
#define ML 62
#define MR 14
#define MT 30
#define MB 36


static double nice_max(double x)
{
    if (x <= 0) return 1;
    double p = pow(10, floor(log10(x)));
    double m = x / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

void civ_smooth7(const int *in, int steps, int stride, int col, double scale, double *out)
{
    for (int t = 0; t < steps; t++) {
        double s = 0;
        int n = 0;
        for (int k = t - 6; k <= t; k++) if (k >= 0) { s += in[k * stride + col]; n++; }
        out[t] = scale * s / n;
    }
}

/* Six panels (city + boroughs) of daily lines; values[line][panel * steps + t]. */
civ_status civ_svg_panels(const char *svg_path, const char *title, int steps, int start_day, int nlines,
                          const civ_svg_line *lines, const char *footnote, civ_error *err)
{
    civ_output out;
    civ_status st = civ_output_begin(&out, svg_path, err);
    if (st) return st;
    FILE *o = civ_output_text(&out, err);
    if (!o) {
        civ_output_abandon(&out);
        return err->status;
    }
    const int W = 3 * PW, H = 2 * PH + 70;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Arial, sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fprintf(o, "<text x=\"12\" y=\"22\" font-size=\"16\" font-weight=\"bold\">%s</text>\n", title);
    static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int p = 0; p < 6; p++) {
        int ox = (p % 3) * PW, oy = 34 + (p / 3) * PH;
        int x0 = ox + ML, x1 = ox + PW - MR, y0 = oy + PH - MB, y1 = oy + MT;
        double ymax = 0;
        for (int l = 0; l < nlines; l++)
            for (int t = 0; t < steps; t++) if (lines[l].v[(size_t)p * steps + t] > ymax) ymax = lines[l].v[(size_t)p * steps + t];
        ymax = nice_max(ymax * 1.05);
        fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">%s</text>\n", x0, oy + 18,
                p ? civ_borough_name[p - 1] : "New York City");
        fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", x0, y1, x1 - x0, y0 - y1);
        for (int k = 0; k <= 4; k++) {
            double v = ymax * k / 4;
            double y = y0 - (y0 - y1) * k / 4.0;
            fprintf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                       "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.*f</text>\n",
                    x0, y, x1, y, x0 - 4, y + 3, v < 10 && v != floor(v) ? 1 : 0, v);
        }
        for (int t = 0; t < steps; t++) {
            int y, m, d;
            civ_date_ymd(start_day + t, &y, &m, &d);
            if (d != 1 && t != 0) continue;
            double x = x0 + (x1 - x0) * (steps > 1 ? (double)t / (steps - 1) : 0);
            char label[16];
            if (m == 1 || t == 0) snprintf(label, sizeof label, "%s %d", months[m - 1], y);
            else snprintf(label, sizeof label, "%s", months[m - 1]);
            fprintf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>"
                       "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%s</text>\n",
                    x, y0, x, y0 + 4, x, y0 + 15, label);
        }
        for (int l = 0; l < nlines; l++) {
            fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" %s%s%s points=\"", lines[l].color,
                    lines[l].dash[0] ? "stroke-dasharray=\"" : "", lines[l].dash, lines[l].dash[0] ? "\"" : "");
            for (int t = 0; t < steps; t++) {
                double x = x0 + (x1 - x0) * (steps > 1 ? (double)t / (steps - 1) : 0);
                double y = y0 - (y0 - y1) * lines[l].v[(size_t)p * steps + t] / ymax;
                fprintf(o, "%.1f,%.1f ", x, y);
            }
            fprintf(o, "\"/>\n");
        }
    }
    for (int l = 0; l < nlines; l++) {
        int x = 20 + l * 250, y = H - 16;
        fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" %s%s%s/>"
                   "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n", x, y - 4, x + 26, y - 4, lines[l].color,
                lines[l].dash[0] ? "stroke-dasharray=\"" : "", lines[l].dash, lines[l].dash[0] ? "\"" : "", x + 32, y, lines[l].label);
    }
    if (footnote)
        fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%s</text>\n", W - 10, H - 4, footnote);
    fprintf(o, "</svg>\n");
    if (civ_interrupted) {
        civ_output_abandon(&out);
        return civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", svg_path);
    }
    return civ_output_commit(&out, err);
}

civ_status civ_plot(const char *run_path, const char *svg_path, int show_observed, civ_error *err)
{
    int *inf = NULL, *rep = NULL, *hosp = NULL, *obs_c = NULL, *obs_h = NULL;
    int steps = 0, s2, s3;
    civ_status st;
    if ((st = civ_read_borough_series(run_path, "new_infections", &inf, &steps, err)) ||
        (st = civ_read_borough_series(run_path, "new_reported_cases", &rep, &s2, err)) ||
        (st = civ_read_borough_series(run_path, "new_hospitalisations", &hosp, &s3, err))) {
        free(inf); free(rep);
        return st;
    }
    if (steps < 1) {
        free(inf); free(rep); free(hosp);
        return civ_fail(err, CIV_ERR_INPUT, "%s: the run has no completed steps to plot", run_path);
    }
    hid_t f = H5Fopen(run_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *start = civ_h5_read_attr_string(f, "start_date"), *study = civ_h5_read_attr_string(f, "study");
    char *status = civ_h5_read_attr_string(f, "status");
    double scale = 1;
    civ_h5_read_attr_f64(f, "population_scale", &scale);
    const int has_observed = H5Lexists(f, "observed", H5P_DEFAULT) > 0;
    H5Fclose(f);
    int start_day = 0;
    if (!start || !civ_date_parse(start, &start_day)) {
        free(inf); free(rep); free(hosp); free(start); free(study); free(status);
        return civ_fail(err, CIV_ERR_INPUT, "%s: attribute 'start_date' is missing or not a date YYYY-MM-DD", run_path);
    }
    civ_error no_obs = {0};   /* observed data are optional on plots */
    int have_obs = show_observed && civ_read_observed(run_path, "cases", steps, &obs_c, &no_obs) == CIV_OK &&
                   civ_read_observed(run_path, "hospitalized", steps, &obs_h, &no_obs) == CIV_OK;
    if (show_observed && has_observed && !have_obs)   /* present but unreadable: say why it is missing */
        fprintf(stderr, "civitas: warning: observed data left off the plot: %s\n", no_obs.msg);

    /* per panel: 0 = NYC (sum), 1..5 = boroughs */
    int *src[5] = {inf, rep, hosp, obs_c, obs_h};
    int nlines = have_obs ? 5 : 3;
    civ_svg_line lines[5] = {{"simulated infections", "#9a9a9a", "", NULL},
                       {"simulated reported cases", "#1f5fbf", "", NULL},
                       {"simulated hospital admissions", "#d2691e", "", NULL},
                       {"observed cases (x scale)", "#111111", "4 3", NULL},
                       {"observed hospitalisations (x scale)", "#d2691e", "2 3", NULL}};
    int *city = civ_xcalloc((size_t)steps, sizeof(int));
    for (int l = 0; l < nlines; l++) {
        lines[l].v = civ_xcalloc((size_t)steps * 6, sizeof(double));
        double sc = l >= 3 ? scale : 1.0;
        for (int t = 0; t < steps; t++) {
            city[t] = 0;
            for (int b = 0; b < CIV_NBOROUGH; b++) city[t] += src[l][t * CIV_NBOROUGH + b];
        }
        civ_smooth7(city, steps, 1, 0, sc, lines[l].v);
        for (int b = 0; b < CIV_NBOROUGH; b++) civ_smooth7(src[l], steps, CIV_NBOROUGH, b, sc, lines[l].v + (size_t)(b + 1) * steps);
    }
    free(city);

    char title[256], foot[128];
    snprintf(title, sizeof title, "civitas: %s (%s), daily counts, 7-day trailing mean", study ? study : "run", status ? status : "?");
    snprintf(foot, sizeof foot, "observed: NYC DOHMH (2025 revision), x %g", scale);
    st = civ_svg_panels(svg_path, title, steps, start_day, nlines, lines, have_obs ? foot : NULL, err);
    for (int l = 0; l < nlines; l++) free(lines[l].v);
    free(inf); free(rep); free(hosp); free(obs_c); free(obs_h);
    free(start); free(study); free(status);
    return st;
}
