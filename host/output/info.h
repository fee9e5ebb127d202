/* `civitas info` and `civitas plot`: read population and trajectory files. */
#ifndef CIV_INFO_H
#define CIV_INFO_H

#include <stdio.h>

#include "host/util/error.h"

civ_status civ_info(const char *path, FILE *out, civ_error *err);
/* Epidemic curves by borough (SVG), with the observed series when the run has them. */
civ_status civ_plot(const char *run_path, const char *svg_path, int show_observed, civ_error *err);

typedef struct {
    const char *label, *color, *dash;
    double *v;      /* [panel][step]: panel 0 = city, 1..5 = boroughs */
} civ_svg_line;
civ_status civ_svg_panels(const char *svg_path, const char *title, int steps, int start_day, int nlines,
                          const civ_svg_line *lines, const char *footnote, civ_error *err);
/* 7-day trailing mean of in[t * stride + col] times scale. */
void civ_smooth7(const int *in, int steps, int stride, int col, double scale, double *out);

/* Largest count per day and borough the readers accept: the city total of five stays an int. A larger
 * value means a damaged file (NYC has 8.4 million people). */
#define CIV_MAX_DAILY_COUNT 400000000

/* Reads /timeseries/<var> summed over age bands into out[step][borough] (malloc'd). */
civ_status civ_read_borough_series(const char *path, const char *var, int **out, int *steps, civ_error *err);

/* Reads /observed/<name> (cases, hospitalized, deaths) for the first `steps` days into out[step][borough]. */
civ_status civ_read_observed(const char *path, const char *name, int steps, int **out, civ_error *err);

#endif
