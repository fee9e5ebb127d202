#!/usr/bin/python3
"""Mutation check: do the tests notice when the code is wrong?

Applies small, realistic mistakes to civitas one at a time (an off-by-one in a
date, a dropped term, a reversed comparison, a retry class removed, a constant
changed, a flag ignored), rebuilds, runs the tests that should notice, and
prints which mistakes were caught. Slow (a build and a few test programs per
mutation: tens of minutes in all), so it is not part of CTest or CI.

    /usr/bin/python3 profiling/mutation_check.py            # every mutation, on a copy of HEAD
    /usr/bin/python3 profiling/mutation_check.py --list     # the table, with stale entries marked
    /usr/bin/python3 profiling/mutation_check.py --only observed-date-shift --worktree
    /usr/bin/python3 profiling/mutation_check.py --jobs 2   # two mutations at a time (one copy each)

Each mutation replaces one exact snippet of one file. A snippet that is no
longer found (the code moved or changed) is reported STALE and counts as not
caught until the table is updated: the list stays honest. A mistake that
cannot change any observable behaviour is kept in the table with
`equivalent=` saying why; it is expected to survive and is scored apart.

The copy is HEAD (`git archive`), or with --worktree the working tree's tracked
and untracked, not ignored files; it is built once per job in a scratch
directory (CUDA off: the rules are the same code on the CPU), then each
mutation is applied, built incrementally, tested with `ctest -R`, and reverted.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from queue import Empty, Queue

# ---- where the code lives: update here when files move -------------------------------------------------
FILES = {
    "engine": "host/engine/engine.c",
    "synth": "host/population/synth.c",
    "backend_cpu": "host/engine/backend_cpu.c",
    "study_load": "host/study/study_load.c",
    "policy": "host/study/study_policy.c",
    "test_access": "host/study/test_access.c",
    "observed": "host/study/observed.c",
    "plot": "host/output/plot_svg.c",
    "chart": "host/output/svg_chart.c",
    "report": "host/output/report.c",
    "report_doc": "host/output/report_doc.c",
    "ensemble": "host/workflows/ensemble.c",
    "ensemble_stats": "host/output/ensemble_stats.c",
    "ensemble_report": "host/output/ensemble_report.c",
    "sampler": "host/workflows/calibrate_sampler.c",
    "posterior": "host/study/posterior.c",
    "likelihood": "host/workflows/calibrate_likelihood.c",
    "trajectory": "host/output/trajectory.c",
    "info": "host/output/info.c",
    "error": "host/util/error.c",
    "file": "host/util/file.c",
    "json_strict": "host/util/json_strict.c",
    "main": "host/cli/main.c",
    "model": "models/covid/covid_model.h",
    "step": "models/covid/covid_step.h",
    "params": "models/covid/covid_params.c",
    "table": "llm_bridge/decision_table.c",
    "bridge": "llm_bridge/bridge.c",
    "client": "llm_bridge/llm_client.c",
    "cache": "llm_bridge/answer_cache.c",
    "answer": "llm_bridge/answer.c",
}


@dataclass
class Mutation:
    id: str
    file: str            # key of FILES
    old: str             # exact snippet, must occur once
    new: str
    tests: tuple         # ctest names that should fail
    why: str             # what the mistake would break
    equivalent: str = "" # non-empty: why no test can notice (expected to survive)


M = Mutation
MUTATIONS = [
    # ---- model rules (per agent): models/covid/covid_model.h ----
    M("hazard-household-term-dropped", "model",
      "float h = m->w_household * (float)household_sum;", "float h = 0.0f * (float)household_sum;",
      ("test_rules",), "household transmission would vanish"),
    M("attend-household-size-ignored", "step",
      "m->household_contact_q[size < CIV_MAX_HOUSEHOLD_SCALE ? size : CIV_MAX_HOUSEHOLD_SCALE - 1]",
      "m->household_contact_q[2]",
      ("test_rules",), "a large household's members would infect each other as readily as a couple"),
    M("attend-household-size-cap-wraps", "step",
      "size < CIV_MAX_HOUSEHOLD_SCALE ? size : CIV_MAX_HOUSEHOLD_SCALE - 1",
      "size % CIV_MAX_HOUSEHOLD_SCALE",
      ("test_rules",), "households of 32 or more would read the scale of a small one"),
    M("hazard-exposure-on-household-term", "model",
      "float h = m->w_household * (float)household_sum;\n    const float e = civ_outside_exposure(m, a, i);",
      "const float e = civ_outside_exposure(m, a, i);\n    float h = e * m->w_household * (float)household_sum;",
      ("test_rules",), "exposure outside the home would also scale household transmission"),
    M("hazard-exposure-community-only", "model",
      "h = h + e * (c * ((float)place_sum / (float)others));", "h = h + c * ((float)place_sum / (float)others);",
      ("test_rules",), "a group's exposure would not reach its school and workplace contacts"),
    M("older-kept-off-hazard", "model",
      "h = h + e * (community_pressure * civ_older_kept(pol, a, i));", "h = h + e * community_pressure;",
      ("test_rules",), "older adults' further distancing would not protect them as infectees"),
    M("older-kept-age-off-by-one", "model",
      "return a->age[i] >= pol->older_age ? pol->older_kept[a->borough[i]] : 1.0f;",
      "return a->age[i] > pol->older_age ? pol->older_kept[a->borough[i]] : 1.0f;",
      ("test_rules",), "people of exactly older_adult_age would not distance further"),
    M("older-kept-off-tract-sum", "step",
      "(q_outside * civ_older_kept_q(pol, a, i)) >> 16);", "q_outside);",
      ("test_rules",), "older adults would infect others in the community as if they had not cut their contacts"),
    M("older-kept-formula-reversed", "policy",
      "double older = 1.0 - s->mobility.older_adult_extra * (1.0 - all);",
      "double older = 1.0 - s->mobility.older_adult_extra * all;",
      ("test_rules",), "older adults would cut most when everyone else cuts least"),
    M("exposure-care-home-residents-scaled", "model",
      "return a->residence[i] == CIV_RES_HOUSEHOLD ? m->exposure[a->ethnicity[i]] : 1.0f;",
      "return m->exposure[a->ethnicity[i]];",
      ("test_rules",), "care-home residents, who mix only in their home, would take a community group's exposure"),
    M("attend-exposure-not-on-sums", "step",
      "const uint64_t q_outside = ((uint64_t)q * civ_outside_exposure_q(m, a, i)) >> 16;",
      "const uint64_t q_outside = q;",
      ("test_rules",), "more exposed agents would catch more but pass on no more: contacts not symmetric"),
    M("exposure-not-normalised", "step",
      "const double mean = people > 0 ? total / people : 1.0;", "const double mean = 1.0;",
      ("test_rules",), "the contrast would raise everyone's exposure and change beta's meaning"),
    M("synth-ethnicity-per-agent", "synth",
      "if (i > 0 && pop->household[i - 1] == h) { pop->ethnicity[i] = pop->ethnicity[i - 1]; continue; }\n"
      "        const double u = civ_u01(draw(seed, h, 0, S_ETHNICITY));",
      "const double u = civ_u01(draw(seed, i, 0, S_ETHNICITY));",
      ("test_population",), "members of one household would have different groups"),
    M("synth-ethnicity-wrong-borough", "synth",
      "acc += ethnicity[pop->borough[i]][k];", "acc += ethnicity[CIV_BK][k];",
      ("test_population",), "every borough would get Brooklyn's mix"),
    M("hazard-place-others-counts-self", "model",
      "uint32_t others = a->place_size[p] > 1 ? a->place_size[p] - 1 : 1;",
      "uint32_t others = a->place_size[p];",
      ("test_rules",), "school/work contacts would be spread over one person too many"),
    M("infectiousness-asymptomatic-factor", "model",
      "!(c & CIV_COURSE_SYMPTOMATIC) ? m->factor_q[0]", "!(c & CIV_COURSE_SYMPTOMATIC) ? m->factor_q[1]",
      ("test_rules",), "asymptomatic infections would be as infectious as mild ones"),
    M("course-severe-ignores-age", "model",
      "if (civ_u01(r.v[1]) < m->p_severe_given_symptomatic[res][age]) {",
      "if (civ_u01(r.v[1]) < m->p_severe_given_symptomatic[res][0]) {",
      ("test_rules", "test_engine"), "everyone would have the severity of a newborn"),
    M("course-ignores-care-home", "model",
      "const int age = a->age[i], res = civ_residence(a, i);", "const int age = a->age[i], res = 0;",
      ("test_rules",), "care-home residents would have the severity of people of their age living at home"),
    M("care-home-death-flow-for-everyone", "model",
      "((uint32_t)(civ_residence(a, i) == CIV_RES_CARE_HOME) << CIV_FLOW_DIED_IN_CARE_HOME)",
      "(1u << CIV_FLOW_DIED_IN_CARE_HOME)",
      ("test_rules",), "deaths at home would be counted as deaths in care homes"),
    M("care-home-death-flow-tallied-as-outside", "step",
      "CIV_VAR_NEW_DEATHS_OUTSIDE_HOSPITAL,     \\\n                CIV_VAR_NEW_DEATHS_IN_CARE_HOME,",
      "CIV_VAR_NEW_DEATHS_OUTSIDE_HOSPITAL,     \\\n                CIV_VAR_NEW_DEATHS_OUTSIDE_HOSPITAL,",
      ("test_engine",), "care-home deaths would be added to deaths outside hospital a second time"),
    M("duration-off-by-one", "model",
      "while (d < CIV_MAX_DAYS - 1 && u >= cdf[d]) d++;\n    return d;",
      "while (d < CIV_MAX_DAYS - 1 && u >= cdf[d]) d++;\n    return d + 1;",
      ("test_rules",), "every stage would last a day longer"),
    M("hospitalised-still-out", "model",
      "return s != CIV_H && s != CIV_D && !civ_isolating(a, i, day);", "return s != CIV_D && !civ_isolating(a, i, day);",
      ("test_rules",), "patients in hospital would go to work and mix in the community"),
    M("school-closure-ignored", "model",
      "if (a->place_type[p] == CIV_PLACE_SCHOOL) return !pol->schools_closed;",
      "if (a->place_type[p] == CIV_PLACE_SCHOOL) return 1;",
      ("test_rules", "test_engine"), "closing schools would change nothing"),
    M("go-to-work-decision-ignored", "model",
      "if (p >= 1.0f) return 1;   /* u < 1 always holds: skip the draw */", "return 1;",
      ("test_rules", "test_llm"), "the go_to_work decision (heuristic or LLM) would have no effect"),
    M("isolating-agent-seeds-its-place", "step",
      "if (t & CIV_TODAY_PLACE) CIV_ATOMIC_ADD_U64(&g->place_sum[a->place[i]], q_outside);",
      "if (a->place[i] >= 0) CIV_ATOMIC_ADD_U64(&g->place_sum[a->place[i]], q_outside);",
      ("test_rules",), "isolating and absent agents would still infect their school or workplace"),
    M("isolation-decision-ignored", "model",
      "if (civ_u01(b.v[0]) < row[CIV_DEC_ISOLATE_IF_SYMPTOMATIC]) a->flags[i] |= CIV_FLAG_ISO_SYMPTOMS;",
      "if (civ_u01(b.v[0]) < 1.0f) a->flags[i] |= CIV_FLAG_ISO_SYMPTOMS;",
      ("test_rules",), "behaviour tables would no longer decide who isolates"),
    M("isolation-lasts-a-day-longer", "model",
      "return (a->flags[i] & CIV_FLAG_ISO_SYMPTOMS) || day < a->iso_until[i];",
      "return (a->flags[i] & CIV_FLAG_ISO_SYMPTOMS) || day <= a->iso_until[i];",
      ("test_rules",), "isolation_days would mean one day more"),
    M("admission-test-always", "model",
      "&& civ_u01(r.v[1]) < m->p_hospital_test) {", ") {",
      ("test_rules",), "hospital_test_probability would be ignored"),
    # ---- testing ----
    M("test-capacity-ignored", "model",
      "tested = civ_u01(t.v[1]) < pol->test_capacity_ratio;", "tested = 1;",
      ("test_rules", "test_model"), "testing capacity would never bind"),
    M("test-sensitivity-ignored", "model",
      "if (civ_u01(t.v[2]) < m->test_sensitivity) {", "if (1) {",
      ("test_rules",), "every test would be positive"),
    M("screening-misses-presymptomatic", "model",
      "((s == CIV_P || s == CIV_A) && pol->test_screen_probability > 0.0f)",
      "((s == CIV_A) && pol->test_screen_probability > 0.0f)",
      ("test_rules", "test_engine"), "screening would never find an infection before its symptoms"),
    M("test-result-a-day-late", "model",
      "if ((f & CIV_FLAG_TEST_PENDING) && a->test_day[i] <= day) {",
      "if ((f & CIV_FLAG_TEST_PENDING) && a->test_day[i] < day) {",
      ("test_rules",), "results (and reported cases) would come a day after result_delay_days"),
    M("isolation-days-off-by-one", "model",
      "a->iso_until[i] = (int16_t)(day + pol->isolation_days);",
      "a->iso_until[i] = (int16_t)(day + pol->isolation_days - 1);",
      ("test_rules",), "positives would isolate a day less than isolation_days"),
    M("capacity-per-100k-wrong", "engine",
      "sup->capacity_per_100k > 0 ? sup->capacity_per_100k * n / 1e5 : -1;",
      "sup->capacity_per_100k > 0 ? sup->capacity_per_100k * n / 1e4 : -1;",
      ("test_rules", "test_model"), "capacity_per_100k would be per 10k"),
    M("capacity-file-not-scaled", "engine",
      "const double capacity = sup->tests >= 0 ? sup->tests * scale", "const double capacity = sup->tests >= 0 ? sup->tests",
      ("test_rules", "test_model"), "the city's daily test count would be given whole to a scaled-down city"),
    M("capacity-demand-without-other-seekers", "engine",
      "const double demand = seekers + others;", "const double demand = seekers;",
      ("test_rules", "test_engine"), "people without COVID-19 seeking tests would not share the capacity"),
    M("capacity-demand-counts-tests-not-seekers", "engine",
      "seekers += e->series[(CIV_VAR_NEW_TEST_SEEKERS * CIV_NBOROUGH + b) * nb + k];",
      "seekers += e->series[(CIV_VAR_NEW_TESTS * CIV_NBOROUGH + b) * nb + k];",
      ("test_engine", "test_model"), "demand would be the tests given, not sought: a binding capacity would stop binding"),
    M("access-ignored-by-seekers", "model",
      "civ_u01(t.v[0]) < pol->test_seek_probability * access", "civ_u01(t.v[0]) < pol->test_seek_probability",
      ("test_rules",), "symptomatic residents of every borough would seek tests alike, whatever the access data"),
    M("access-ignored-by-screening", "model",
      "tested = civ_u01(t.v[0]) < pol->test_screen_probability * access;",
      "tested = civ_u01(t.v[0]) < pol->test_screen_probability;",
      ("test_rules",), "screening would find infected people alike in every borough"),
    M("access-not-per-resident", "engine",
      "? (float)(sup->access_share[b] * n / (double)e->borough_pop[b]) : 1.0f;",
      "? (float)(sup->access_share[b] * CIV_NBOROUGH) : 1.0f;",
      ("test_rules",), "access would be the share of negative tests, not per resident: large boroughs over-tested"),
    M("host-tests-ignore-access", "engine",
      "weight[c] = (double)alive * (double)e->policy.test_access[c / nb];", "weight[c] = (double)alive;",
      ("test_rules",), "tests of people without COVID-19 would be counted by residents, not by access"),
    M("access-window-not-inclusive", "test_access",
      "negatives_on(&n, lo - 1, b);", "negatives_on(&n, lo, b);",
      ("test_engine",), "the access window would drop its first day"),
    M("access-window-not-moved-back", "test_access",
      "if (hi > n.last) { lo -= hi - n.last; hi = n.last; }", "if (hi > n.last) hi = n.last;",
      ("test_engine",), "after the last snapshot the window would shrink to nothing and fall back to the cumulative"),
    M("testing-delay-intervention-ignored", "policy",
      "if (v->result_delay_days >= 0) pol->test_delay_days = v->result_delay_days;", ";",
      ("test_rules",), "a testing intervention's result_delay_days would have no effect"),
    M("seek-scale-ignored", "policy",
      "if (s->seek_scale != 1.0) {", "if (0) {",
      ("test_rules", "test_calibrate"), "testing.seek_scale (and --fit-testing) would do nothing"),
    # ---- policy by date: host/study.c ----
    M("same-day-interventions-reversed", "study_load",
      "s->iv[b2 - 1].day > s->iv[b2].day; b2--) {", "s->iv[b2 - 1].day >= s->iv[b2].day; b2--) {",
      ("test_rules",), "of two interventions on one day the earlier entry would win"),
    M("stay-at-home-transmission-a-day-late", "policy",
      "for (int i = 0; i < s->n_iv && s->iv[i].day <= day; i++)\n            if (s->iv[i].type == IV_WORKPLACE_CLOSURE",
      "for (int i = 0; i < s->n_iv && s->iv[i].day < day; i++)\n            if (s->iv[i].type == IV_WORKPLACE_CLOSURE",
      ("test_rules", "test_calibrate"), "transmission.after_stay_at_home would start a day after the closure"),
    M("essential-share-ignored", "policy",
      "if (v->essential_share >= 0) pol->essential_share = (float)v->essential_share;", ";",
      ("test_rules", "test_model"), "every worker would count as essential"),
    M("isolation-compliance-ignored", "policy",
      "case IV_ISOLATION_COMPLIANCE: *comply_override = v->probability; break;", "case IV_ISOLATION_COMPLIANCE: break;",
      ("test_rules", "test_model"), "isolation_compliance interventions would have no effect"),
    # ---- employment ----
    M("layoff-ignores-essential-share", "model",
      "           !civ_is_essential(a, i, pol->essential_share);", "           1;",
      ("test_rules", "test_model"), "essential workers would stay home and be laid off"),
    M("attendance-for-essential-workers", "model",
      "a->place_type[a->place[i]] == CIV_PLACE_WORK && !civ_is_essential(a, i, pol->essential_share))\n        p = p * attendance;",
      "a->place_type[a->place[i]] == CIV_PLACE_WORK)\n        p = p * attendance;",
      ("test_rules",), "essential workers would stay home as often as mobility says others do"),
    M("layoff-uses-rehire-rate", "model",
      "< pol->layoff_probability) {", "< pol->rehire_probability) {",
      ("test_rules", "test_model"), "layoffs would follow the rehire rate"),
    M("rehire-while-closed", "model",
      "} else if (a->labour[i] == 2 && !closed) {", "} else if (a->labour[i] == 2) {",
      ("test_rules", "test_model"), "laid-off workers would be rehired while their workplace is closed"),
    # ---- engine: host/engine.c ----
    M("weekly-cases-window-shifted", "engine",
      "e->reported[(e->day - 1 - d + 28 * 64) % 28][b]", "e->reported[(e->day - d + 28 * 64) % 28][b]",
      ("test_model", "test_llm"), "behaviour would react to a week that ends a day late"),
    M("reported-ring-index", "engine",
      "e->reported[e->day % 28][b] = rep;", "e->reported[(e->day + 1) % 28][b] = rep;",
      ("test_model", "test_llm"), "the weekly cases behind behaviour would skip the last day"),
    M("children-household-age-limit", "engine",
      "if (pop->age[i] < 18) hh_children[pop->household[i]] = 1;",
      "if (pop->age[i] <= 18) hh_children[pop->household[i]] = 1;",
      ("test_model",), "18-year-olds would count as children in the archetypes"),
    M("stay-at-home-factor-ignored", "backend_cpu",
      "const float scale = m->w_community * pol->community_factor[w->tract_borough[t]];",
      "const float scale = m->w_community;",
      ("test_engine",), "community_contacts interventions and mobility would do nothing"),
    M("community-factor-of-borough-0", "policy",
      "pol->community_factor[b] = (float)community * kept;", "pol->community_factor[b] = (float)community;",
      ("test_rules",), "community contacts would ignore the mobility data"),
    M("thread-counts-dropped", "backend_cpu",
      "for (int t = 0; t < b->threads; t++) sum += b->thread_counts", "for (int t = 0; t < 1; t++) sum += b->thread_counts",
      ("test_engine",), "the series would count only the first thread's agents"),
    M("initial-infections-all-on-day-0", "engine",
      "-(int)(e->seeded % 7)", "0",
      ("test_outputs",), "initial infections would not be spread over the week before day 0"),
    # ---- decision tables: llm_bridge/decision_table.c ----
    M("heuristic-case-sensitivity-ignored", "table",
      "double p = base + rule->case_sensitivity * cases;", "double p = base;",
      ("test_model",), "heuristic behaviour would not react to cases"),
    M("heuristic-min-clip-dropped", "table",
      "if (p < rule->min) p = rule->min;", "",
      ("test_model",), "rules could fall below their minimum"),
    M("heuristic-max-clip-dropped", "table",
      "if (p > rule->max) p = rule->max;", "",
      ("test_model",), "rules could exceed their maximum"),
    M("heuristic-per-age-base-ignored", "table",
      "double base = rule->base[b];", "double base = rule->base[0];",
      ("test_model",), "a per-age-band base would use the first band's value"),
    M("heuristic-comply-override-ignored", "table",
      "if (d == CIV_DEC_COMPLY_ISOLATION && comply_override >= 0) base = comply_override;", "",
      ("test_model",), "isolation_compliance would not reach the table"),
    M("heuristic-other-boroughs-cases", "table",
      "cases = cases_per_100k_week[r];", "cases = cases_per_100k_week[0];",
      ("test_model",), "every borough would react to the Bronx's cases"),
    M("archetype-employment-ignored", "table",
      "int e = t->n_employment == 3 ? employment : 0;", "int e = 0;",
      ("test_model",), "the employment archetype factor would put everyone in one cell"),
    # ---- observed data: host/observed.c ----
    M("observed-date-shift", "observed",
      "int s = day - start_day;", "int s = day - start_day - 1;",
      ("test_outputs",), "observed series a day early against the simulation"),
    M("observed-confirmed-only", "observed",
      "(int32_t)(c1 + c2)", "(int32_t)c1",
      ("test_outputs",), "probable cases would be dropped"),
    M("observed-borough-shifted", "observed",
      "o->cases[s * CIV_NBOROUGH + b] =", "o->cases[s * CIV_NBOROUGH + (b + 1) % CIV_NBOROUGH] =",
      ("test_outputs",), "each borough would get its neighbour's cases"),
    M("observed-deaths-as-hospitalised", "observed",
      "o->hospitalized[s * CIV_NBOROUGH + b] = (int32_t)h;", "o->hospitalized[s * CIV_NBOROUGH + b] = (int32_t)d;",
      ("test_outputs",), "hospitalisations would hold deaths"),
    # ---- plots, report: host/plot_svg.c, host/report.c ----
    M("plot-simulated-not-scaled", "plot",
      "fill_column(sim, c, steps, series[c], civ_plot_columns[c].flow, 1 / scale);",
      "fill_column(sim, c, steps, series[c], civ_plot_columns[c].flow, 1);",
      ("test_outputs",), "simulated lines of a scaled city drawn against real-city observations"),
    M("plot-borough-panels-shifted", "plot",
      "stride = a ? CIV_NBOROUGH : 1, c = a ? a - 1 : 0;", "stride = a ? CIV_NBOROUGH : 1, c = a ? a % CIV_NBOROUGH : 0;",
      ("test_outputs",), "each borough's panel would show its neighbour"),
    M("smoothing-window-8-days", "plot",
      "for (int k = t - 6; k <= t; k++)", "for (int k = t - 7; k <= t; k++)",
      ("test_outputs", "test_report"), "7-day means would be 8-day means"),
    M("report-nd-uses-squares", "report",
      "e.nd = obs_abs > 0 ? abs_sum / obs_abs : NAN;", "e.nd = obs_abs > 0 ? sq / obs_abs : NAN;",
      ("test_report",), "normalised deviation would be wrong"),
    M("report-default-holdout-off-by-one", "report",
      "if (holdout < 0) holdout = ri[0].steps - 28;", "if (holdout < 0) holdout = ri[0].steps - 27;",
      ("test_report",), "the default held-out window would be the last 27 days, not 4 weeks"),
    M("report-simulated-not-scaled", "report",
      "civ_smooth7(city, T, 1, 0, 1.0 / r->scale, sim);", "civ_smooth7(city, T, 1, 0, 1.0, sim);",
      ("test_report",), "city errors of a scaled run against real-city observations"),
    M("report-laus-month-off-by-one", "report",
      "atoi(csv.cells[r][cm]) != m) continue;", "atoi(csv.cells[r][cm]) != m + 1) continue;",
      ("test_report",), "unemployment compared with the next month's LAUS"),
    M("report-month-min-days", "report",
      "if (b - a < 15) continue;", "if (b - a < 10) continue;",
      ("test_report",), "months with a third of their days in a window would count"),
    M("report-empty-window-zero", "report",
      "civ_errors e = {NAN, NAN, NAN, NAN, 0};", "civ_errors e = {0, 0, 0, NAN, 0};",
      ("test_report",), "an empty window would read as a perfect fit"),
    # ---- ensembles: host/ensemble.c ----
    M("quantile-no-interpolation", "ensemble_stats",
      "return v[lo] + (h - lo) * (v[lo + 1] - v[lo]);", "return v[lo];",
      ("test_ensemble",), "p05/median/p95 would not interpolate (not numpy's definition)"),
    M("ensemble-mean-over-n-minus-1", "ensemble",
      "stat[c] = sum / N;", "stat[c] = sum / (N - 1);",
      ("test_ensemble",), "the ensemble mean would be inflated"),
    M("ensemble-values-unsorted", "ensemble",
      "qsort(vals, (size_t)N, sizeof(double), civ_cmp_double);", "",
      ("test_ensemble",), "quantiles of unsorted values"),
    M("ensemble-averted-pairs-shifted", "ensemble_stats",
      "tot[((size_t)cf * e->seeds + k) * CIV_N_AREAS + a];", "tot[((size_t)cf * e->seeds + (k + 1) % e->seeds) * CIV_N_AREAS + a];",
      ("test_report",), "outcomes averted would pair each base run with another seed's scenario"),
    M("ensemble-bands-8-day-means", "ensemble_stats",
      "from = smooth && t >= 6 ? t - 6 : smooth ? 0 : t;", "from = smooth && t >= 7 ? t - 7 : smooth ? 0 : t;",
      ("test_chart", "test_report"), "the bands of daily counts would be 8-day means"),
    M("ensemble-report-averted-share-of-scenario", "ensemble_report",
      "if (base[k] > 0) cf[n_share] = 100 * col[k] / base[k], n_share++;",
      "if (base[k] - col[k] > 0) cf[n_share] = 100 * col[k] / (base[k] - col[k]), n_share++;",
      ("test_report",), "the averted share would be of the scenario's outcomes, not the base's"),
    M("ensemble-every-run-one-seed", "ensemble",
      "base_seed + (uint64_t)(r % N), threads", "base_seed, threads",
      ("test_ensemble",), "an ensemble would repeat one run"),
    # ---- calibration: host/calibrate.c ----
    M("abc-kernel-not-twice-covariance", "sampler",
      "moment_about(g, NULL, mean, 2.0, cov);", "moment_about(g, NULL, mean, 1.0, cov);",
      ("test_calibration",), "the global ABC-SMC perturbation kernel would be half as wide as Beaumont et al.'s"),
    M("abc-local-kernel-about-mean", "sampler",
      "moment_about(g, close, g->x + (size_t)j * d, 1.0, cov);", "moment_about(g, close, mean, 1.0, cov);",
      ("test_calibration",), "the local kernel would be the close particles' spread about the mean, not about the particle moved"),
    M("abc-local-kernel-all-particles", "sampler",
      "n_close += close[i] = g->dist[i] <= tolerance && g->w[i] > 0;", "n_close += close[i] = g->w[i] > 0;",
      ("test_calibration",), "the local kernel would use particles beyond the new tolerance"),
    M("abc-proposal-one-kernel", "sampler",
      "const double *l = chol + (size_t)j * dim * dim;", "const double *l = chol;",
      ("test_calibration",), "every proposal would move by the first particle's kernel, not its parent's"),
    M("abc-weight-one-kernel", "sampler",
      "const double *l = chol + (size_t)j * d * d;", "const double *l = chol;",
      ("test_calibration",), "importance weights would use the first particle's kernel for every parent"),
    M("abc-weight-ignores-prior", "sampler",
      "log_prior += civ_prior_log_density_x(&priors[k], x[k]);", "",
      ("test_calibration", "test_calibrate"), "importance weights would leave out the prior"),
    M("age-target-suppressed-as-zero", "likelihood",
      "return rate == CIV_AGE_RATE_SUPPRESSED ? 2.0 :", "return rate == CIV_AGE_RATE_SUPPRESSED ? 0.0 :",
      ("test_calibration",), "a suppressed week (1 to 4 deaths) would count as none"),
    M("age-target-week-off-by-one", "likelihood",
      "for (int dd = day - 6; dd <= day; dd++) sim += r->daily_age", "for (int dd = day - 7; dd < day; dd++) sim += r->daily_age",
      ("test_calibration",), "a week's simulated deaths would be shifted a day against DOHMH's Sunday-Saturday week"),
    M("abc-likelihood-in-simulated-units", "likelihood",
      "nll -= civ_nb_log_pmf(ob[b], fmax(sim[b], 0.5) / d->scale, t->dispersion);",
      "nll -= civ_nb_log_pmf(ob[b], fmax(sim[b], 0.5), t->dispersion);",
      ("test_calibration", "test_calibrate"), "a scaled run's counts would be compared with the real city's"),
    M("abc-bin-starts-before-first-day", "likelihood",
      "return day <= d->fit_day && (d->fit_day - day) % t->bin_days == 0 && day - t->bin_days + 1 >= t->first_day;",
      "return day <= d->fit_day && (d->fit_day - day) % t->bin_days == 0 && day - t->bin_days + 2 >= t->first_day;",
      ("test_calibration",), "a bin reaching a day before a target's first day would be scored"),
    M("abc-proposal-without-variance", "sampler",
      "for (int b = 0; b <= a; b++) s += l[a * dim + b] * z[b];", "for (int b = 0; b < a; b++) s += l[a * dim + b] * z[b];",
      ("test_calibration", "test_calibrate"), "proposals would leave out the kernel's own variance of each parameter"),
    M("abc-ess-formula", "sampler",
      "return s2 > 0 ? s * s / s2 : 0;", "return s2 > 0 ? s / s2 : 0;",
      ("test_calibration",), "the effective sample size would not scale with the weights' total"),
    # ---- LLM client and bridge: llm_bridge/ ----
    M("client-5xx-not-retried", "client",
      "status == 429 || status >= 500; }", "status == 429; }",
      ("test_llm",), "server errors would not be retried"),
    M("client-retry-after-ignored", "client",
      "if (by_server) wait = (double)retry_after;", "",
      ("test_llm",), "a server's Retry-After would be ignored"),
    M("client-one-attempt-too-many", "client",
      "if (job->attempts > cfg->max_retries) {", "if (job->attempts > cfg->max_retries + 1) {",
      ("test_llm",), "max_retries would allow one retry more"),
    M("client-400-retried", "client",
      "return status == 0 || status == 408", "return status == 0 || status == 400 || status == 408",
      ("test_llm",), "a request the server refused (400) would be sent again"),
    M("client-404-not-a-configuration-error", "client",
      "if (status == 401 || status == 403 || status == 404 || status == 405) final = CIV_LLM_CONFIG;",
      "if (status == 401 || status == 403 || status == 405) final = CIV_LLM_CONFIG;",
      ("test_llm",), "a wrong model name (404) would give a run of fallback rows instead of ending it"),
    M("client-backoff-not-exponential", "client",
      "for (int k = 1; k < job->attempts; k++) wait *= 2;", "",
      ("test_llm",), "retries would wait backoff_s each time instead of doubling",
      equivalent="only the waiting time between retries changes; measuring it would be a timing-tight assertion, "
                 "which the tests avoid on loaded machines"),
    M("bridge-smoothing-swapped", "bridge",
      "(float)(L->smoothing * b->prev[(size_t)a * CIV_N_DECISION + d] + (1.0 - L->smoothing) * p)",
      "(float)((1.0 - L->smoothing) * b->prev[(size_t)a * CIV_N_DECISION + d] + L->smoothing * p)",
      ("test_llm",), "smoothing would weigh the new answers by the smoothing factor"),
    M("bridge-smoothing-on-first-refresh", "bridge",
      "if (b->refreshes > 0 && L->smoothing > 0)", "if (L->smoothing > 0)",
      ("test_llm",), "the first table would be smoothed towards zeros"),
    M("bridge-fallback-keeps-heuristic", "bridge",
      "const float *src = b->refreshes > 0 ? b->prev + (size_t)a * CIV_N_DECISION : hrow;", "const float *src = hrow;",
      ("test_llm",), "a failed refresh would jump to the heuristic row instead of keeping the previous one"),
    M("bridge-mean-over-all-samples", "bridge",
      "float p = (float)(sum_p[d] / nvalid);", "float p = (float)(sum_p[d] / S);",
      ("test_llm",), "invalid samples would count as zeros"),
    M("prompt-date-off-by-one", "bridge",
      "int day = sit->start_day + sit->day;", "int day = sit->start_day + sit->day + 1;",
      ("test_llm",), "prompts would describe tomorrow"),
    M("prompt-cases-in-simulated-units", "bridge",
      "v->cases_week = lround(cw / sit->scale);", "v->cases_week = lround(cw);",
      ("test_llm",), "prompts would give a scaled city's case count as New York's"),
    # ---- answer cache: llm_bridge/answer_cache.c ----
    M("cache-first-record-wins", "cache",
      "while (c->slots[j].key && c->slots[j].key != key) j = (j + 1) & (c->cap - 1);",
      "while (c->slots[j].key) j = (j + 1) & (c->cap - 1);",
      ("test_answer_cache",), "a recorded failure would shadow a later answer"),
    M("cache-key-hash-changed", "cache",
      "h *= 0x100000001b3ull;", "h *= 0x100000001b5ull;",
      ("test_answer_cache",), "recorded answer files would no longer replay"),
    M("cache-torn-record-kept", "cache",
      "if (complete ? write(fd, \"\\n\", 1) != 1 : ftruncate(fd, keep) != 0) rc = -1;",
      "if (write(fd, \"\\n\", 1) != 1) rc = -1;",
      ("test_answer_cache",), "a record torn by a killed run would break the next run"),
    # ---- reliability: host/util/file.c, host/util/json_strict.c ----
    M("output-may-replace-input", "file",
      "    const char *in = input_named(&sb);\n    if (in) {", "    const char *in = NULL;\n    if (in) {",
      ("test_reliability",), "an output named like an input (or a link to it) would overwrite it"),
    M("output-input-recheck-at-commit-dropped", "file",
      "if (!e && stat(o->path, &sb) == 0 && (in = input_named(&sb)) != NULL) {", "if (0) {",
      ("test_reliability",), "an input first read after its output was begun could still be replaced by it"),
    M("output-write-error-ignored", "file",
      "if (o->text && (fflush(o->text) != 0 || ferror(o->text))) e = o->write_errno ? o->write_errno : EIO;", "",
      ("test_reliability",), "a full disk would leave a truncated file under the output's name with exit 0"),
    M("json-duplicate-keys-accepted", "json_strict",
      "        if (second) {\n", "        if (0) {\n",
      ("test_reliability", "test_fuzz_inputs"), "a key given twice would silently take one of its values"),
    M("json-overflow-accepted", "json_strict",
      "    if (isinf(v)) {\n", "    if (0) {\n",
      ("test_reliability", "test_fuzz_inputs"), "1e999 would be read as infinity"),
    # ---- LLM answers: llm_bridge/answer.c ----
    M("answer-think-block-parsed", "answer",
      "s = close + 8;", "s = s + 7;",
      ("test_answer_text", "test_llm"), "JSON inside a model's reasoning block would be taken as its answer"),
    M("answer-range-unchecked", "answer",
      "else if (!(v->valuedouble >= 0 && v->valuedouble <= 1))", "else if (!(v->valuedouble >= 0))",
      ("test_answer_text", "test_llm"), "an answer of 1.5 would be used as a probability"),
    M("answer-first-brace-only", "answer",
      "for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {", "for (const char *p = strchr(s, '{'); p; p = NULL) {",
      ("test_answer_text",), "a stray '{' before the answer would make the whole answer unreadable"),
    # ---- outputs and exit codes ----
    M("snapshot-a-day-late", "trajectory",
      "if (s->snapshot_steps[k] == step) {", "if (s->snapshot_steps[k] == step - 1) {",
      ("test_outputs",), "agent snapshots would be taken the day after their date"),
    M("date-scale-off-by-one", "trajectory",
      "int32_t d = step;", "int32_t d = step + 1;",
      ("test_outputs",), "the time axis would start on day 1"),
    M("out-of-memory-exit-code", "error",
      "exit(CIV_ERR_RUNTIME);", "exit(CIV_ERR_INPUT);",
      ("test_cli",), "running out of memory would look like bad input"),
    M("version-help-ignored", "main",
      "if (rc >= 0) return rc;\n    printf(\"civitas %s (%s)\\n\"", "printf(\"civitas %s (%s)\\n\"",
      ("test_cli",), "'civitas version --help' would print the version after the help"),
    M("params-household-exponent-sign", "params",
      "CIV_FIXED_ONE * pow(size - 1, -hx)", "CIV_FIXED_ONE * pow(size - 1, hx)",
      ("test_rules",), "larger households would transmit more per contact, not less"),
    # ---- a second round, written without looking at the tests ----
    M("engine-no-minimum-initial-infection", "engine",
      "if (s->initial_per_100k > 0 && want == 0) want = 1;", "",
      ("test_model",), "a small city would get no initial infection at all"),
    M("engine-output-band-edge", "engine",
      "age >= s->out_band_edges[b + 1]) b++;", "age > s->out_band_edges[b + 1]) b++;",
      ("test_outputs",), "an agent aged exactly 18 would be counted in the 0-17 band"),
    M("tally-isolating-counts-hospitalised", "step",
      "r.isolating = civ_isolating(a, i, day) && a->stage[i] != CIV_D && a->stage[i] != CIV_H;",
      "r.isolating = civ_isolating(a, i, day) && a->stage[i] != CIV_D;",
      ("test_rules", "test_engine"), "patients in hospital would be counted as isolating"),
    M("tally-pupils-counted-working", "step",
      "r.working = (t & CIV_TODAY_PLACE) && a->place_type[a->place[i]] != CIV_PLACE_SCHOOL && a->labour[i] == 1;",
      "r.working = (t & CIV_TODAY_PLACE) && a->labour[i] == 1;",
      ("test_rules",), "employed pupils at school would be counted as working"),
    M("death-counted-as-recovery", "model",
      "ev |= 1u << (next == CIV_D ? CIV_FLOW_DIED : CIV_FLOW_RECOVERED);", "ev |= 1u << CIV_FLOW_RECOVERED;",
      ("test_engine", "test_rules"), "deaths would be reported as recoveries"),
    M("dead-agents-keep-going", "model",
      "if (s == CIV_D) return ev;", "",
      ("test_rules", "test_engine"), "the dead could be tested, laid off or rehired"),
    M("isolation-days-setting-ignored", "study_load",
      "bp->isolation_days = (int)iso_days;", "bp->isolation_days = 10;",
      ("test_rules",), "testing.isolation_days would always be 10"),
    M("snapshot-fields-hold-stage", "trajectory",
      "append_row(t->snap[f], 2, (hsize_t)t->n_snaps, st, fields[f].type, fields[f].data)",
      "append_row(t->snap[f], 2, (hsize_t)t->n_snaps, st, fields[f].type, fields[0].data)",
      ("test_outputs",), "every snapshot field (flags, labour) would hold the stages"),
    M("observed-missing-days-accepted", "observed",
      "if (!seen[s]) {", "if (0) {",
      ("test_cli", "test_outputs"), "dates outside the observed data would read as zero cases"),
    M("plot-city-panel-misses-a-borough", "plot",
      "for (int b = 0; b < CIV_NBOROUGH; b++) city[t] += in[t * CIV_NBOROUGH + b];",
      "for (int b = 0; b < CIV_NBOROUGH - 1; b++) city[t] += in[t * CIV_NBOROUGH + b];",
      ("test_outputs",), "the city panel would leave out Staten Island"),
    M("chart-ticks-skip-2-5", "chart",
      "static const double mult[] = {1, 2, 2.5, 5, 10};", "static const double mult[] = {1, 2, 5, 10, 10};",
      ("test_chart",), "axis steps would jump from 2 to 5 (uneven tick spacing on many panels)"),
    M("chart-log-ticks-coarse", "chart",
      "const bool fine = e1 - e0 <= 3;", "const bool fine = e1 - e0 < 3;",
      ("test_chart",), "a log axis over three decades would lose its 2 and 5 ticks"),
    M("report-unemployment-rate-of-employed", "report",
      "sim[(size_t)(b + 1) * T + t] = e + u > 0 ? 100.0 * u / (e + u) : NAN;",
      "sim[(size_t)(b + 1) * T + t] = e + u > 0 ? 100.0 * u / e : NAN;",
      ("test_report",), "a borough's unemployment rate would be per employed, not per labour force"),
    M("info-city-total-last-borough", "info",
      "tot[k] += b < CIV_NBOROUGH ? v[k] : 0;", "tot[k] = b < CIV_NBOROUGH ? v[k] : tot[k];",
      ("test_outputs",), "civitas info's city totals would be Staten Island's"),
    M("report-dir-file-accepted", "report_doc",
      "return civ_fail(err, CIV_ERR_IO, \"%s: is not a directory (the report is a directory of files)\", dir);",
      "return CIV_OK;",
      ("test_cli", "test_report"), "a report named like an existing file would fail later with a less clear reason"),
    M("ensemble-p95-level", "ensemble",
      "civ_quantile_sorted(vals, N, 0.95)", "civ_quantile_sorted(vals, N, 0.9)",
      ("test_ensemble",), "p95 would be the 90th percentile"),
    M("abc-weighted-quantile-ignores-weights", "sampler",
      "        below += p[i].w;\n", "        below += p[0].w;\n",
      ("test_calibration",), "posterior intervals would treat particles as equally weighted"),
    M("posterior-draws-not-stratified", "posterior",
      "    if (run < runs) u = (run + u) / runs;\n", "",
      ("test_calibration",), "an ensemble's runs would draw posterior sets independently, some sets far more often "
      "than their weight says"),
    M("prompt-week-number", "bridge",
      "v->week = sit->day / 7 + 1;", "v->week = sit->day / 7;",
      ("test_llm",), "prompts would count weeks from 0"),
    M("recorded-failure-reused", "bridge",
      "if (hit && (hit->content || replay)) {", "if (hit) {",
      ("test_llm",), "a failure recorded in the cache would be reused instead of asking again"),
    M("schema-maximum-wrong", "bridge",
      "cJSON_AddNumberToObject(pd, \"maximum\", 1);", "cJSON_AddNumberToObject(pd, \"maximum\", 100);",
      ("test_llm",), "the JSON schema sent to the server would allow probabilities up to 100"),
    M("client-deadline-ignored", "client",
      "if (t >= cfg->deadline_at) {", "if (0) {",
      ("test_llm",), "a refresh could outlast deadline_s"),
    M("client-one-request-too-many-in-flight", "client",
      "in_flight < cfg->concurrency; i++)", "in_flight <= cfg->concurrency; i++)",
      ("test_llm",), "concurrency would allow one request more than asked",
      equivalent="curl's own limit (CURLMOPT_MAX_HOST_CONNECTIONS = concurrency) queues the extra transfer, so the "
                 "server never sees more than `concurrency` requests; only that request's timeout clock starts early"),
]


# ---- running ----------------------------------------------------------------------------------------
def sh(cmd, cwd, timeout=None, log=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if log is not None:
        log.write(f"$ {' '.join(cmd)}\n{p.stdout[-4000:]}{p.stderr[-4000:]}\n")
    return p


def export_tree(repo, dest, worktree):
    os.makedirs(dest)
    if worktree:
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo, capture_output=True,
                               check=True).stdout.decode().split("\0")
        for f in files:
            if f and os.path.isfile(os.path.join(repo, f)):
                os.makedirs(os.path.join(dest, os.path.dirname(f)), exist_ok=True)
                shutil.copy2(os.path.join(repo, f), os.path.join(dest, f))
    else:
        tar = subprocess.run(["git", "archive", "HEAD"], cwd=repo, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=tar, check=True)


def configure(src, build_jobs, log):
    p = sh(["cmake", "-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=Release", "-DCIVITAS_ENABLE_CUDA=OFF"], src, log=log)
    if p.returncode:
        sys.exit(f"configure failed in {src}:\n{p.stderr[-3000:]}")
    return build(src, build_jobs, log)


def build(src, build_jobs, log):
    return sh(["cmake", "--build", "build", "-j", str(build_jobs)], src, log=log).returncode == 0


def run_tests(src, tests, timeout, log):
    """Runs the named ctest tests; returns (all passed, failed names, seconds)."""
    regex = "^(" + "|".join(re.escape(t) for t in tests) + ")$"
    t0 = time.time()
    try:
        p = sh(["ctest", "--test-dir", "build", "-R", regex, "--timeout", str(timeout), "--output-on-failure"], src,
               timeout=timeout * len(tests) + 120, log=log)
        out = p.stdout + p.stderr
        failed = sorted(set(re.findall(r"\d+ - (\S+) \((?:Failed|Timeout|SEGFAULT|Subprocess aborted|Exception|"
                                       r"Child aborted|OTHER_FAULT)\)", out)))
        return p.returncode == 0, failed or ([] if p.returncode == 0 else ["(ctest failed)"]), time.time() - t0
    except subprocess.TimeoutExpired:
        return False, ["(timed out)"], time.time() - t0


def locate(src, m):
    """The file's text and how often the snippet occurs in it (None when the file is gone)."""
    path = os.path.join(src, FILES[m.file])
    if not os.path.exists(path):
        return None, 0
    with open(path) as f:
        text = f.read()
    return text, text.count(m.old)


def check_one(src, m, args, log):
    text, count = locate(src, m)
    if text is None:
        return "STALE", f"{FILES[m.file]} does not exist", 0.0
    if count != 1:
        return "STALE", f"snippet found {count} times in {FILES[m.file]}", 0.0
    path = os.path.join(src, FILES[m.file])
    log.write(f"\n===== {m.id}: {FILES[m.file]}\n")
    try:
        with open(path, "w") as f:
            f.write(text.replace(m.old, m.new, 1))
        if not build(src, args.build_jobs, log):
            return "BUILD-ERROR", "the mutated code does not compile (fix the table entry)", 0.0
        ok, failed, secs = run_tests(src, m.tests, args.timeout, log)
    finally:
        with open(path, "w") as f:
            f.write(text)
    if ok:
        return "SURVIVED", "", secs
    return "CAUGHT", ", ".join(failed), secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", metavar="ID", help="run this mutation (repeatable)")
    ap.add_argument("--list", action="store_true", help="print the table (stale entries marked) and exit")
    ap.add_argument("--jobs", type=int, default=1, help="mutations tested at once, each in its own copy (default 1)")
    ap.add_argument("--build-jobs", type=int, default=2, help="compiler processes per build (default 2)")
    ap.add_argument("--timeout", type=int, default=1500, help="seconds per test program (default 1500)")
    ap.add_argument("--worktree", action="store_true", help="copy the working tree (with uncommitted changes), not HEAD")
    ap.add_argument("--scratch", help="scratch directory for the copies and logs (default: a new temporary one, "
                                      "removed at the end)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    repo = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=os.path.dirname(os.path.abspath(__file__)),
                          capture_output=True, text=True, check=True).stdout.strip()

    ids = [m.id for m in MUTATIONS]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit(f"duplicate mutation ids: {sorted(dup)}")
    chosen = MUTATIONS
    if args.only:
        unknown = set(args.only) - set(ids)
        if unknown:
            sys.exit(f"unknown mutation id(s): {sorted(unknown)} (see --list)")
        chosen = [m for m in MUTATIONS if m.id in args.only]

    if args.list:
        for m in chosen:
            text, count = locate(repo, m)
            state = "" if count == 1 else "  [STALE: " + ("file missing" if text is None else f"found {count} times") + "]"
            eq = f"\n    equivalent: {m.equivalent}" if m.equivalent else ""
            print(f"{m.id}  ({FILES[m.file]}; tests {', '.join(m.tests)}){state}\n    {m.why}{eq}")
        print(f"\n{len(chosen)} mutations over {len({m.file for m in chosen})} files")
        return 0

    scratch = args.scratch or tempfile.mkdtemp(prefix="civitas_mutation_")
    os.makedirs(scratch, exist_ok=True)
    jobs = max(1, min(args.jobs, len(chosen)))
    print(f"civitas mutation check: {len(chosen)} mutations, {jobs} job(s), copies of "
          f"{'the working tree' if args.worktree else 'HEAD'} in {scratch}", flush=True)
    t_start = time.time()
    srcs = []
    for k in range(jobs):
        src = os.path.join(scratch, f"copy{k}")
        shutil.rmtree(src, ignore_errors=True)   # never reuse a copy: an interrupted run may have left a mistake in it
        export_tree(repo, src, args.worktree)
        with open(os.path.join(scratch, f"copy{k}.log"), "a") as log:
            if not configure(src, args.build_jobs, log):
                sys.exit(f"the unmutated copy does not build: see {scratch}/copy{k}.log")
        srcs.append(src)
    # every named test must exist (a misspelt name would run nothing), and pass on the unmutated code, or
    # every mutation would look caught
    needed = sorted({t for m in chosen for t in m.tests})
    listed = sh(["ctest", "--test-dir", "build", "-N"], srcs[0]).stdout
    missing = [t for t in needed if not re.search(rf"Test\s+#\d+: {re.escape(t)}$", listed, re.M)]
    if missing:
        sys.exit(f"no ctest test named {', '.join(missing)} (see ctest -N)")
    with open(os.path.join(scratch, "baseline.log"), "w") as log:
        ok, failed, secs = run_tests(srcs[0], needed, args.timeout, log)
    if not ok:
        sys.exit(f"baseline: {', '.join(failed)} fail without any mutation (see {scratch}/baseline.log)")
    print(f"baseline: {len(needed)} test programs pass unmutated ({secs:.0f}s)\n", flush=True)

    queue, results, lock = Queue(), {}, threading.Lock()
    for m in chosen:
        queue.put(m)

    def worker(src, log_path):
        with open(log_path, "a") as log:
            while True:
                try:
                    m = queue.get_nowait()
                except Empty:
                    return
                state, detail, secs = check_one(src, m, args, log)
                log.flush()
                with lock:
                    results[m.id] = (state, detail)
                    tag = state if not (m.equivalent and state == "SURVIVED") else "EQUIVALENT"
                    print(f"{tag:11} {m.id:40} {secs:5.0f}s  {detail}", flush=True)

    threads = [threading.Thread(target=worker, args=(src, os.path.join(scratch, f"copy{k}.log")))
               for k, src in enumerate(srcs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    counted = [m for m in chosen if not m.equivalent and results[m.id][0] != "BUILD-ERROR"]
    caught = [m for m in counted if results[m.id][0] == "CAUGHT"]
    survivors = [m for m in counted if results[m.id][0] != "CAUGHT"]
    eq = [m for m in chosen if m.equivalent]
    broken = [m for m in chosen if results[m.id][0] == "BUILD-ERROR"]
    print(f"\nscore: {len(caught)} of {len(counted)} mutations caught "
          f"({100.0 * len(caught) / max(1, len(counted)):.0f}%), {time.time() - t_start:.0f}s")
    for m in survivors:
        print(f"  {results[m.id][0].lower()}: {m.id} ({FILES[m.file]}): {m.why} {results[m.id][1]}")
    for m in eq:
        print(f"  equivalent ({results[m.id][0].lower()}): {m.id}: {m.equivalent}")
    for m in broken:
        print(f"  not counted, does not compile: {m.id}")
    if not args.keep and not args.scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"scratch copies and logs kept in {scratch}")
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
