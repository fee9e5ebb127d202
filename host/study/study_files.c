/* Study files on disk: paths relative to the file that names them, input files that must exist, the
 * chain of 'base' studies merged into one JSON document (JSON merge patch), and the command line's
 * overrides applied to it. */
#include "host/study/study_files.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/util/file.h"
#include "host/util/json_path.h"

#define MAX_BASE_DEPTH 8

char *civ_study_dir_of(const char *path)
{
    char *copy = strdup(path);
    char *d = strdup(dirname(copy));
    free(copy);
    return d;
}

char *civ_study_join_path(const char *dir, const char *p)
{
    if (p[0] == '/') return strdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *out = civ_xmalloc(n);
    snprintf(out, n, "%s/%s", dir, p);
    return out;
}

/* realpath of a file that may not exist yet (an output): its folder resolved, its name appended */
static char *resolve(const char *target)
{
    char *abs = realpath(target, NULL);
    if (abs) return abs;
    char *copy = strdup(target), *copy2 = strdup(target);
    char *dir = realpath(dirname(copy), NULL);
    const char *name = basename(copy2);
    if (dir) {
        size_t len = strlen(dir) + strlen(name) + 2;
        abs = civ_xmalloc(len);
        snprintf(abs, len, "%s/%s", dir, name);
    }
    free(dir);
    free(copy);
    free(copy2);
    return abs;
}

void civ_path_relative(const char *target, const char *from_dir, char *out, size_t n)
{
    char *abs = resolve(target), *dir = realpath(from_dir, NULL);
    if (!dir || !abs) {   /* not on disk: as given, or its name alone rather than a path of this machine */
        const char *slash = strrchr(target, '/');
        snprintf(out, n, "%s", target[0] == '/' && slash ? slash + 1 : target);
        free(dir);
        free(abs);
        return;
    }
    size_t common = 0, k = 0;
    while (dir[k] && abs[k] && dir[k] == abs[k]) { if (dir[k] == '/') common = k; k++; }
    if (!dir[k] && (abs[k] == '/' || !abs[k])) common = k;
    out[0] = 0;
    for (const char *q = dir + common; *q; q++) if (*q == '/') strncat(out, "../", n - strlen(out) - 1);
    strncat(out, abs[common] ? abs + common + 1 : ".", n - strlen(out) - 1);
    free(dir);
    free(abs);
}

static char *relative_to(const char *dir, const char *p)
{
    char buf[4096];
    civ_path_relative(p, dir, buf, sizeof buf);
    return strdup(buf);
}

static char *file_name(const char *dir, const char *p)
{
    (void)dir;
    const char *slash = strrchr(p, '/');
    return strdup(slash ? slash + 1 : p);
}

/* Replaces a string field at obj.key by fix(dir, value) (if present and a string). */
static void fix_path(cJSON *obj, const char *key, const char *dir, char *(*fix)(const char *, const char *))
{
    cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!cJSON_IsString(v) || !v->valuestring[0]) return;
    char *p = fix(dir, v->valuestring);
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(p));
    free(p);
}

static cJSON *child(cJSON *o, const char *k) { return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL; }

/* Every input path a study names, rewritten by fix(dir, path). */
static void fix_inputs(cJSON *j, const char *dir, char *(*fix)(const char *, const char *))
{
    fix_path(j, "model", dir, fix);
    cJSON *pop = child(j, "population");
    fix_path(pop, "file", dir, fix);
    fix_path(child(pop, "synthesize"), "data_dir", dir, fix);
    fix_path(child(child(j, "contacts"), "matrices"), "file", dir, fix);
    fix_path(child(j, "observed"), "file", dir, fix);
    fix_path(child(j, "testing"), "capacity_file", dir, fix);
    fix_path(child(j, "testing"), "access_file", dir, fix);
    fix_path(child(child(j, "behavior"), "mobility"), "file", dir, fix);
    fix_path(j, "posterior", dir, fix);
    fix_path(child(child(j, "calibration"), "deaths_by_age"), "file", dir, fix);
    cJSON *llm = child(child(j, "behavior"), "llm");
    fix_path(llm, "system_prompt", dir, fix);
    fix_path(llm, "user_prompt", dir, fix);
    fix_path(llm, "cache", dir, fix);
    fix_path(llm, "replay", dir, fix);
}

/* Input paths in a study are relative to the file that names them. */
static void absolutize_inputs(cJSON *j, const char *dir)
{
    fix_inputs(j, dir, civ_study_join_path);
}

void civ_study_relativize_inputs(cJSON *j, const char *study_file)
{
    char *dir = civ_study_dir_of(study_file);
    fix_inputs(j, dir, relative_to);
    fix_path(child(j, "output"), "file", dir, file_name);   /* the file that records it: its name */
    free(dir);
}

void civ_study_recorded_name(const char *study_file, char *out, size_t n)
{
    const char *slash = strrchr(study_file, '/');
    snprintf(out, n, "%s", study_file[0] == '/' && slash ? slash + 1 : study_file);
}

/* An input named by a study field must exist and be readable (a directory when want_dir), so the
 * error names the field rather than only the resolved path. */
civ_status civ_study_need_input(const civ_jctx *c, const char *field, const char *path, bool want_dir)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || access(path, R_OK) != 0)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\": cannot open: %m", c->file, field, path);
    if (want_dir != (S_ISDIR(sb.st_mode) != 0))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\": %s", c->file, field, path,
                        want_dir ? "not a directory (expected the data directory)" : "is a directory, expected a file");
    if (!want_dir && !S_ISREG(sb.st_mode))   /* a FIFO would block the reader, a device never end */
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\": is %s, not a regular file", c->file, field, path,
                        civ_file_kind(sb.st_mode));
    if (!want_dir) civ_input_note(path);
    return CIV_OK;
}

/* A text file named by a study field, trailing newlines and spaces cut; NULL with the error set. */
char *civ_study_read_text(const civ_jctx *c, const char *field, const char *path)
{
    if (civ_study_need_input(c, field, path, false)) return NULL;
    size_t got;
    char *buf = civ_read_input(path, "text file", CIV_MAX_TEXT_BYTES, &got, c->err);
    if (!buf) return NULL;
    while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' ')) buf[--got] = 0;
    return buf;
}

/* The chain of files from `path` down its 'base' links, top first, each with its input paths made
 * absolute and its 'base' removed. */
static civ_status read_chain(const char *path, cJSON **layers, int *n, civ_error *err)
{
    *n = 0;
    char *cur = strdup(path);
    civ_status st = CIV_OK;
    while (cur && !st) {
        if (*n > MAX_BASE_DEPTH) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: 'base' chain deeper than %d files (a cycle?)", path, MAX_BASE_DEPTH);
            break;
        }
        cJSON *j = NULL;
        if ((st = civ_json_load(cur, &j, err))) break;
        char *dir = civ_study_dir_of(cur);
        absolutize_inputs(j, dir);
        layers[(*n)++] = j;
        cJSON *base = cJSON_GetObjectItemCaseSensitive(j, "base");
        char *next = NULL;
        if (base) {
            const civ_jctx c = {cur, err};
            if (!cJSON_IsString(base) || !base->valuestring[0])
                st = civ_fail(err, CIV_ERR_INPUT, "%s: field 'base' must name a study file, got %s", cur, civ_json_repr(base));
            else if (!(st = civ_study_need_input(&c, "base", next = civ_study_join_path(dir, base->valuestring), false)))
                cJSON_DeleteItemFromObjectCaseSensitive(j, "base");
        }
        free(dir);
        free(cur);
        cur = st ? (free(next), NULL) : next;
    }
    free(cur);
    if (st) {
        for (int i = 0; i < *n; i++) cJSON_Delete(layers[i]);
        *n = 0;
    }
    return st;
}

static civ_status set_values(cJSON *j, const civ_study_values *v, const char *file, civ_error *err)
{
    for (int k = 0; k < v->n; k++) {
        char why[256];
        if (!civ_json_path_set(j, v->paths[k], v->values[k], why, sizeof why))
            return civ_fail(err, CIV_ERR_INPUT, "%s: cannot set '%s' = %.17g (from %s): %s", file, v->paths[k], v->values[k],
                            v->origin ? v->origin : "the command line", why);
    }
    return CIV_OK;
}

/* Short description of intervention `e` for notices: its id, else its type and date. */
static void describe_intervention(const cJSON *e, char *buf, size_t len)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *type = cJSON_GetObjectItemCaseSensitive(e, "type"),
                *date = cJSON_GetObjectItemCaseSensitive(e, "date");
    if (cJSON_IsString(id)) snprintf(buf, len, "%s", id->valuestring);
    else snprintf(buf, len, "%s %s", cJSON_IsString(type) ? type->valuestring : "?",
                  cJSON_IsString(date) ? date->valuestring : "?");
}

/* The index of the intervention with this id in `list`, or -1. */
static int find_intervention(const cJSON *list, const char *id)
{
    int k = 0;
    for (const cJSON *e = list ? list->child : NULL; e; e = e->next, k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0) return k;
    }
    return -1;
}

/* A counterfactual's "interventions" against its base's list: an object {"remove": [ids], "replace": [...],
 * "add": [...]} edits the list by id (every id named must exist, added ids must be new); an array replaces
 * the whole list (JSON merge patch), with a notice naming what the base had. */
static civ_status merge_interventions(cJSON *base, cJSON *layer, const char *file, bool quiet, civ_error *err)
{
    cJSON *edit = cJSON_GetObjectItemCaseSensitive(layer, "interventions");
    cJSON *list = cJSON_GetObjectItemCaseSensitive(base, "interventions");
    if (cJSON_IsArray(edit) && cJSON_IsArray(list) && cJSON_GetArraySize(list) > 0 && !quiet) {
        char names[1024] = "", one[128];
        for (const cJSON *e = list->child; e; e = e->next) {
            describe_intervention(e, one, sizeof one);
            if (strlen(names) + strlen(one) + 3 < sizeof names) {
                if (names[0]) strcat(names, ", ");
                strcat(names, one);
            }
        }
        fprintf(stderr, "civitas: notice: %s: 'interventions' replaces the base's whole list (%d: %s); to change some "
                "of them, give {\"remove\": [ids], \"replace\": [...], \"add\": [...]}\n", file,
                cJSON_GetArraySize(list), names);
    }
    if (!cJSON_IsObject(edit)) return CIV_OK;
    static const char *const keys[] = {"remove", "replace", "add", "note", NULL};
    for (const cJSON *k = edit->child; k; k = k->next) {
        int known = 0;
        for (int i = 0; keys[i]; i++) known |= strcmp(k->string, keys[i]) == 0;
        if (!known)
            return civ_fail(err, CIV_ERR_INPUT, "%s: unknown key 'interventions.%s' (allowed here: remove, replace, add, "
                            "note)", file, k->string);
        if (strcmp(k->string, "note") && !cJSON_IsArray(k))
            return civ_fail(err, CIV_ERR_INPUT, "%s: field 'interventions.%s' must be an array, got %s", file, k->string,
                            civ_json_repr(k));
    }
    if (!cJSON_IsArray(list)) {
        cJSON_DeleteItemFromObjectCaseSensitive(base, "interventions");
        cJSON_AddItemToObject(base, "interventions", list = cJSON_CreateArray());
    }
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(edit, "remove");
    int k = 0;
    for (const cJSON *id = rm ? rm->child : NULL; id; id = id->next, k++) {
        int at = cJSON_IsString(id) ? find_intervention(list, id->valuestring) : -1;
        if (at < 0)
            return civ_fail(err, CIV_ERR_INPUT, "%s: field 'interventions.remove[%d]' = %s: the base has no intervention "
                            "with that id", file, k, civ_json_repr(id));
        cJSON_DeleteItemFromArray(list, at);
    }
    for (int pass = 0; pass < 2; pass++) {   /* replace, then add */
        const char *key = pass ? "add" : "replace";
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(edit, key);
        k = 0;
        for (const cJSON *e = items ? items->child : NULL; e; e = e->next, k++) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            if (!cJSON_IsString(id) && !pass)
                return civ_fail(err, CIV_ERR_INPUT, "%s: field 'interventions.replace[%d]' needs an 'id' naming the "
                                "base's intervention it replaces", file, k);
            const int at = cJSON_IsString(id) ? find_intervention(list, id->valuestring) : -1;
            if (!pass && at < 0)
                return civ_fail(err, CIV_ERR_INPUT, "%s: field 'interventions.replace[%d].id' = %s: the base has no "
                                "intervention with that id", file, k, civ_json_repr(id));
            if (pass && at >= 0)
                return civ_fail(err, CIV_ERR_INPUT, "%s: field 'interventions.add[%d].id' = %s: the base already has an "
                                "intervention with that id (use replace)", file, k, civ_json_repr(id));
            if (pass) cJSON_AddItemToArray(list, cJSON_Duplicate(e, 1));
            else cJSON_ReplaceItemInArray(list, at, cJSON_Duplicate(e, 1));
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(layer, "interventions");
    return CIV_OK;
}

civ_status civ_study_read_merged(const char *path, const civ_study_values *values, bool quiet, cJSON **out,
                                 civ_error *err)
{
    cJSON *layers[MAX_BASE_DEPTH + 2];
    int n;
    civ_status st = read_chain(path, layers, &n, err);
    if (st) return st;
    /* the values go right after the topmost file naming the posterior, or on top */
    int at = -1;
    if (values && values->at_posterior_layer)
        for (int i = n - 1; i >= 0; i--)
            if (cJSON_GetObjectItemCaseSensitive(layers[i], "posterior")) at = i;
    cJSON *j = layers[n - 1];
    for (int i = n - 1; i >= 0 && !st; i--) {
        if (i < n - 1 && !(st = merge_interventions(j, layers[i], path, quiet, err))) civ_json_merge_patch(j, layers[i]);
        if (values && i == (at >= 0 ? at : 0)) st = set_values(j, values, path, err);
    }
    for (int i = 0; i < n - 1; i++) cJSON_Delete(layers[i]);
    if (st) { cJSON_Delete(j); return st; }
    *out = j;
    return CIV_OK;
}

/* obj.key = item, replacing or adding (cJSON's Replace leaves a missing key alone and the item unowned) */
static void set_item(cJSON *obj, const char *key, cJSON *item)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else cJSON_AddItemToObject(obj, key, item);
}

civ_status civ_study_apply_overrides(cJSON *j, const civ_study_overrides *ov, const char *file, civ_error *err)
{
    if (!ov) return CIV_OK;
    if (ov->steps >= 0) set_item(j, "steps", cJSON_CreateNumber((double)ov->steps));
    if (ov->seed >= 0) set_item(j, "seed", cJSON_CreateNumber((double)ov->seed));
    cJSON *pop = cJSON_GetObjectItemCaseSensitive(j, "population");
    if (ov->population) {
        char cwd[PATH_MAX] = ".";
        if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, ".");
        char *abs = civ_study_join_path(cwd, ov->population);
        cJSON *np = cJSON_CreateObject();
        cJSON_AddStringToObject(np, "file", abs);
        free(abs);
        set_item(j, "population", np);
        pop = np;
    }
    if (ov->scale >= 0 && cJSON_IsObject(pop)) {   /* no population at all is reported by the validation */
        cJSON *syn = child(pop, "synthesize");
        if (!syn)
            return civ_fail(err, CIV_ERR_USAGE, "--scale applies to synthesized populations, but %s loads a population file",
                            file);
        /* a malformed 'synthesize' is reported by the validation below, naming the field */
        if (cJSON_IsObject(syn)) set_item(syn, "scale", cJSON_CreateNumber(ov->scale));
    }
    if (ov->output) {
        cJSON *out = cJSON_GetObjectItemCaseSensitive(j, "output");
        if (!out) { out = cJSON_CreateObject(); cJSON_AddItemToObject(j, "output", out); }
        if (cJSON_IsObject(out)) set_item(out, "file", cJSON_CreateString(ov->output));   /* else reported below */
    }
    return CIV_OK;
}

