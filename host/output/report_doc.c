#include "host/output/report_doc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "host/output/svg_chart.h"
#include "host/util/file.h"

static const char *const style =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1600px;margin:1.5em auto;padding:0 1em;color:#222;"
    "line-height:1.45}\n"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}\n"
    "table{border-collapse:collapse;margin:.8em 0;font-size:.92em}\n"
    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}th{background:#f0f0f0}\n"
    "td:first-child,th:first-child{text-align:left}\n"
    "figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:.9em;color:#444}\n"
    "code{background:#f4f4f4;padding:0 .2em}\n";

civ_status civ_doc_open(civ_doc *d, const char *dir, const char *title, civ_error *err)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    snprintf(d->md_path, sizeof d->md_path, "%s/report.md", dir);
    snprintf(d->html_path, sizeof d->html_path, "%s/report.html", dir);
    d->md = civ_partial_open(d->md_path, d->md_tmp, sizeof d->md_tmp);
    if (!d->md) return civ_fail(err, CIV_ERR_IO, "%s: cannot write: %m", d->md_path);
    d->html = civ_partial_open(d->html_path, d->html_tmp, sizeof d->html_tmp);
    if (!d->html) {
        civ_partial_discard(d->md, d->md_tmp);
        return civ_fail(err, CIV_ERR_IO, "%s: cannot write: %m", d->html_path);
    }
    fprintf(d->md, "# %s\n", title);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", d->html);
    civ_xml_text(d->html, title);
    fprintf(d->html, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", style);
    civ_xml_text(d->html, title);
    fputs("</h1>\n", d->html);
    return CIV_OK;
}

void civ_doc_heading(civ_doc *d, int level, const char *id, const char *text)
{
    fprintf(d->md, "\n%.*s %s\n", level, "######", text);
    if (level == 2) {
        if (d->in_section) fputs("</section>\n", d->html);
        fprintf(d->html, "<section id=\"%s\">\n", id);
        d->in_section = true;
        fprintf(d->html, "<h2>");
    } else {
        fprintf(d->html, "<h%d id=\"%s\">", level, id);
    }
    civ_xml_text(d->html, text);
    fprintf(d->html, "</h%d>\n", level);
}

/* text with **bold** and `code` as HTML */
static void html_inline(FILE *o, const char *s)
{
    bool bold = false, code = false;
    if (!s) return;
    for (; *s; s++) {
        if (!code && s[0] == '*' && s[1] == '*') {
            fputs(bold ? "</strong>" : "<strong>", o);
            bold = !bold;
            s++;
        } else if (*s == '`') {
            fputs(code ? "</code>" : "<code>", o);
            code = !code;
        } else {
            char c[2] = {*s, 0};
            civ_xml_text(o, c);
        }
    }
    if (code) fputs("</code>", o);
    if (bold) fputs("</strong>", o);
}

void civ_doc_para(civ_doc *d, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(d->md, "\n%s\n", buf);
    fputs("<p>", d->html);
    html_inline(d->html, buf);
    fputs("</p>\n", d->html);
}

static void md_cell(FILE *o, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|') fputc('\\', o);
        fputc(*s, o);
    }
}

void civ_doc_table_start(civ_doc *d, int ncols, const char *const *head)
{
    d->table_cols = ncols;
    fputs("\n|", d->md);
    fputs("<table>\n<thead><tr>", d->html);
    for (int c = 0; c < ncols; c++) {
        fputc(' ', d->md);
        md_cell(d->md, head[c]);
        fputs(" |", d->md);
        fputs("<th>", d->html);
        html_inline(d->html, head[c]);
        fputs("</th>", d->html);
    }
    fputs("\n|", d->md);
    for (int c = 0; c < ncols; c++) fputs("---|", d->md);
    fputs("\n", d->md);
    fputs("</tr></thead>\n<tbody>\n", d->html);
}

void civ_doc_table_row(civ_doc *d, const char *const *cells)
{
    fputs("|", d->md);
    fputs("<tr>", d->html);
    for (int c = 0; c < d->table_cols; c++) {
        fputc(' ', d->md);
        md_cell(d->md, cells[c]);
        fputs(" |", d->md);
        fputs("<td>", d->html);
        html_inline(d->html, cells[c]);
        fputs("</td>", d->html);
    }
    fputs("\n", d->md);
    fputs("</tr>\n", d->html);
}

void civ_doc_table_end(civ_doc *d)
{
    fputs("</tbody>\n</table>\n", d->html);
}

civ_status civ_doc_figure(civ_doc *d, const char *name, const char *caption, civ_doc_draw draw, void *arg, civ_error *err)
{
    char path[4400], tmp[4500];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    FILE *o = civ_partial_open(path, tmp, sizeof tmp);
    if (!o) return civ_fail(err, CIV_ERR_IO, "%s: cannot write plot: %m", path);
    civ_status st = draw(o, arg, err);
    if (st) { civ_partial_discard(o, tmp); return st; }
    if (civ_partial_commit(o, tmp, path) != 0) return civ_fail(err, CIV_ERR_IO, "%s: cannot write plot: %m", path);
    if (d->n_figures == d->cap_figures) {
        d->cap_figures = d->cap_figures ? 2 * d->cap_figures : 16;
        d->figures = realloc(d->figures, (size_t)d->cap_figures * sizeof(char *));
        if (!d->figures) abort();
    }
    d->figures[d->n_figures++] = strdup(path);
    fprintf(d->md, "\n![%s](%s)\n", caption, name);
    size_t len = 0;
    char *svg = civ_read_file(path, &len);   /* the same figure, inline */
    if (!svg) return civ_fail(err, CIV_ERR_IO, "%s: cannot read back the plot: %m", path);
    fputs("<figure>\n", d->html);
    fwrite(svg, 1, len, d->html);
    free(svg);
    fputs("<figcaption>", d->html);
    html_inline(d->html, caption);
    fputs("</figcaption>\n</figure>\n", d->html);
    return CIV_OK;
}

civ_status civ_doc_close(civ_doc *d, bool ok, civ_error *err)
{
    civ_status st = CIV_OK;
    if (d->in_section) fputs("</section>\n", d->html);
    fputs("</body>\n</html>\n", d->html);
    if (ok) {
        if (civ_partial_commit(d->md, d->md_tmp, d->md_path) != 0) {
            st = civ_fail(err, CIV_ERR_IO, "%s: cannot write: %m", d->md_path);
            civ_partial_discard(d->html, d->html_tmp);
        } else if (civ_partial_commit(d->html, d->html_tmp, d->html_path) != 0) {
            st = civ_fail(err, CIV_ERR_IO, "%s: cannot write: %m", d->html_path);
            remove(d->md_path);
        }
    } else {
        civ_partial_discard(d->md, d->md_tmp);
        civ_partial_discard(d->html, d->html_tmp);
    }
    for (int k = 0; k < d->n_figures; k++) {
        if (!ok || st) remove(d->figures[k]);
        free(d->figures[k]);
    }
    free(d->figures);
    d->figures = NULL;
    return st;
}
