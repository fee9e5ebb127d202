#include "host/output/svg_chart.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/date.h"
#include "host/util/file.h"
#include "host/util/interrupt.h"

/* one panel: width, height and the margins around its plot area */
#define PW 310
#define PH 215
#define ML 70
#define MR 12
#define MT 24
#define MB 24
#define LEGEND_ROW 18

void civ_xml_text(FILE *o, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        default: fputc(*s, o);
        }
    }
}

int civ_linear_ticks(double hi, int target, double *ticks, int max)
{
    if (!(hi > 0) || !isfinite(hi)) hi = 1;
    if (target < 1) target = 1;
    double raw = hi / target, mag = pow(10, floor(log10(raw))), step = 10 * mag;
    static const double mult[] = {1, 2, 2.5, 5, 10};
    for (int k = 0; k < 5; k++)
        if (mult[k] * mag >= raw * (1 - 1e-9)) { step = mult[k] * mag; break; }
    int n = (int)ceil(hi / step - 1e-9);
    if (n < 1) n = 1;
    if (n + 1 > max) n = max - 1;
    for (int k = 0; k <= n; k++) ticks[k] = k * step;
    return n + 1;
}

int civ_log_ticks(double lo, double hi, double *ticks, int max)
{
    if (!(lo > 0)) lo = 1;
    if (!(hi > lo)) hi = lo * 10;
    int e0 = (int)floor(log10(lo) + 1e-9), e1 = (int)ceil(log10(hi) - 1e-9);
    if (e1 <= e0) e1 = e0 + 1;
    const bool fine = e1 - e0 <= 3;
    int n = 0;
    for (int e = e0; e <= e1 && n < max; e++) {
        double p = pow(10, e);
        ticks[n++] = p;
        if (fine && e < e1) {
            if (n < max) ticks[n++] = 2 * p;
            if (n < max) ticks[n++] = 5 * p;
        }
    }
    return n;
}

/* decimals needed to write x exactly (up to 3) */
static int decimals_for(double x)
{
    x = fabs(x);
    for (int d = 0; d < 3; d++) {
        double s = x * pow(10, d);
        if (fabs(s - round(s)) < 1e-6 * (s > 1 ? s : 1)) return d;
    }
    return 3;
}

void civ_tick_label(double v, double step, char *buf, size_t n)
{
    double a = fabs(v), div = 1;
    const char *suffix = "";
    if (a >= 1e6) { div = 1e6; suffix = "M"; }
    else if (a >= 1e4) { div = 1e3; suffix = "k"; }
    int d = decimals_for(step / div);
    int dv = decimals_for(v / div);   /* a log tick such as 0.02 needs its own digits */
    if (dv > d) d = dv;
    char num[48];
    snprintf(num, sizeof num, "%.*f", d, v / div);
    if (strchr(num, '.')) {   /* 5.0 -> 5, 7.50 -> 7.5 */
        char *e = num + strlen(num) - 1;
        while (*e == '0') *e-- = 0;
        if (*e == '.') *e = 0;
    }
    if (!strcmp(num, "-0")) snprintf(num, sizeof num, "0");
    if (div == 1 && a >= 1000) {   /* 2,500 */
        char *dot = strchr(num, '.');
        size_t int_len = dot ? (size_t)(dot - num) : strlen(num), neg = num[0] == '-';
        char out[64];
        size_t k = 0;
        for (size_t i = 0; i < int_len; i++) {
            if (i > neg && (int_len - i) % 3 == 0) out[k++] = ',';
            out[k++] = num[i];
        }
        snprintf(out + k, sizeof out - k, "%s", dot ? dot : "");
        snprintf(buf, n, "%s", out);
        return;
    }
    snprintf(buf, n, "%s%s", num, suffix);
}

typedef struct {
    double x0, x1, y0, y1;   /* plot area: x0 left, x1 right, y0 bottom, y1 top */
    double lo, hi;           /* value range */
    bool log_y;
    int steps;
} frame;

static double fx(const frame *f, int t)
{
    return f->x0 + (f->x1 - f->x0) * (f->steps > 1 ? (double)t / (f->steps - 1) : 0.5);
}

static double fy(const frame *f, double v)
{
    double u;
    if (f->log_y) {
        if (v < f->lo) v = f->lo;
        u = (log10(v) - log10(f->lo)) / (log10(f->hi) - log10(f->lo));
    } else {
        u = (v - f->lo) / (f->hi - f->lo);
    }
    if (u > 1.02) u = 1.02;
    return f->y0 - (f->y0 - f->y1) * u;
}

static void stroke_attrs(FILE *o, const civ_mark *m)
{
    fprintf(o, "fill=\"none\" stroke=\"%s\" stroke-width=\"1.7\"", m->color);
    if (m->dash && m->dash[0]) fprintf(o, " stroke-dasharray=\"%s\"", m->dash);
}

/* Contiguous runs of days with values: [*a, *b) from t on; false when none is left. */
static bool next_run(const double *v, const double *w, int steps, int *t, int *a, int *b)
{
    while (*t < steps && (isnan(v[*t]) || (w && isnan(w[*t])))) (*t)++;
    if (*t >= steps) return false;
    *a = *t;
    while (*t < steps && !isnan(v[*t]) && !(w && isnan(w[*t]))) (*t)++;
    *b = *t;
    return true;
}

static void draw_mark(FILE *o, const frame *f, const civ_mark *m, size_t off)
{
    int t = 0, a, b;
    if (m->kind == CIV_MARK_BAND) {
        const double *lo = m->lo + off, *hi = m->hi + off;
        while (next_run(lo, hi, f->steps, &t, &a, &b)) {
            fprintf(o, "<polygon fill=\"%s\" fill-opacity=\"0.2\" stroke=\"none\" points=\"", m->color);
            for (int k = a; k < b; k++) fprintf(o, "%.1f,%.1f ", fx(f, k), fy(f, hi[k]));
            for (int k = b - 1; k >= a; k--) fprintf(o, "%.1f,%.1f ", fx(f, k), fy(f, lo[k]));
            fprintf(o, "\"/>\n");
        }
        return;
    }
    const double *v = m->v + off;
    while (next_run(v, NULL, f->steps, &t, &a, &b)) {
        fprintf(o, "<polyline ");
        stroke_attrs(o, m);
        fprintf(o, " points=\"");
        for (int k = a; k < b; k++) fprintf(o, "%.1f,%.1f ", fx(f, k), fy(f, v[k]));
        fprintf(o, "\"/>\n");
    }
}

/* the value range of panel p over every mark */
static void panel_range(const civ_chart *c, size_t off, double *mn_pos, double *mx)
{
    *mn_pos = INFINITY;
    *mx = 0;
    for (int l = 0; l < c->n_marks; l++) {
        const civ_mark *m = &c->marks[l];
        const double *arrs[2] = {m->kind == CIV_MARK_BAND ? m->lo : m->v, m->kind == CIV_MARK_BAND ? m->hi : NULL};
        for (int q = 0; q < 2; q++) {
            if (!arrs[q]) continue;
            for (int t = 0; t < c->steps; t++) {
                double v = arrs[q][off + t];
                if (isnan(v)) continue;
                if (v > *mx) *mx = v;
                if (v > 0 && v < *mn_pos) *mn_pos = v;
            }
        }
    }
}

static int legend_rows(const civ_chart *c, int width)
{
    int rows = c->n_marks ? 1 : 0, x = 12;
    for (int l = 0; l < c->n_marks; l++) {
        if (!c->marks[l].label) continue;
        int w = 40 + (int)(6.3 * strlen(c->marks[l].label));
        if (x + w > width && x > 12) { rows++; x = 12; }
        x += w;
    }
    return rows;
}

static void draw_legend(FILE *o, const civ_chart *c, int width, int top)
{
    int x = 12, y = top;
    for (int l = 0; l < c->n_marks; l++) {
        const civ_mark *m = &c->marks[l];
        if (!m->label) continue;
        int w = 40 + (int)(6.3 * strlen(m->label));
        if (x + w > width && x > 12) { x = 12; y += LEGEND_ROW; }
        if (m->kind == CIV_MARK_BAND)
            fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"28\" height=\"10\" fill=\"%s\" fill-opacity=\"0.2\"/>", x, y - 9, m->color);
        else {
            fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" ", x, y - 4, x + 28, y - 4);
            stroke_attrs(o, m);
            fprintf(o, "/>");
        }
        fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"11\">", x + 34, y);
        civ_xml_text(o, m->label);
        fprintf(o, "</text>\n");
        x += w;
    }
}

static void draw_axes(FILE *o, const civ_chart *c, const frame *f, const char *ylabel, double ox)
{
    static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#555\"/>\n", f->x0, f->y1,
            f->x1 - f->x0, f->y0 - f->y1);
    double ticks[64];
    int nt = f->log_y ? civ_log_ticks(f->lo, f->hi, ticks, 64) : civ_linear_ticks(f->hi, 5, ticks, 64);
    for (int k = 0; k < nt; k++) {
        double y = fy(f, ticks[k]);
        char label[32];
        civ_tick_label(ticks[k], f->log_y ? ticks[k] : (nt > 1 ? ticks[1] - ticks[0] : 1), label, sizeof label);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>"
                   "<text class=\"ytick\" x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%s</text>\n",
                f->x0, y, f->x1, y, f->x0 - 4, y + 3.5, label);
    }
    /* first of each month (every second or third month over long runs); the first and each January
     * with the year */
    const int every = c->steps > 400 ? 3 : c->steps > 200 ? 2 : 1;
    bool first_label = true;
    for (int t = 0; t < c->steps; t++) {
        int y, m, d;
        civ_date_ymd(c->start_day + t, &y, &m, &d);
        if (d != 1 || (m - 1) % every) continue;
        double x = fx(f, t);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#777\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%s",
                x, f->y0, x, f->y0 + 4, x, f->y0 + 15, months[m - 1]);
        if (m == 1 || first_label) fprintf(o, " %d", y);
        first_label = false;
        fputs("</text>\n", o);
    }
    const double cy = (f->y0 + f->y1) / 2, lx = ox + 13;
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10.5\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">",
            lx, cy, lx, cy);
    civ_xml_text(o, ylabel);
    fputs("</text>\n", o);
}

void civ_chart_svg(FILE *o, const civ_chart *c)
{
    const int W = c->cols * PW + 10;
    const int lrows = legend_rows(c, W);
    const int top = 46 + (c->subtitle ? 16 : 0) + lrows * LEGEND_ROW;
    const bool marker = c->marker_t > 0 && c->marker_t < c->steps;
    const int H = top + c->rows * PH + (c->footnote || marker ? 20 : 6);
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Arial, sans-serif\" role=\"img\">\n<title>", W, H, W, H);
    civ_xml_text(o, c->title);
    fprintf(o, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(o, "<text x=\"12\" y=\"22\" font-size=\"16\" font-weight=\"bold\">");
    civ_xml_text(o, c->title);
    fprintf(o, "</text>\n");
    if (c->subtitle) {
        fprintf(o, "<text x=\"12\" y=\"40\" font-size=\"11\" fill=\"#333\">");
        civ_xml_text(o, c->subtitle);
        if (c->log_y) fputs("; logarithmic y axes", o);
        fprintf(o, "</text>\n");
    }
    draw_legend(o, c, W, 40 + (c->subtitle ? 16 : 0) + 14);
    for (int r = 0; r < c->rows; r++)
        for (int col = 0; col < c->cols; col++) {
            const int p = r * c->cols + col;
            const size_t off = (size_t)p * c->steps;
            const double ox = 5 + col * PW, oy = top + r * PH;
            frame f = {ox + ML, ox + PW - MR, oy + PH - MB, oy + MT, 0, 1, c->log_y, c->steps};
            double mn, mx;
            panel_range(c, off, &mn, &mx);
            if (c->log_y) {
                if (!(mx > 0)) mx = 1;
                if (!isfinite(mn)) mn = mx / 10;
                if (mn < mx * 1e-5) mn = mx * 1e-5;
                double t[64];
                int nt = civ_log_ticks(mn, mx, t, 64);
                f.lo = t[0];
                f.hi = t[nt - 1];
            } else {
                double t[64];
                int nt = civ_linear_ticks(mx, 5, t, 64);
                f.hi = t[nt - 1];
            }
            fprintf(o, "<g>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"12.5\" font-weight=\"bold\">", f.x0, oy + 16);
            if (c->panel_titles) civ_xml_text(o, c->panel_titles[p]);
            else {
                civ_xml_text(o, c->row_names[r]);
                fputs(": ", o);
                civ_xml_text(o, c->col_names[col]);
            }
            fputs("</text>\n", o);
            draw_axes(o, c, &f, c->y_labels[col], ox);
            for (int l = 0; l < c->n_marks; l++)
                if (c->marks[l].kind == CIV_MARK_BAND) draw_mark(o, &f, &c->marks[l], off);
            for (int l = 0; l < c->n_marks; l++)
                if (c->marks[l].kind == CIV_MARK_LINE) draw_mark(o, &f, &c->marks[l], off);
            if (marker) {   /* a short label in the panel; the date goes to the footnote */
                const double x = fx(&f, c->marker_t);
                const bool left = x + 50 > f.x1;
                fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\" stroke-dasharray=\"2 3\"/>"
                           "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9.5\" fill=\"#444\" text-anchor=\"%s\">held out</text>\n",
                        x, f.y0, x, f.y1, left ? x - 3 : x + 3, f.y1 + 10, left ? "end" : "start");
            }
            fputs("</g>\n", o);
        }
    if (c->footnote || marker) {
        fprintf(o, "<text x=\"12\" y=\"%d\" font-size=\"10\" fill=\"#333\">", H - 8);
        civ_xml_text(o, c->footnote ? c->footnote : "");
        if (marker) {
            fputs(c->footnote ? "; dotted line: " : "dotted line: ", o);
            civ_xml_text(o, c->marker_label ? c->marker_label : "");
        }
        fputs("</text>\n", o);
    }
    fputs("</svg>\n", o);
}

civ_status civ_chart_write(const char *svg_path, const civ_chart *c, civ_error *err)
{
    civ_output out;
    FILE *o = civ_output_open_text(&out, svg_path, err);
    if (!o) return err->status;
    civ_chart_svg(o, c);
    if (civ_interrupted) {
        civ_output_abandon(&out);
        return civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", svg_path);
    }
    return civ_output_commit(&out, err);
}
