/* Progress reporting on stderr: a bar on a terminal, plain lines otherwise. */
#ifndef CIV_PROGRESS_H
#define CIV_PROGRESS_H

#include <stdbool.h>

typedef struct {
    bool quiet, tty;
    int total, last_pct;
    double t0;
    const char *label;
} civ_bar;

double civ_now(void);   /* monotonic seconds */
void civ_bar_start(civ_bar *p, const char *label, int total, bool quiet);
void civ_bar_update(civ_bar *p, int done, const char *detail);
void civ_bar_end(civ_bar *p, const char *detail);

#endif
