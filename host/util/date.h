/* Calendar dates as day numbers (days since 1970-01-01, proleptic Gregorian). */
#ifndef CIV_DATE_H
#define CIV_DATE_H

#include <stdbool.h>

/* Parses strict YYYY-MM-DD; false on anything else (including 2020-02-30). */
bool civ_date_parse(const char *s, int *day);
/* Writes YYYY-MM-DD into buf (at least 11 bytes). */
void civ_date_format(int day, char *buf);
void civ_date_ymd(int day, int *y, int *m, int *d);

#endif
