#include "host/output/units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double civ_real(double count, double scale)
{
    return scale > 0 ? count / scale : count;
}

void civ_fmt_count(double v, int sig, char *buf, size_t n)
{
    if (!n) return;
    if (!isfinite(v)) { snprintf(buf, n, "-"); return; }
    double a = fabs(v);
    if (a >= 1) {
        double p = pow(10, floor(log10(a)) + 1 - sig);
        if (p > 1) a = round(a / p) * p;
    }
    a = round(a);
    char digits[32], out[48];
    snprintf(digits, sizeof digits, "%.0f", a);
    size_t len = strlen(digits), k = 0;
    if (v < 0 && a > 0) out[k++] = '-';
    for (size_t i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
    snprintf(buf, n, "%s", out);
}

void civ_scale_statement(double scale, char *buf, size_t n)
{
    if (!(scale > 0) || scale >= 1) {
        snprintf(buf, n, "full city (population scale 1): counts are the simulated ones");
        return;
    }
    char per[32];
    civ_fmt_count(1 / scale, 3, per, sizeof per);
    snprintf(buf, n, "population scale %g (one simulated person for %s New Yorkers): counts are for the real "
             "city (simulated / %g)", scale, per, scale);
}
