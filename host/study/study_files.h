/* Study files on disk (study_files.c): merging a study with its 'base' chain, resolving the paths it
 * names, the command line's overrides. For the study loader only. */
#ifndef CIV_STUDY_FILES_H
#define CIV_STUDY_FILES_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "host/study/study.h"
#include "host/util/json_util.h"

/* The study at `path` merged over its chain of 'base' studies (JSON merge patch), with every input
 * path made absolute relative to the file that names it, and `values` (may be NULL) set in it. */
civ_status civ_study_read_merged(const char *path, const civ_study_values *values, bool quiet, cJSON **out,
                                 civ_error *err);
/* --steps, --seed, --population, --scale and -o written into the merged study before validation. */
civ_status civ_study_apply_overrides(cJSON *j, const civ_study_overrides *ov, const char *file, civ_error *err);
/* An input named by a study field must exist and be readable (a directory when want_dir); the error
 * names the field. */
civ_status civ_study_need_input(const civ_jctx *c, const char *field, const char *path, bool want_dir);
/* A text file named by a study field, trailing newlines and spaces cut; NULL with the error set. */
char *civ_study_read_text(const civ_jctx *c, const char *field, const char *path);
/* The input paths of a merged study (made absolute by civ_study_read_merged) rewritten relative to the
 * folder of study_file, as output files record them. */
void civ_study_relativize_inputs(cJSON *j, const char *study_file);
/* The folder of `path`, and `p` relative to `dir` (malloc'd). */
char *civ_study_dir_of(const char *path);
char *civ_study_join_path(const char *dir, const char *p);

#endif
