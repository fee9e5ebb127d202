/* A study: one JSON file (optionally naming a base study it overrides) that
 * fixes the population, dates, seed, model parameters, contacts, behaviour,
 * testing, employment, interventions and outputs. */
#ifndef CIV_STUDY_H
#define CIV_STUDY_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "models/covid/covid_model.h"
#include "host/study/daily_inputs.h"
#include "host/util/error.h"

#define CIV_MAX_BANDS 16
#define CIV_MAX_SNAPSHOTS 64
#define CIV_MAX_STEPS 3650   /* simulated days in one run (ten years) */
#define CIV_MIN_SCALE 1e-5   /* smallest population scale (84 agents for NYC) */
#define CIV_MAX_SEED 0x7FFFFFFFFFFFLL           /* simulation seeds: 0 .. 2^47 - 1 (exact in a JSON double) */
#define CIV_MAX_POPULATION_SEED 0x7FFFFFFFLL     /* synthesis seeds: 0 .. 2^31 - 1 */

typedef enum { IV_SCHOOL_CLOSURE, IV_WORKPLACE_CLOSURE, IV_COMMUNITY_CONTACTS, IV_TESTING,
               IV_ISOLATION_COMPLIANCE, IV_TRANSMISSION } civ_iv_type;

typedef struct {
    int day;                 /* simulation day it takes effect (may be < 0: before start) */
    civ_iv_type type;
    int closed;              /* -1 = not given */
    double essential_share, factor, seek_probability, capacity_per_100k, probability, beta, other_per_100k;
    int result_delay_days;   /* -1 = not given */
} civ_intervention;

/* One heuristic decision rule: p = clamp(base[band] + sensitivity * weekly cases per 100k, min, max) */
typedef struct {
    double base[CIV_MAX_BANDS];
    double case_sensitivity, min, max;
} civ_rule;

typedef enum { CIV_BEHAVIOR_HEURISTIC = 0, CIV_BEHAVIOR_LLM, CIV_BEHAVIOR_REPLAY } civ_behavior_mode;

/* LLM bridge settings (behavior.llm in the study). */
typedef struct {
    char *base_url, *model, *api_key_env;
    char *system_prompt_file, *user_prompt_file, *cache_file, *replay_file;
    char *system_prompt, *user_prompt;          /* template texts */
    int samples, concurrency, max_retries, validation_retries, max_tokens;
    double temperature, timeout_s, deadline_s, backoff_s, smoothing;
    int response_format;       /* 0 none, 1 json_schema (OpenAI, vLLM, llama.cpp, Ollama), 2 json_object */
    int on_error_fallback;     /* on_error "fallback": a misconfigured server degrades to fallback rows, not exit 5 */
} civ_llm_settings;

typedef struct {
    char *study_file;          /* as given */
    char *name;
    cJSON *resolved;           /* merged study JSON, absolute input paths */
    cJSON *model_json;         /* model config after overrides */
    char *model_file;
    civ_covid_params model;

    /* population */
    char *population_file;     /* NULL: synthesize */
    char *data_dir;
    double scale;
    uint64_t population_seed;
    int laus_year, laus_month;

    int start_day, steps;
    uint64_t seed;
    double initial_per_100k;

    /* contacts */
    char *matrix_file, *region_type;
    bool uniform_community;
    double uniform_contacts;

    /* behaviour (decision tables) */
    int refresh_days;
    int n_arch_bands;
    int arch_band_edges[CIV_MAX_BANDS];
    bool arch_by_sex, arch_by_borough, arch_by_employment, arch_by_children;
    civ_behavior_mode behavior_mode;
    civ_llm_settings llm;
    civ_rule rules[CIV_N_DECISION];

    /* baseline policy (before any intervention) */
    civ_policy base_policy;
    double test_capacity_per_100k;   /* 0: unlimited (testing.capacity_file overrides it) */
    civ_test_capacity test_capacity; /* the city's tests per day (testing.capacity_file) */
    civ_test_access test_access;     /* each borough's share of the negative tests (testing.access_file) */
    double other_seekers_per_100k;   /* people without COVID-19 seeking a test, per day */
    double screening_targeting;      /* how much likelier an infected person is screened than anyone */
    double seek_scale;               /* testing.seek_scale: multiplies every seek probability */
    civ_mobility mobility;           /* behavior.mobility: contacts and attendance from mobility data */
    double beta_after_stay_at_home;  /* transmission.after_stay_at_home; < 0: unset */
    civ_intervention *iv;
    int n_iv;

    /* output */
    char *output_file;
    int n_snapshots;
    int snapshot_steps[CIV_MAX_SNAPSHOTS];
    int n_out_bands;
    int out_band_edges[CIV_MAX_BANDS];
    char *observed_file;
    char *posterior_file;      /* 'posterior': weighted parameter sets for ensembles (posterior.h); NULL: none */
} civ_study;

/* Numbers set at JSON paths of the merged study before validation (host/util/json_path.h): a
 * calibration particle, or an ensemble run's posterior draw. */
typedef struct {
    int n;
    const char *const *paths;
    const double *values;
    /* set in the merged chain right after the file that names the 'posterior' (not on top), so a
       counterfactual based on the calibrated study keeps the values it overrides itself */
    bool at_posterior_layer;
    const char *origin;        /* named in messages: "calibration.parameters" or the posterior file */
} civ_study_values;

/* Command-line overrides, applied before validation; unset fields are NULL/negative. */
typedef struct {
    double scale;              /* < 0: unset */
    long steps;                /* < 0: unset */
    long long seed;            /* < 0: unset */
    const char *population;    /* population file instead of synthesis */
    const char *output;
    const char *llm_mode;      /* "heuristic", "llm" or "replay" */
    const char *llm_replay;    /* recorded answers for replay */
    bool quiet;                /* no notices */
    const civ_study_values *values;   /* NULL: none */
} civ_study_overrides;

civ_status civ_study_load(const char *path, const civ_study_overrides *ov, civ_study *s, civ_error *err);
void civ_study_free(civ_study *s);

/* Testing that day before it is shared out: the tests the city can run, either as a count (real-city
 * units, from testing.capacity_file) or per 100k (testing.capacity_per_100k; <= 0 unlimited), and people
 * without COVID-19 who seek one, per 100k; and how readily each borough's residents are tested. */
typedef struct {
    double tests;             /* < 0: not given, capacity_per_100k applies */
    double capacity_per_100k;
    double other_per_100k;
    const float *access_share; /* [borough]: the borough's share of the negative tests; NULL: by residents */
} civ_testing_supply;

/* Policy in force on simulation day `day` (the testing capacity ratio and screening are left to the
 * engine, which knows the demand: see civ_testing_supply). */
void civ_study_policy(const civ_study *s, int day, civ_policy *pol, double *comply_override,
                      civ_testing_supply *supply);

/* "20-29" or "75+" for band b of the bands with lower edges edges[0..n). */
void civ_age_band_label(const int *edges, int n, int b, char *buf, size_t len);

/* Resolved configuration (study + model) as one JSON text; caller frees. */
char *civ_study_resolved_json(const civ_study *s);
/* Paths as output files record them, never a path of this machine: `target` relative to the folder
 * from_dir (its file name alone when it cannot be resolved and is absolute); the study file as named when
 * that is relative, else its file name (the paths in the recorded study are relative to it). */
void civ_path_relative(const char *target, const char *from_dir, char *out, size_t n);
void civ_study_recorded_name(const char *study_file, char *out, size_t n);

#endif
