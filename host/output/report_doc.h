/* A report written twice at once: DIR/report.html, one self-contained page (inline SVG and style, no
 * script, nothing fetched) that a browser opens, and DIR/report.md for version control, whose figures
 * are SVG files beside it. Both appear whole or not at all: on failure nothing written is left. */
#ifndef CIV_REPORT_DOC_H
#define CIV_REPORT_DOC_H

#include <stdbool.h>
#include <stdio.h>

#include "host/util/error.h"
#include "host/util/file.h"

typedef struct {
    FILE *md, *html;
    civ_output md_out, html_out;   /* report.md and report.html until they are whole */
    char dir[4096], md_path[4200], html_path[4200];
    char **figures;      /* SVG files written, removed again if the report fails */
    int n_figures, cap_figures;
    int table_cols;
    bool in_section;
} civ_doc;

/* Creates the report directory dir (*made_dir: it did not exist) or checks that an existing one is a
 * writable directory. */
civ_status civ_doc_make_dir(const char *dir, bool *made_dir, civ_error *err);
civ_status civ_doc_open(civ_doc *d, const char *dir, const char *title, civ_error *err);
/* Level 2 starts a section (<section id="id">); level 3 a subsection. */
void civ_doc_heading(civ_doc *d, int level, const char *id, const char *text);
/* A paragraph; **bold** and `code` are marked up in both outputs. */
void civ_doc_para(civ_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void civ_doc_table_start(civ_doc *d, int ncols, const char *const *head);
void civ_doc_table_row(civ_doc *d, const char *const *cells);
void civ_doc_table_end(civ_doc *d);
/* A figure: draw() writes an SVG element; it goes to DIR/name (linked from the Markdown) and inline
 * into the HTML. */
typedef civ_status (*civ_doc_draw)(FILE *out, void *arg, civ_error *err);
civ_status civ_doc_figure(civ_doc *d, const char *name, const char *caption, civ_doc_draw draw, void *arg, civ_error *err);
/* Commits both files when ok, else removes everything written. */
civ_status civ_doc_close(civ_doc *d, bool ok, civ_error *err);

#endif
