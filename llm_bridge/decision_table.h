/* Behavioural decision tables p[archetype][decision], read by the per-agent
 * rules. An archetype is a cell of (age band x sex x borough x employment x
 * household with children), each factor but age optional. The table is filled
 * by heuristic rules or by the LLM bridge (llm_bridge/bridge.h). */
#ifndef CIV_DECISION_TABLE_H
#define CIV_DECISION_TABLE_H

#include <stdint.h>

#include "host/population/population.h"
#include "host/study/study.h"

typedef struct {
    int n_archetypes;
    int n_bands, n_sex, n_borough, n_employment, n_children;
    int band_edges[CIV_MAX_BANDS];
    float *p;                 /* [n_archetypes][CIV_N_DECISION] */
} civ_decision_table;

extern const char *const civ_decision_name[CIV_N_DECISION];

void civ_table_init(civ_decision_table *t, const civ_study *s);
void civ_table_free(civ_decision_table *t);
/* employment: the agent's labour status at the start of the run (0 not in labour force, 1 employed,
   2 unemployed); children: whether its household has a member under 18. */
uint16_t civ_archetype_of(const civ_decision_table *t, int age, int sex, int borough, int employment, int children);
typedef struct { int band, sex, borough, employment, children; } civ_archetype_parts;
civ_archetype_parts civ_archetype_decode(const civ_decision_table *t, int a);
/* "20-29/F/BX[/employed][/children]"-style label (buffer of at least 48 bytes). */
void civ_archetype_label(const civ_decision_table *t, int a, char *buf, size_t n);

/* Heuristic source: p = clamp(base[band] + sensitivity * weekly reported cases
 * per 100k in the archetype's borough, min, max). comply_override >= 0
 * replaces the comply_isolation base (isolation_compliance intervention). */
void civ_table_heuristic(civ_decision_table *t, const civ_study *s,
                         const double cases_per_100k_week[CIV_NBOROUGH], double comply_override);

#endif
