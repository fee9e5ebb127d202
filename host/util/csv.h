/* Minimal CSV reader for the project's data files: header row, comma
 * separated, optional double quotes (no embedded newlines). */
#ifndef CIV_CSV_H
#define CIV_CSV_H

#include "host/util/error.h"

typedef struct {
    char *path;
    int ncols;
    char **header;
    int nrows;
    char ***cells;   /* cells[row][col], empty string for a missing value */
    char *storage;
} civ_csv;

civ_status civ_csv_read(const char *path, civ_csv *csv, civ_error *err);
void civ_csv_free(civ_csv *csv);
/* Column index by name, or fails naming the file and the column. */
civ_status civ_csv_col(const civ_csv *csv, const char *name, int *col, civ_error *err);
/* Parses a numeric cell; empty cells give `empty_value`. */
civ_status civ_csv_number(const civ_csv *csv, int row, int col, double empty_value,
                          double *out, civ_error *err);

#endif
