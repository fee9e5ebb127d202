#include "host/util/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double civ_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void civ_bar_start(civ_bar *p, const char *label, int total, bool quiet)
{
    p->quiet = quiet;
    p->tty = isatty(2);
    p->total = total > 0 ? total : 1;
    p->last_pct = -1;
    p->t0 = civ_now();
    p->label = label;
}

void civ_bar_update(civ_bar *p, int done, const char *detail)
{
    if (p->quiet) return;
    int pct = (int)(100.0 * done / p->total);
    double el = civ_now() - p->t0;
    double eta = done > 0 ? el * (p->total - done) / done : 0;
    if (p->tty) {
        char bar[31];
        int fill = pct * 30 / 100;
        for (int k = 0; k < 30; k++) bar[k] = k < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r%s [%s] %3d%% %d/%d  %5.1fs, eta %5.1fs  %s\033[K", p->label, bar, pct, done,
                p->total, el, eta, detail ? detail : "");
        fflush(stderr);
    } else if (pct / 10 != p->last_pct / 10 || done == p->total) {
        fprintf(stderr, "%s: %d/%d (%d%%) %.1fs %s\n", p->label, done, p->total, pct, el, detail ? detail : "");
    }
    p->last_pct = pct;
}

void civ_bar_end(civ_bar *p, const char *detail)
{
    if (p->quiet) return;
    if (p->tty) fprintf(stderr, "\n");
    if (detail) fprintf(stderr, "%s: %s\n", p->label, detail);
}
