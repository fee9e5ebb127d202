#include "host/util/csv.h"
#include "host/util/file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int split_line(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        if (*p == '"') {
            char *start = ++p, *w = p;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"') p++;
                *w++ = *p++;
            }
            if (*p == '"') p++;
            fields[n++] = start;
            char *end = w;
            if (*p == ',') { *end = 0; p++; continue; }
            *end = 0;
            break;
        }
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = 0;
        p = comma + 1;
    }
    return n;
}

civ_status civ_csv_read(const char *path, civ_csv *csv, civ_error *err)
{
    memset(csv, 0, sizeof *csv);
    size_t got;
    csv->storage = civ_read_input(path, "data file", CIV_MAX_CSV_BYTES, &got, err);
    if (!csv->storage) return err->status;
    csv->path = strdup(path);

    int nlines = 0;
    for (size_t i = 0; i < got; i++) if (csv->storage[i] == '\n') nlines++;
    char **lines = civ_xcalloc((size_t)nlines + 2, sizeof *lines);
    int nl = 0;
    for (char *p = csv->storage; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = 0;
        if (*p) lines[nl++] = p;
        if (!e) break;
        p = e + 1;
    }
    if (nl < 1) { free(lines); return civ_fail(err, CIV_ERR_INPUT, "%s: empty CSV file", path); }
    char *hdr[512];
    csv->ncols = split_line(lines[0], hdr, 512);
    csv->header = civ_xcalloc((size_t)csv->ncols, sizeof(char *));
    memcpy(csv->header, hdr, sizeof(char *) * (size_t)csv->ncols);
    csv->nrows = nl - 1;
    csv->cells = civ_xcalloc((size_t)csv->nrows + 1, sizeof(char **));
    for (int r = 0; r < csv->nrows; r++) {
        char **row = civ_xcalloc((size_t)csv->ncols, sizeof(char *));
        int n = split_line(lines[r + 1], row, csv->ncols);
        if (n != csv->ncols) {
            free(row);
            csv->nrows = r;
            free(lines);
            return civ_fail(err, CIV_ERR_INPUT, "%s: line %d has %d fields, header has %d",
                            path, r + 2, n, csv->ncols);
        }
        csv->cells[r] = row;
    }
    free(lines);
    return CIV_OK;
}

void civ_csv_free(civ_csv *csv)
{
    if (csv->cells) for (int r = 0; r < csv->nrows; r++) free(csv->cells[r]);
    free(csv->cells);
    free(csv->header);
    free(csv->storage);
    free(csv->path);
    memset(csv, 0, sizeof *csv);
}

civ_status civ_csv_col(const civ_csv *csv, const char *name, int *col, civ_error *err)
{
    for (int c = 0; c < csv->ncols; c++)
        if (strcmp(csv->header[c], name) == 0) { *col = c; return CIV_OK; }
    return civ_fail(err, CIV_ERR_INPUT, "%s: missing column '%s'", csv->path, name);
}

civ_status civ_csv_number(const civ_csv *csv, int row, int col, double empty_value,
                          double *out, civ_error *err)
{
    const char *s = csv->cells[row][col];
    if (!*s) { *out = empty_value; return CIV_OK; }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return civ_fail(err, CIV_ERR_INPUT, "%s: line %d, column '%s': '%s' is not a number",
                        csv->path, row + 2, csv->header[col], s);
    *out = v;
    return CIV_OK;
}
