/* Real-city units: simulated counts divided by the population scale, and numbers written for people
 * to read (three significant figures, thousands separated). HDF5 datasets keep the raw sample counts;
 * everything printed, plotted or reported uses these. */
#ifndef CIV_UNITS_H
#define CIV_UNITS_H

#include <stddef.h>

/* A count of the simulated population in real-city units (count / scale; scale <= 0 is taken as 1). */
double civ_real(double count, double scale);

/* v rounded to `sig` significant figures (never below the units digit), with thousands separators:
 * 1234567 -> "1,230,000", 12.5 -> "13", -4321 -> "-4,320"; NaN -> "-". */
void civ_fmt_count(double v, int sig, char *buf, size_t n);

/* One sentence stating the scale, e.g. "population scale 0.05 (one simulated person for 20 New Yorkers);
 * counts are for the real city (simulated / 0.05)"; at scale 1 "full city (scale 1)". */
void civ_scale_statement(double scale, char *buf, size_t n);

#endif
