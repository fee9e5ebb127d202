/* Behavioural decision tables p[archetype][decision], read by the per-agent
 * rules. An archetype is a cell of (age band x sex x borough), each factor
 * optional. In this build the table is filled from heuristic rules; the LLM
 * bridge will fill the same table. */
#ifndef CIV_DECISION_TABLE_H
#define CIV_DECISION_TABLE_H

#include <stdint.h>

#include "../host/population.h"
#include "../host/study.h"

typedef struct {
    int n_archetypes;
    int n_bands, n_sex, n_borough;
    int band_edges[CIV_MAX_BANDS];
    float *p;                 /* [n_archetypes][CIV_N_DECISION] */
} civ_decision_table;

extern const char *const civ_decision_name[CIV_N_DECISION];

void civ_table_init(civ_decision_table *t, const civ_study *s);
void civ_table_free(civ_decision_table *t);
uint16_t civ_archetype_of(const civ_decision_table *t, int age, int sex, int borough);
/* "20-29/F/BX"-style label (buffer of at least 32 bytes). */
void civ_archetype_label(const civ_decision_table *t, int a, char *buf, size_t n);

/* Heuristic source: p = clamp(base[band] + sensitivity * weekly reported cases
 * per 100k in the archetype's borough, min, max). comply_override >= 0
 * replaces the comply_isolation base (isolation_compliance intervention). */
void civ_table_heuristic(civ_decision_table *t, const civ_study *s,
                         const double cases_per_100k_week[CIV_NBOROUGH], double comply_override);

#endif
