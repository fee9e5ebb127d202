#include "host/util/date.h"

#include <stdio.h>
#include <string.h>

/* Howard Hinnant's days_from_civil algorithm (public domain description). */
static int days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void civ_date_ymd(int z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int yy = yoe + era * 400;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yy + (*m <= 2);
}

bool civ_date_parse(const char *s, int *day)
{
    int y, m, d, n = 0;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10) return false;
    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31) return false;
    int z = days_from_civil(y, m, d);
    int yy, mm, dd;
    civ_date_ymd(z, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d) return false; /* e.g. Feb 30 */
    *day = z;
    return true;
}

void civ_date_format(int day, char *buf)
{
    int y, m, d;
    civ_date_ymd(day, &y, &m, &d);
    snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u);
}
