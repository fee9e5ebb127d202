#include "llm_bridge/decision_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const civ_decision_name[CIV_N_DECISION] = {"isolate_if_symptomatic", "go_to_work",
                                                       "comply_isolation"};

void civ_table_init(civ_decision_table *t, const civ_study *s)
{
    memset(t, 0, sizeof *t);
    t->n_bands = s->n_arch_bands;
    memcpy(t->band_edges, s->arch_band_edges, sizeof t->band_edges);
    t->n_sex = s->arch_by_sex ? 2 : 1;
    t->n_borough = s->arch_by_borough ? CIV_NBOROUGH : 1;
    t->n_employment = s->arch_by_employment ? 3 : 1;
    t->n_children = s->arch_by_children ? 2 : 1;
    t->n_archetypes = t->n_bands * t->n_sex * t->n_borough * t->n_employment * t->n_children;
    t->p = civ_xcalloc((size_t)t->n_archetypes * CIV_N_DECISION, sizeof(float));
}

void civ_table_free(civ_decision_table *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}

static int band_of(const civ_decision_table *t, int age)
{
    int b = 0;
    while (b + 1 < t->n_bands && age >= t->band_edges[b + 1]) b++;
    return b;
}

uint16_t civ_archetype_of(const civ_decision_table *t, int age, int sex, int borough, int employment, int children)
{
    int b = band_of(t, age);
    int s = t->n_sex == 2 ? sex : 0;
    int r = t->n_borough == CIV_NBOROUGH ? borough : 0;
    int e = t->n_employment == 3 ? employment : 0;
    int c = t->n_children == 2 ? (children != 0) : 0;
    return (uint16_t)((((b * t->n_sex + s) * t->n_borough + r) * t->n_employment + e) * t->n_children + c);
}

civ_archetype_parts civ_archetype_decode(const civ_decision_table *t, int a)
{
    civ_archetype_parts p;
    p.children = a % t->n_children; a /= t->n_children;
    p.employment = a % t->n_employment; a /= t->n_employment;
    p.borough = a % t->n_borough; a /= t->n_borough;
    p.sex = a % t->n_sex; a /= t->n_sex;
    p.band = a;
    return p;
}

void civ_archetype_label(const civ_decision_table *t, int a, char *buf, size_t n)
{
    civ_archetype_parts p = civ_archetype_decode(t, a);
    static const char *const emp[3] = {"/not-in-labour-force", "/employed", "/unemployed"};
    char band[16];
    civ_age_band_label(t->band_edges, t->n_bands, p.band, band, sizeof band);
    snprintf(buf, n, "%s/%s/%s%s%s", band, t->n_sex == 2 ? (p.sex ? "M" : "F") : "any",
             t->n_borough == CIV_NBOROUGH ? civ_borough_code[p.borough] : "NYC",
             t->n_employment == 3 ? emp[p.employment] : "", t->n_children == 2 ? (p.children ? "/children" : "/no-children") : "");
}

void civ_table_heuristic(civ_decision_table *t, const civ_study *s,
                         const double cases_per_100k_week[CIV_NBOROUGH], double comply_override)
{
    for (int a = 0; a < t->n_archetypes; a++) {
        civ_archetype_parts parts = civ_archetype_decode(t, a);
        int r = parts.borough, b = parts.band;
        double cases = 0;
        if (t->n_borough == CIV_NBOROUGH) cases = cases_per_100k_week[r];
        else { for (int k = 0; k < CIV_NBOROUGH; k++) cases += cases_per_100k_week[k] / CIV_NBOROUGH; }
        for (int d = 0; d < CIV_N_DECISION; d++) {
            const civ_rule *rule = &s->rules[d];
            double base = rule->base[b];
            if (d == CIV_DEC_COMPLY_ISOLATION && comply_override >= 0) base = comply_override;
            double p = base + rule->case_sensitivity * cases;
            if (p < rule->min) p = rule->min;
            if (p > rule->max) p = rule->max;
            t->p[a * CIV_N_DECISION + d] = (float)p;
        }
    }
}
