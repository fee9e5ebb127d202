/* What is in force on a given day: the study's baseline policy with its interventions applied in date
 * order, the stay-at-home transmission scale, behaviour from mobility data, test seeking, and the testing
 * supply the engine shares out. */
#include <stdio.h>

#include "host/study/study.h"

void civ_study_policy(const civ_study *s, int day, civ_policy *pol, double *comply_override,
                      civ_testing_supply *supply)
{
    *pol = s->base_policy;
    double capacity = s->test_capacity_per_100k, community = 1.0;
    supply->other_per_100k = s->other_seekers_per_100k;
    *comply_override = -1;
    for (int i = 0; i < s->n_iv && s->iv[i].day <= day; i++) {
        const civ_intervention *v = &s->iv[i];
        switch (v->type) {
        case IV_SCHOOL_CLOSURE: pol->schools_closed = v->closed; break;
        case IV_WORKPLACE_CLOSURE:
            pol->work_closed = v->closed;
            if (v->essential_share >= 0) pol->essential_share = (float)v->essential_share;
            break;
        case IV_COMMUNITY_CONTACTS: community = v->factor; break;
        case IV_TESTING:
            if (v->seek_probability >= 0) pol->test_seek_probability = (float)v->seek_probability;
            if (v->capacity_per_100k >= 0) capacity = v->capacity_per_100k;
            if (v->result_delay_days >= 0) pol->test_delay_days = v->result_delay_days;
            if (v->other_per_100k >= 0) supply->other_per_100k = v->other_per_100k;
            break;
        case IV_ISOLATION_COMPLIANCE: *comply_override = v->probability; break;
        case IV_TRANSMISSION: pol->beta = (float)v->beta; break;
        }
    }
    /* transmission.after_stay_at_home: from the first workplace closure on (moves with it in counterfactuals) */
    if (s->beta_after_stay_at_home >= 0)
        for (int i = 0; i < s->n_iv && s->iv[i].day <= day; i++)
            if (s->iv[i].type == IV_WORKPLACE_CLOSURE && s->iv[i].closed == 1) { pol->beta = (float)s->beta_after_stay_at_home; break; }
    if (s->seek_scale != 1.0) {
        double p = pol->test_seek_probability * s->seek_scale;
        pol->test_seek_probability = (float)(p > 1 ? 1 : p);
    }
    /* community contacts: the orders' factor times what mobility says people kept */
    const int t = day < 0 ? 0 : day >= s->steps ? s->steps - 1 : day;
    pol->community_order = (float)community;
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        const float kept = s->mobility.factor ? s->mobility.factor[t][b] : 1.0f;
        pol->community_factor[b] = (float)community * kept;
        pol->work_attendance[b] = s->mobility.factor && s->mobility.work ? kept : 1.0f;
        /* older adults: a further share of the cut everyone made (exactly 1 when there is no cut or no extra) */
        double all = pol->community_factor[b] < 1.0f ? pol->community_factor[b] : 1.0;
        double older = 1.0 - s->mobility.older_adult_extra * (1.0 - all);
        pol->older_kept_q[b] = (uint32_t)(older * CIV_FIXED_ONE + 0.5);
        pol->older_kept[b] = (float)pol->older_kept_q[b] * (1.0f / CIV_FIXED_ONE);
    }
    pol->older_age = s->mobility.factor ? s->mobility.older_adult_age : CIV_MAX_AGE + 1;
    supply->tests = s->test_capacity.tests ? s->test_capacity.tests[t] : -1;
    supply->capacity_per_100k = capacity;
    supply->access_share = s->test_access.share ? s->test_access.share[t] : NULL;
    pol->test_capacity_ratio = 1.0f;
    pol->test_screen_probability = 0.0f;
}

void civ_age_band_label(const int *edges, int n, int b, char *buf, size_t len)
{
    if (b + 1 < n) snprintf(buf, len, "%d-%d", edges[b], edges[b + 1] - 1);
    else snprintf(buf, len, "%d+", edges[b]);
}

