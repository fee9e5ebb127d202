#include "host/output/report_doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/output/svg_chart.h"
#include "host/util/file.h"
#include "host/util/interrupt.h"

static const char *const style =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1600px;margin:1.5em auto;padding:0 1em;color:#222;"
    "line-height:1.45}\n"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}\n"
    "table{border-collapse:collapse;margin:.8em 0;font-size:.92em}\n"
    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}th{background:#f0f0f0}\n"
    "td:first-child,th:first-child{text-align:left}\n"
    "figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:.9em;color:#444}\n"
    "code{background:#f4f4f4;padding:0 .2em}\n";

civ_status civ_doc_make_dir(const char *dir, bool *made_dir, civ_error *err)
{
    *made_dir = mkdir(dir, 0777) == 0;
    if (!*made_dir && errno != EEXIST) return civ_fail(err, CIV_ERR_IO, "%s: cannot create report directory: %m", dir);
    struct stat sb;
    if (!*made_dir && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return civ_fail(err, CIV_ERR_IO, "%s: is not a directory (the report is a directory of files)", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return civ_fail(err, CIV_ERR_IO, "%s: cannot write the report: the directory is not writable (%m)", dir);
    return CIV_OK;
}

civ_status civ_doc_open(civ_doc *d, const char *dir, const char *title, civ_error *err)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    snprintf(d->md_path, sizeof d->md_path, "%s/report.md", dir);
    snprintf(d->html_path, sizeof d->html_path, "%s/report.html", dir);
    d->md = civ_output_open_text(&d->md_out, d->md_path, err);
    if (!d->md) return err->status;
    d->html = civ_output_open_text(&d->html_out, d->html_path, err);
    if (!d->html) {
        civ_output_abandon(&d->md_out);
        return err->status;
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
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    civ_output out;
    FILE *o = civ_output_open_text(&out, path, err);
    if (!o) return err->status;
    civ_status st = draw(o, arg, err);
    if (!st && civ_interrupted) st = civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", d->dir);
    if (st) { civ_output_abandon(&out); return st; }
    if ((st = civ_output_commit(&out, err))) return st;
    if (d->n_figures == d->cap_figures) {
        d->cap_figures = d->cap_figures ? 2 * d->cap_figures : 16;
        d->figures = realloc(d->figures, (size_t)d->cap_figures * sizeof(char *));
        if (!d->figures) abort();
    }
    d->figures[d->n_figures++] = strdup(path);
    fprintf(d->md, "\n![%s](%s)\n", caption, name);
    size_t len = 0;
    char *svg = civ_read_input(path, "plot", (size_t)64 << 20, &len, err);   /* the same figure, inline */
    if (!svg) return err->status;
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
    if (ok && civ_interrupted) {
        st = civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", d->dir);
        ok = false;
    }
    if (ok) {
        if ((st = civ_output_commit(&d->md_out, err))) {
            civ_output_abandon(&d->html_out);
        } else if ((st = civ_output_commit(&d->html_out, err))) {
            remove(d->md_path);
        }
    } else {
        civ_output_abandon(&d->md_out);
        civ_output_abandon(&d->html_out);
    }
    for (int k = 0; k < d->n_figures; k++) {
        if (!ok || st) remove(d->figures[k]);
        free(d->figures[k]);
    }
    free(d->figures);
    d->figures = NULL;
    return st;
}
