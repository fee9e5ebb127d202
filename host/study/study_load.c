/* A study file loaded into a civ_study: every field read, checked and reported by name (file, field,
 * value) when wrong; the model's parameters with the study's overrides. */
#include "host/study/study.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/study/study_files.h"
#include "host/util/date.h"
#include "host/util/json_util.h"
#include "llm_bridge/prompt.h"
#include "models/covid/covid_params.h"

static cJSON *child(cJSON *o, const char *k) { return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL; }

/* behavior.mobility, testing.capacity_file and testing.access_file: daily series read from data files for
 * the simulated days. */
static civ_status read_daily_inputs(civ_jctx *c, const cJSON *beh, const cJSON *te, civ_study *s)
{
    const char *cap = NULL;
    if (civ_json_string(c, te, "testing", "capacity_file", false, &cap)) return c->err->status;
    if (cap) {
        if (civ_study_need_input(c, "testing.capacity_file", cap, false)) return c->err->status;
        s->test_capacity.file = strdup(cap);
        if (civ_test_capacity_load(&s->test_capacity, s->start_day, s->steps, c->file, "testing.capacity_file", c->err))
            return c->err->status;
    }
    const char *access = NULL;
    long window = 15;
    if (civ_json_string(c, te, "testing", "access_file", false, &access) ||
        civ_json_int(c, te, "testing", "access_window_days", 1, 91, false, &window))
        return c->err->status;
    if (window % 2 == 0)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field 'testing.access_window_days' = %ld must be odd (a centred window)",
                        c->file, window);
    if (access) {
        if (civ_study_need_input(c, "testing.access_file", access, false)) return c->err->status;
        s->test_access.file = strdup(access);
        s->test_access.window_days = (int)window;
        if (civ_test_access_load(&s->test_access, s->start_day, s->steps, c->file, "testing.access_file", c->err))
            return c->err->status;
    }
    const cJSON *mo = NULL;
    if (civ_json_object(c, beh, "behavior", "mobility", false, &mo)) return c->err->status;
    if (!mo) return CIV_OK;
    static const char *const keys[] = {"file", "floor", "shape", "smooth_days", "work", "by_borough", "shift_days",
                                       "shift_until", "older_adult_extra", "older_adult_age", "source", "note", NULL};
    const char *P = "behavior.mobility", *file = NULL;
    civ_mobility *m = &s->mobility;
    m->floor = 0.2; m->shape = 1.0; m->work = true; m->by_borough = true;
    m->older_adult_extra = 0.0;
    long smooth = 7, shift = 0, older_age = 65;
    int until = s->start_day + s->steps;
    if (civ_json_check_keys(c, mo, P, keys) || civ_json_string(c, mo, P, "file", true, &file) ||
        civ_json_number(c, mo, P, "floor", 0, 1, false, &m->floor) ||
        civ_json_number(c, mo, P, "shape", 0.05, 20, false, &m->shape) ||
        civ_json_int(c, mo, P, "smooth_days", 1, 29, false, &smooth) ||
        civ_json_bool(c, mo, P, "work", false, &m->work) ||
        civ_json_bool(c, mo, P, "by_borough", false, &m->by_borough) ||
        civ_json_int(c, mo, P, "shift_days", -365, 365, false, &shift) ||
        civ_json_date(c, mo, P, "shift_until", false, &until) ||
        civ_json_number(c, mo, P, "older_adult_extra", 0, 1, false, &m->older_adult_extra) ||
        civ_json_int(c, mo, P, "older_adult_age", 0, CIV_MAX_AGE, false, &older_age))
        return c->err->status;
    if (smooth % 2 == 0)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.smooth_days' = %ld must be odd (a centred window)", c->file,
                        P, smooth);
    if (civ_study_need_input(c, "behavior.mobility.file", file, false)) return c->err->status;
    m->file = strdup(file);
    m->smooth_days = (int)smooth;
    m->shift_days = (int)shift;
    m->older_adult_age = (int)older_age;
    m->shift_until = until - s->start_day;
    return civ_mobility_load(m, s->start_day, s->steps, c->file, "behavior.mobility.file", c->err);
}

/* behavior.llm and the mode; templates are loaded and checked here so a bad one fails before any work. */
static civ_status read_llm(civ_jctx *c, const cJSON *beh, const char *mode, const civ_study_overrides *ov, civ_study *s)
{
    civ_llm_settings *L = &s->llm;
    L->samples = 3; L->concurrency = 8; L->max_retries = 3; L->validation_retries = 1; L->max_tokens = 300;
    L->temperature = 0.7; L->timeout_s = 120; L->deadline_s = 1800; L->backoff_s = 1.0; L->smoothing = 0.0;
    L->response_format = 1;
    const char *rf = "json_schema", *on_error = "fail";
    const cJSON *o = NULL;
    if (civ_json_object(c, beh, "behavior", "llm", false, &o)) return c->err->status;
    const char *base_url = NULL, *model = NULL, *key_env = "OPENAI_API_KEY", *sys = NULL, *usr = NULL, *cache = NULL,
               *replay = NULL;
    long samples = L->samples, conc = L->concurrency, retries = L->max_retries, vret = L->validation_retries,
         maxtok = L->max_tokens;
    if (o) {
        static const char *const keys[] = {"base_url", "model", "api_key_env", "samples", "temperature", "max_tokens",
            "concurrency", "timeout_s", "max_retries", "backoff_s", "validation_retries", "deadline_s", "smoothing",
            "response_format", "on_error", "system_prompt", "user_prompt", "cache", "replay", "note", NULL};
        const char *P = "behavior.llm";
        if (civ_json_check_keys(c, o, P, keys) || civ_json_string(c, o, P, "base_url", false, &base_url) ||
            civ_json_string(c, o, P, "model", false, &model) || civ_json_string(c, o, P, "api_key_env", false, &key_env) ||
            civ_json_int(c, o, P, "samples", 1, 64, false, &samples) ||
            civ_json_number(c, o, P, "temperature", 0, 2, false, &L->temperature) ||
            civ_json_int(c, o, P, "max_tokens", 16, 32768, false, &maxtok) ||
            civ_json_int(c, o, P, "concurrency", 1, 1024, false, &conc) ||
            civ_json_number(c, o, P, "timeout_s", 0.1, 3600, false, &L->timeout_s) ||
            civ_json_int(c, o, P, "max_retries", 0, 20, false, &retries) ||
            civ_json_number(c, o, P, "backoff_s", 0, 600, false, &L->backoff_s) ||
            civ_json_int(c, o, P, "validation_retries", 0, 10, false, &vret) ||
            civ_json_number(c, o, P, "deadline_s", 1, 86400, false, &L->deadline_s) ||
            civ_json_number(c, o, P, "smoothing", 0, 1, false, &L->smoothing) ||
            civ_json_string(c, o, P, "response_format", false, &rf) ||
            civ_json_string(c, o, P, "on_error", false, &on_error) ||
            civ_json_string(c, o, P, "system_prompt", false, &sys) || civ_json_string(c, o, P, "user_prompt", false, &usr) ||
            civ_json_string(c, o, P, "cache", false, &cache) || civ_json_string(c, o, P, "replay", false, &replay))
            return c->err->status;
    }
    if (strcmp(rf, "none") == 0) L->response_format = 0;
    else if (strcmp(rf, "json_schema") == 0) L->response_format = 1;
    else if (strcmp(rf, "json_object") == 0) L->response_format = 2;
    else
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field 'behavior.llm.response_format' = \"%s\" must be json_schema "
                        "(OpenAI, vLLM, llama.cpp, Ollama), json_object or none", c->file, rf);
    if (strcmp(on_error, "fail") == 0) L->on_error_fallback = 0;
    else if (strcmp(on_error, "fallback") == 0) L->on_error_fallback = 1;
    else
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field 'behavior.llm.on_error' = \"%s\" must be fail (a misconfigured "
                        "LLM server ends the run, exit 5) or fallback (the run goes on with fallback rows)", c->file, on_error);
    L->samples = (int)samples; L->concurrency = (int)conc; L->max_retries = (int)retries;
    L->validation_retries = (int)vret; L->max_tokens = (int)maxtok;
    if (ov && ov->llm_mode) mode = ov->llm_mode;
    if (ov && ov->llm_replay) replay = ov->llm_replay;
    if (!mode) mode = base_url ? "llm" : "heuristic";
    if (strcmp(mode, "heuristic") == 0) s->behavior_mode = CIV_BEHAVIOR_HEURISTIC;
    else if (strcmp(mode, "llm") == 0) s->behavior_mode = CIV_BEHAVIOR_LLM;
    else if (strcmp(mode, "replay") == 0) s->behavior_mode = CIV_BEHAVIOR_REPLAY;
    else
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field 'behavior.mode' = \"%s\" must be heuristic, llm or replay", c->file, mode);
    if (s->behavior_mode == CIV_BEHAVIOR_HEURISTIC) return CIV_OK;
    if (s->behavior_mode == CIV_BEHAVIOR_LLM && (!base_url || !model))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: behavior mode llm needs 'behavior.llm.base_url' and 'behavior.llm.model' "
                        "(e.g. \"http://127.0.0.1:8000\" and the served model name)", c->file);
    if (s->behavior_mode == CIV_BEHAVIOR_REPLAY && !replay)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: behavior mode replay needs a recorded answer file "
                        "('behavior.llm.replay' or --llm replay FILE)", c->file);
    char *dir = civ_study_dir_of(c->file);
    L->base_url = base_url ? strdup(base_url) : NULL;
    L->model = model ? strdup(model) : NULL;
    L->api_key_env = strdup(key_env);
    L->system_prompt_file = sys ? strdup(sys) : strdup(CIVITAS_PROMPT_DIR "/system.txt");
    L->user_prompt_file = usr ? strdup(usr) : strdup(CIVITAS_PROMPT_DIR "/user.txt");
    L->cache_file = cache ? strdup(cache) : civ_study_join_path(dir, "llm_cache.jsonl");
    L->replay_file = replay ? strdup(replay) : NULL;
    free(dir);
    if (!(L->system_prompt = civ_study_read_text(c, "behavior.llm.system_prompt", L->system_prompt_file)) ||
        !(L->user_prompt = civ_study_read_text(c, "behavior.llm.user_prompt", L->user_prompt_file)) ||
        civ_prompt_check(L->system_prompt, L->system_prompt_file, c->err) ||
        civ_prompt_check(L->user_prompt, L->user_prompt_file, c->err))
        return c->err->status;
    return CIV_OK;
}

static civ_status read_bands(civ_jctx *c, const cJSON *obj, const char *path, const char *key,
                             int *n, int *edges)
{
    double v[CIV_MAX_BANDS];
    int len = 0;
    if (civ_json_numbers(c, obj, path, key, 0, CIV_MAX_AGE, -1, CIV_MAX_BANDS, false, v, &len)) return c->err->status;
    if (!len) return CIV_OK;
    if (v[0] != 0)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.%s' must start at 0 (lower edges of age bands), got %g",
                        c->file, path, key, v[0]);
    for (int i = 0; i < len; i++) {
        if ((int)v[i] != v[i] || (i && v[i] <= v[i - 1]))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.%s' must be increasing whole ages, got %s",
                            c->file, path, key, civ_json_repr(cJSON_GetObjectItemCaseSensitive(obj, key)));
        edges[i] = (int)v[i];
    }
    *n = len;
    return CIV_OK;
}

static civ_status read_rule(civ_jctx *c, const cJSON *beh, const char *name, civ_rule *r, int nbands)
{
    char path[128];
    snprintf(path, sizeof path, "behavior.heuristic.%s", name);
    const cJSON *h = NULL, *o = NULL;
    if (civ_json_object(c, beh, "behavior", "heuristic", false, &h)) return c->err->status;
    if (!h) return CIV_OK;
    if (civ_json_object(c, h, "behavior.heuristic", name, false, &o)) return c->err->status;
    if (!o) return CIV_OK;
    static const char *const keys[] = {"base", "case_sensitivity", "min", "max", "note", "source", NULL};
    if (civ_json_check_keys(c, o, path, keys)) return c->err->status;
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(o, "base");
    if (cJSON_IsArray(base)) {
        if (civ_json_numbers(c, o, path, "base", 0, 1, nbands, nbands, true, r->base, NULL)) return c->err->status;
    } else if (base) {
        double b;
        if (civ_json_number(c, o, path, "base", 0, 1, true, &b)) return c->err->status;
        for (int i = 0; i < CIV_MAX_BANDS; i++) r->base[i] = b;
    }
    if (civ_json_number(c, o, path, "case_sensitivity", -1, 1, false, &r->case_sensitivity) ||
        civ_json_number(c, o, path, "min", 0, 1, false, &r->min) ||
        civ_json_number(c, o, path, "max", 0, 1, false, &r->max))
        return c->err->status;
    if (r->min > r->max)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s': min (%g) > max (%g)", c->file, path, r->min, r->max);
    return CIV_OK;
}

static civ_status read_interventions(civ_jctx *c, const cJSON *arr, civ_study *s)
{
    if (!arr) return CIV_OK;
    if (!cJSON_IsArray(arr))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field 'interventions' must be an array, got %s", c->file, civ_json_repr(arr));
    int n = cJSON_GetArraySize(arr);
    s->iv = civ_xcalloc((size_t)n + 1, sizeof *s->iv);
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "interventions[%d]", i);
        if (!cJSON_IsObject(e))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an object, got %s", c->file, path, civ_json_repr(e));
        civ_intervention *v = &s->iv[i];
        v->closed = -1; v->result_delay_days = -1;
        v->essential_share = v->factor = v->seek_probability = v->capacity_per_100k = v->probability = v->beta = -1;
        v->other_per_100k = -1;
        const char *type = NULL;
        int date;
        if (civ_json_string(c, e, path, "type", true, &type) || civ_json_date(c, e, path, "date", true, &date))
            return c->err->status;
        v->day = date - s->start_day;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (id && (!cJSON_IsString(id) || !id->valuestring[0]))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.id' must be a non-empty string, got %s", c->file, path,
                            civ_json_repr(id));
        for (const cJSON *o = arr->child; id && o != e; o = o->next) {
            const cJSON *oid = cJSON_GetObjectItemCaseSensitive(o, "id");
            if (cJSON_IsString(oid) && strcmp(oid->valuestring, id->valuestring) == 0)
                return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.id' = \"%s\" is used by an earlier intervention",
                                c->file, path, id->valuestring);
        }
        static const char *const k_school[] = {"type", "date", "id", "closed", "source", "note", NULL};
        static const char *const k_work[] = {"type", "date", "id", "closed", "essential_share", "source", "note", NULL};
        static const char *const k_comm[] = {"type", "date", "id", "factor", "source", "note", NULL};
        static const char *const k_test[] = {"type", "date", "id", "seek_probability", "capacity_per_100k",
                                             "result_delay_days", "other_seekers_per_100k", "source", "note", NULL};
        static const char *const k_iso[] = {"type", "date", "id", "probability", "source", "note", NULL};
        static const char *const k_tr[] = {"type", "date", "id", "beta", "source", "note", NULL};
        bool b;
        long l;
        if (strcmp(type, "school_closure") == 0) {
            v->type = IV_SCHOOL_CLOSURE;
            if (civ_json_check_keys(c, e, path, k_school) || civ_json_bool(c, e, path, "closed", true, &b)) return c->err->status;
            v->closed = b;
        } else if (strcmp(type, "workplace_closure") == 0) {
            v->type = IV_WORKPLACE_CLOSURE;
            if (civ_json_check_keys(c, e, path, k_work) || civ_json_bool(c, e, path, "closed", true, &b)) return c->err->status;
            v->closed = b;
            if (civ_json_number(c, e, path, "essential_share", 0, 1, b, &v->essential_share)) return c->err->status;
        } else if (strcmp(type, "community_contacts") == 0) {
            v->type = IV_COMMUNITY_CONTACTS;
            if (civ_json_check_keys(c, e, path, k_comm) || civ_json_number(c, e, path, "factor", 0, 5, true, &v->factor))
                return c->err->status;
        } else if (strcmp(type, "testing") == 0) {
            v->type = IV_TESTING;
            if (civ_json_check_keys(c, e, path, k_test) ||
                civ_json_number(c, e, path, "seek_probability", 0, 1, false, &v->seek_probability) ||
                civ_json_number(c, e, path, "capacity_per_100k", 0, 1e5, false, &v->capacity_per_100k) ||
                civ_json_number(c, e, path, "other_seekers_per_100k", 0, 1e5, false, &v->other_per_100k) ||
                civ_json_int(c, e, path, "result_delay_days", 0, 30, false, &l))
                return c->err->status;
            if (cJSON_GetObjectItemCaseSensitive(e, "result_delay_days")) v->result_delay_days = (int)l;
        } else if (strcmp(type, "isolation_compliance") == 0) {
            v->type = IV_ISOLATION_COMPLIANCE;
            if (civ_json_check_keys(c, e, path, k_iso) || civ_json_number(c, e, path, "probability", 0, 1, true, &v->probability))
                return c->err->status;
        } else if (strcmp(type, "transmission") == 0) {
            v->type = IV_TRANSMISSION;
            if (civ_json_check_keys(c, e, path, k_tr) || civ_json_number(c, e, path, "beta", 0, 100, true, &v->beta))
                return c->err->status;
        } else {
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.type' = \"%s\" is not one of school_closure, "
                            "workplace_closure, community_contacts, testing, isolation_compliance, transmission",
                            c->file, path, type);
        }
    }
    s->n_iv = n;
    /* stable sort by day so later entries win on the same day */
    for (int a = 1; a < n; a++)
        for (int b2 = a; b2 > 0 && s->iv[b2 - 1].day > s->iv[b2].day; b2--) {
            civ_intervention t = s->iv[b2]; s->iv[b2] = s->iv[b2 - 1]; s->iv[b2 - 1] = t;
        }
    return CIV_OK;
}

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }
static bool ov_quiet(const civ_study_overrides *ov) { return ov && ov->quiet; }

/* The study's own values of the fields a command-line option replaces are checked all the same (types
 * and ranges, not whether the files they name exist): an option must not hide a broken study. */
static civ_status check_overridden(civ_jctx *c, const cJSON *j, const civ_study_overrides *ov)
{
    long n;
    double x;
    const char *str;
    const cJSON *pop = NULL, *syn = NULL, *out = NULL;
    if (ov->steps >= 0 && civ_json_int(c, j, "", "steps", 1, CIV_MAX_STEPS, false, &n)) return c->err->status;
    if (ov->seed >= 0 && civ_json_int(c, j, "", "seed", 0, CIV_MAX_SEED, false, &n)) return c->err->status;
    if ((ov->population || ov->scale >= 0) && civ_json_object(c, j, "", "population", false, &pop)) return c->err->status;
    if (pop) {
        static const char *const k_pop[] = {"file", "synthesize", NULL};
        static const char *const k_syn[] = {"data_dir", "scale", "seed", "employment_reference", NULL};
        if (civ_json_check_keys(c, pop, "population", k_pop) ||
            civ_json_string(c, pop, "population", "file", false, &str) ||
            civ_json_object(c, pop, "population", "synthesize", false, &syn))
            return c->err->status;
        if (syn && (civ_json_check_keys(c, syn, "population.synthesize", k_syn) ||
                    civ_json_string(c, syn, "population.synthesize", "data_dir", false, &str) ||
                    civ_json_number(c, syn, "population.synthesize", "scale", CIV_MIN_SCALE, 1, false, &x) ||
                    civ_json_int(c, syn, "population.synthesize", "seed", 0, CIV_MAX_POPULATION_SEED, false, &n) ||
                    civ_json_string(c, syn, "population.synthesize", "employment_reference", false, &str)))
            return c->err->status;
    }
    if (ov->output && (civ_json_object(c, j, "", "output", false, &out) ||
                       (out && civ_json_string(c, out, "output", "file", false, &str))))
        return c->err->status;
    return CIV_OK;
}

civ_status civ_study_load(const char *path, const civ_study_overrides *ov, civ_study *s, civ_error *err)
{
    memset(s, 0, sizeof *s);
    s->study_file = strdup(path);
    cJSON *j = NULL;
    civ_status st = civ_study_read_merged(path, ov ? ov->values : NULL, ov_quiet(ov), &j, err);
    if (st) return st;
    s->resolved = j;
    /* snapshot dates are checked against the study's own length: a shorter
       --steps run simply does not reach the later ones */
    const cJSON *own_steps = cJSON_GetObjectItemCaseSensitive(j, "steps");
    int file_steps = cJSON_IsNumber(own_steps) ? own_steps->valueint : 0;
    civ_jctx c = {path, err};
    if (ov && (st = check_overridden(&c, j, ov))) return st;
    if ((st = civ_study_apply_overrides(j, ov, path, err))) return st;

    static const char *const top[] = {"name", "description", "model", "parameters", "population",
        "start_date", "steps", "seed", "initial_infections", "contacts", "behavior", "testing",
        "employment", "interventions", "output", "observed", "transmission", "note", "sources", "calibration",
        "posterior", "scenario", NULL};
    if (civ_json_check_keys(&c, j, "", top)) return err->status;
    /* "scenario": true marks a counterfactual: reports draw it but never score it against observed data */
    bool scenario = false;
    if (civ_json_bool(&c, j, "", "scenario", false, &scenario)) return err->status;

    const char *name = NULL, *model = NULL;
    if (civ_json_string(&c, j, "", "name", true, &name) || civ_json_string(&c, j, "", "model", true, &model))
        return err->status;
    for (const char *p = name; *p; p++)
        if (!(*p == '_' || *p == '-' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return civ_fail(err, CIV_ERR_INPUT, "%s: field 'name' = \"%s\" may contain only letters, digits, '_', '-' and '.'",
                            path, name);
    s->name = strdup(name);
    s->model_file = strdup(model);

    /* model parameters with study overrides */
    const cJSON *povr = NULL;
    if (civ_json_object(&c, j, "", "parameters", false, &povr)) return err->status;
    if ((st = civ_study_need_input(&c, "model", s->model_file, false)) ||
        (st = civ_json_load(s->model_file, &s->model_json, err)))
        return st;
    if ((st = civ_covid_params_build(s->model_json, povr, s->model_file, path, &s->model, err))) return st;
    double beta = 0;
    {
        const cJSON *bp = child(child(s->model_json, "parameters"), "beta");
        beta = cJSON_GetObjectItemCaseSensitive(bp, "value")->valuedouble;
    }

    /* population */
    const cJSON *pop = NULL, *syn = NULL;
    if (civ_json_object(&c, j, "", "population", true, &pop)) return err->status;
    static const char *const k_pop[] = {"file", "synthesize", NULL};
    if (civ_json_check_keys(&c, pop, "population", k_pop)) return err->status;
    const char *pfile = NULL;
    if (civ_json_string(&c, pop, "population", "file", false, &pfile) ||
        civ_json_object(&c, pop, "population", "synthesize", false, &syn))
        return err->status;
    if (!pfile == !syn)
        return civ_fail(err, CIV_ERR_INPUT, "%s: field 'population' needs exactly one of 'file' or 'synthesize' "
                        "(a counterfactual replacing its base's population sets the other one to null)", path);
    /* from --population the loader's own message names the file given on the command line */
    if (pfile && !(ov && ov->population) && civ_study_need_input(&c, "population.file", pfile, false)) return err->status;
    s->population_file = xstrdup(pfile);
    s->scale = 1.0; s->laus_year = 2020; s->laus_month = 2; s->population_seed = 1;
    if (syn) {
        static const char *const k_syn[] = {"data_dir", "scale", "seed", "employment_reference", NULL};
        const char *dd = NULL, *ref = NULL;
        long pseed = 1;
        if (civ_json_check_keys(&c, syn, "population.synthesize", k_syn) ||
            civ_json_string(&c, syn, "population.synthesize", "data_dir", true, &dd) ||
            civ_json_number(&c, syn, "population.synthesize", "scale", CIV_MIN_SCALE, 1, false, &s->scale) ||
            civ_json_int(&c, syn, "population.synthesize", "seed", 0, CIV_MAX_POPULATION_SEED, false, &pseed) ||
            civ_json_string(&c, syn, "population.synthesize", "employment_reference", false, &ref))
            return err->status;
        if (civ_study_need_input(&c, "population.synthesize.data_dir", dd, true)) return err->status;
        s->data_dir = strdup(dd);
        s->population_seed = (uint64_t)pseed;
        if (ref && (sscanf(ref, "%4d-%2d", &s->laus_year, &s->laus_month) != 2 || s->laus_month < 1 ||
                    s->laus_month > 12 || strlen(ref) != 7))
            return civ_fail(err, CIV_ERR_INPUT, "%s: field 'population.synthesize.employment_reference' = \"%s\" "
                            "must be a month YYYY-MM", path, ref);
    }

    /* dates, seed, steps */
    long steps = 0, seed = 0;
    if (civ_json_date(&c, j, "", "start_date", true, &s->start_day) ||
        civ_json_int(&c, j, "", "steps", 1, CIV_MAX_STEPS, true, &steps) ||
        civ_json_int(&c, j, "", "seed", 0, CIV_MAX_SEED, true, &seed))
        return err->status;
    s->steps = (int)steps;
    s->seed = (uint64_t)seed;

    const cJSON *ini = NULL;
    if (civ_json_object(&c, j, "", "initial_infections", true, &ini)) return err->status;
    static const char *const k_ini[] = {"per_100k", "note", "source", NULL};
    if (civ_json_check_keys(&c, ini, "initial_infections", k_ini) ||
        civ_json_number(&c, ini, "initial_infections", "per_100k", 0, 1e5, true, &s->initial_per_100k))
        return err->status;

    /* contacts */
    const cJSON *con = NULL, *mat = NULL, *lev = NULL;
    if (civ_json_object(&c, j, "", "contacts", true, &con)) return err->status;
    static const char *const k_con[] = {"matrices", "community", "uniform_contacts", "community_levels", "note", NULL};
    const char *community = "prem";
    if (civ_json_check_keys(&c, con, "contacts", k_con) ||
        civ_json_string(&c, con, "contacts", "community", false, &community) ||
        civ_json_object(&c, con, "contacts", "community_levels", true, &lev))
        return err->status;
    if (strcmp(community, "uniform") == 0) {
        s->uniform_community = true;
        if (civ_json_number(&c, con, "contacts", "uniform_contacts", 0, 1000, true, &s->uniform_contacts)) return err->status;
    } else if (strcmp(community, "prem") != 0) {
        return civ_fail(err, CIV_ERR_INPUT, "%s: field 'contacts.community' = \"%s\" must be \"prem\" or \"uniform\"",
                        path, community);
    }
    if (civ_json_object(&c, con, "contacts", "matrices", !s->uniform_community, &mat)) return err->status;
    if (mat) {
        static const char *const k_mat[] = {"file", "region_type", "source", NULL};
        const char *mf = NULL, *rt = "urban";
        if (civ_json_check_keys(&c, mat, "contacts.matrices", k_mat) ||
            civ_json_string(&c, mat, "contacts.matrices", "file", true, &mf) ||
            civ_json_string(&c, mat, "contacts.matrices", "region_type", false, &rt))
            return err->status;
        if (civ_study_need_input(&c, "contacts.matrices.file", mf, false)) return err->status;
        s->matrix_file = strdup(mf);
        s->region_type = strdup(rt);
        if ((st = civ_covid_load_prem(s->matrix_file, s->region_type, &s->model, err))) return st;
    }
    if (s->uniform_community) civ_covid_uniform_community(&s->model, s->uniform_contacts);
    static const char *const k_lev[] = {"tract", "borough", "city", NULL};
    double sh[CIV_N_LEVEL] = {0, 0, 0};
    if (civ_json_check_keys(&c, lev, "contacts.community_levels", k_lev) ||
        civ_json_number(&c, lev, "contacts.community_levels", "tract", 0, 1, false, &sh[0]) ||
        civ_json_number(&c, lev, "contacts.community_levels", "borough", 0, 1, false, &sh[1]) ||
        civ_json_number(&c, lev, "contacts.community_levels", "city", 0, 1, false, &sh[2]))
        return err->status;
    if (sh[0] + sh[1] + sh[2] < 0.999 || sh[0] + sh[1] + sh[2] > 1.001)
        return civ_fail(err, CIV_ERR_INPUT, "%s: field 'contacts.community_levels' shares must sum to 1, got %g",
                        path, sh[0] + sh[1] + sh[2]);
    for (int l = 0; l < CIV_N_LEVEL; l++) s->model.level_share[l] = (float)sh[l];

    /* behaviour */
    const cJSON *beh = NULL, *arch = NULL;
    if (civ_json_object(&c, j, "", "behavior", true, &beh)) return err->status;
    static const char *const k_beh[] = {"mode", "refresh_days", "archetypes", "heuristic", "llm", "mobility", "note", NULL};
    const char *mode = NULL;
    long refresh = 7;
    if (civ_json_check_keys(&c, beh, "behavior", k_beh) ||
        civ_json_string(&c, beh, "behavior", "mode", false, &mode) ||
        civ_json_int(&c, beh, "behavior", "refresh_days", 1, 365, false, &refresh) ||
        read_llm(&c, beh, mode, ov, s))
        return err->status;
    if (s->behavior_mode == CIV_BEHAVIOR_HEURISTIC && !mode && !(ov && ov->llm_mode) && !ov_quiet(ov))
        fprintf(stderr, "civitas: notice: no LLM endpoint configured (behavior.llm.base_url): behaviour comes from the heuristic decision tables\n");
    s->refresh_days = (int)refresh;
    s->n_arch_bands = 6;
    static const int default_arch[6] = {0, 20, 30, 40, 50, 65};
    memcpy(s->arch_band_edges, default_arch, sizeof default_arch);
    s->arch_by_sex = s->arch_by_borough = true;
    s->arch_by_employment = s->arch_by_children = false;
    if (civ_json_object(&c, beh, "behavior", "archetypes", false, &arch)) return err->status;
    if (arch) {
        static const char *const k_arch[] = {"age_bands", "sex", "borough", "employment", "household_children", NULL};
        if (civ_json_check_keys(&c, arch, "behavior.archetypes", k_arch) ||
            read_bands(&c, arch, "behavior.archetypes", "age_bands", &s->n_arch_bands, s->arch_band_edges) ||
            civ_json_bool(&c, arch, "behavior.archetypes", "sex", false, &s->arch_by_sex) ||
            civ_json_bool(&c, arch, "behavior.archetypes", "borough", false, &s->arch_by_borough) ||
            civ_json_bool(&c, arch, "behavior.archetypes", "employment", false, &s->arch_by_employment) ||
            civ_json_bool(&c, arch, "behavior.archetypes", "household_children", false, &s->arch_by_children))
            return err->status;
    }
    static const char *const rule_names[CIV_N_DECISION] = {"isolate_if_symptomatic", "go_to_work", "comply_isolation"};
    static const double rule_defaults[CIV_N_DECISION] = {0.3, 1.0, 0.6};
    for (int d = 0; d < CIV_N_DECISION; d++) {
        civ_rule *r = &s->rules[d];
        for (int i = 0; i < CIV_MAX_BANDS; i++) r->base[i] = rule_defaults[d];
        r->case_sensitivity = 0; r->min = 0; r->max = 1;
        if (read_rule(&c, beh, rule_names[d], r, s->n_arch_bands)) return err->status;
    }
    if (beh) {
        const cJSON *h = child((cJSON *)beh, "heuristic");
        static const char *const k_h[] = {"isolate_if_symptomatic", "go_to_work", "comply_isolation", NULL};
        if (h && civ_json_check_keys(&c, h, "behavior.heuristic", k_h)) return err->status;
    }

    /* testing and isolation baseline */
    const cJSON *te = NULL;
    if (civ_json_object(&c, j, "", "testing", true, &te)) return err->status;
    static const char *const k_te[] = {"seek_probability", "seek_scale", "result_delay_days", "capacity_per_100k",
                                       "capacity_file", "access_file", "access_window_days", "other_seekers_per_100k",
                                       "screening_targeting", "isolation_days", "note", "source", NULL};
    double seek = 0;
    long delay = 2, iso_days = 10;
    s->seek_scale = 1.0;
    s->screening_targeting = 1.0;
    s->beta_after_stay_at_home = -1;
    const cJSON *tr = NULL;
    if (civ_json_object(&c, j, "", "transmission", false, &tr)) return err->status;
    if (tr) {
        static const char *const k_tr[] = {"after_stay_at_home", "note", "source", NULL};
        if (civ_json_check_keys(&c, tr, "transmission", k_tr) ||
            civ_json_number(&c, tr, "transmission", "after_stay_at_home", 0, 100, false, &s->beta_after_stay_at_home))
            return err->status;
    }
    if (civ_json_check_keys(&c, te, "testing", k_te) ||
        civ_json_number(&c, te, "testing", "seek_probability", 0, 1, true, &seek) ||
        civ_json_int(&c, te, "testing", "result_delay_days", 0, 30, false, &delay) ||
        civ_json_number(&c, te, "testing", "capacity_per_100k", 0, 1e5, false, &s->test_capacity_per_100k) ||
        civ_json_number(&c, te, "testing", "seek_scale", 0, 100, false, &s->seek_scale) ||
        civ_json_number(&c, te, "testing", "other_seekers_per_100k", 0, 1e5, false, &s->other_seekers_per_100k) ||
        civ_json_number(&c, te, "testing", "screening_targeting", 0, 1000, false, &s->screening_targeting) ||
        civ_json_int(&c, te, "testing", "isolation_days", 0, 60, false, &iso_days))
        return err->status;

    const cJSON *em = NULL;
    double layoff = 0, rehire = 0;
    if (civ_json_object(&c, j, "", "employment", true, &em)) return err->status;
    static const char *const k_em[] = {"layoff_daily_probability", "rehire_daily_probability", "note", "source", NULL};
    if (civ_json_check_keys(&c, em, "employment", k_em) ||
        civ_json_number(&c, em, "employment", "layoff_daily_probability", 0, 1, true, &layoff) ||
        civ_json_number(&c, em, "employment", "rehire_daily_probability", 0, 1, true, &rehire))
        return err->status;

    civ_policy *bp = &s->base_policy;
    bp->beta = (float)beta;
    for (int b = 0; b < CIV_NBOROUGH; b++) bp->community_factor[b] = bp->work_attendance[b] = 1.0f;
    bp->community_order = 1.0f;
    for (int b = 0; b < CIV_NBOROUGH; b++) { bp->older_kept_q[b] = CIV_FIXED_ONE; bp->older_kept[b] = 1.0f; }
    bp->older_age = CIV_MAX_AGE + 1;
    bp->schools_closed = 0; bp->work_closed = 0; bp->essential_share = 1.0f;
    bp->test_seek_probability = (float)seek;
    bp->test_capacity_ratio = 1.0f;
    for (int b = 0; b < CIV_NBOROUGH; b++) bp->test_access[b] = 1.0f;
    bp->test_delay_days = (int)delay;
    bp->isolation_days = (int)iso_days;
    bp->layoff_probability = (float)layoff;
    bp->rehire_probability = (float)rehire;

    if ((st = read_interventions(&c, cJSON_GetObjectItemCaseSensitive(j, "interventions"), s))) return st;
    if (read_daily_inputs(&c, beh, te, s)) return err->status;

    /* output */
    const cJSON *out = NULL;
    if (civ_json_object(&c, j, "", "output", false, &out)) return err->status;
    static const int default_out[8] = {0, 18, 25, 35, 45, 55, 65, 75};   /* DOHMH age groups */
    s->n_out_bands = 8;
    memcpy(s->out_band_edges, default_out, sizeof default_out);
    const char *ofile = NULL;
    if (out) {
        static const char *const k_out[] = {"file", "snapshots", "age_bands", NULL};
        if (civ_json_check_keys(&c, out, "output", k_out) ||
            civ_json_string(&c, out, "output", "file", false, &ofile) ||
            read_bands(&c, out, "output", "age_bands", &s->n_out_bands, s->out_band_edges))
            return err->status;
        const cJSON *snaps = cJSON_GetObjectItemCaseSensitive(out, "snapshots");
        if (snaps) {
            if (!cJSON_IsArray(snaps) || cJSON_GetArraySize(snaps) > CIV_MAX_SNAPSHOTS)
                return civ_fail(err, CIV_ERR_INPUT, "%s: field 'output.snapshots' must be an array of at most %d dates, got %s",
                                path, CIV_MAX_SNAPSHOTS, civ_json_repr(snaps));
            int k = 0;
            for (const cJSON *e = snaps->child; e; e = e->next, k++) {
                int d;
                if (!cJSON_IsString(e) || !civ_date_parse(e->valuestring, &d))
                    return civ_fail(err, CIV_ERR_INPUT, "%s: field 'output.snapshots[%d]' = %s is not a date YYYY-MM-DD",
                                    path, k, civ_json_repr(e));
                int stp = d - s->start_day;
                int last = s->steps > file_steps ? s->steps : file_steps;
                if (stp < 0 || stp >= last) {
                    char a[11], b[11];
                    civ_date_format(s->start_day, a);
                    civ_date_format(s->start_day + last - 1, b);
                    return civ_fail(err, CIV_ERR_INPUT, "%s: field 'output.snapshots[%d]' = \"%s\" is outside the simulated dates %s to %s",
                                    path, k, e->valuestring, a, b);
                }
                s->snapshot_steps[s->n_snapshots++] = stp;
            }
        }
    }
    if (ofile) s->output_file = strdup(ofile);
    else {
        size_t n = strlen(s->name) + 4;
        s->output_file = civ_xmalloc(n);
        snprintf(s->output_file, n, "%s.h5", s->name);
    }
    const cJSON *obs = NULL;
    if (civ_json_object(&c, j, "", "observed", false, &obs)) return err->status;
    if (obs) {
        static const char *const k_obs[] = {"file", NULL};
        const char *of = NULL;
        if (civ_json_check_keys(&c, obs, "observed", k_obs) || civ_json_string(&c, obs, "observed", "file", true, &of))
            return err->status;
        if (civ_study_need_input(&c, "observed.file", of, false)) return err->status;
        s->observed_file = strdup(of);
    }
    /* calibration: read by civitas calibrate (host/workflows/calibrate_spec.c); posterior: by ensembles */
    const cJSON *cal = NULL;
    const char *post = NULL;
    if (civ_json_object(&c, j, "", "calibration", false, &cal) || civ_json_string(&c, j, "", "posterior", false, &post))
        return err->status;
    if (post) {
        if (civ_study_need_input(&c, "posterior", post, false)) return err->status;
        s->posterior_file = strdup(post);
    }
    return CIV_OK;
}

char *civ_study_resolved_json(const civ_study *s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *study = cJSON_Duplicate(s->resolved, 1);
    civ_study_relativize_inputs(study, s->study_file);   /* relative to the study file, as it names them */
    cJSON_AddItemToObject(root, "study", study);
    cJSON_AddItemToObject(root, "model", cJSON_Duplicate(s->model_json, 1));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

void civ_study_free(civ_study *s)
{
    free(s->study_file); free(s->name); free(s->model_file);
    if (s->resolved) cJSON_Delete(s->resolved);
    if (s->model_json) cJSON_Delete(s->model_json);
    free(s->population_file); free(s->data_dir); free(s->matrix_file); free(s->region_type);
    free(s->iv); free(s->output_file); free(s->observed_file); free(s->posterior_file);
    civ_mobility_free(&s->mobility);
    civ_test_capacity_free(&s->test_capacity);
    civ_test_access_free(&s->test_access);
    civ_llm_settings *L = &s->llm;
    free(L->base_url); free(L->model); free(L->api_key_env); free(L->system_prompt_file); free(L->user_prompt_file);
    free(L->cache_file); free(L->replay_file); free(L->system_prompt); free(L->user_prompt);
    memset(s, 0, sizeof *s);
}
