/* Prompt templates: text files with {placeholder} fields filled from an
 * archetype and from the simulation's own state at refresh time. */
#ifndef CIV_PROMPT_H
#define CIV_PROMPT_H

#include <stddef.h>

#include "host/util/error.h"

/* Values of every placeholder for one archetype at one refresh. */
typedef struct {
    char age_band[16], age_phrase[48], sex[16], borough[8], borough_name[32], employment[40], household[48];
    char date[11], weekday[12], policies[256];
    int week;                   /* weeks since the start of the simulation, from 1 */
    long cases_week;            /* reported cases in the archetype's borough, last 7 days (real-city equivalent) */
    double cases_per_100k;      /* same, per 100k residents */
    char cases_change[48];      /* "a 23% increase from" / "a 10% decrease from" / "the same as" (4-week average) */
    double unemployment_rate;   /* borough, percent of the labour force */
} civ_prompt_vars;

/* Names accepted in templates. */
extern const char *const civ_prompt_placeholders[];

/* Fails naming the file and the placeholder if a template uses an unknown or unclosed one. */
civ_status civ_prompt_check(const char *tmpl, const char *file, civ_error *err);
/* Renders a checked template (malloc'd result). */
char *civ_prompt_render(const char *tmpl, const civ_prompt_vars *v);

#endif
