/* Numeric fields of a JSON document named by a path such as "parameters.beta",
 * "testing.seek_scale" or "interventions[3].factor": object keys separated by '.',
 * each optionally followed by array indices. Calibration names its free
 * parameters this way, and ensembles set a posterior draw through it, so any
 * numeric field a study accepts can be fitted without code for that field. */
#ifndef CIV_JSON_PATH_H
#define CIV_JSON_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

/* Whether `path` is well formed; if not, the reason in why. */
bool civ_json_path_valid(const char *path, char *why, size_t why_len);

/* The value at `path`, or NULL when some part of it is missing. */
const cJSON *civ_json_path_get(const cJSON *root, const char *path);

/* Sets the number at `path`, creating missing objects along the way (array elements must exist).
 * Fails, with the reason in why, when the path is malformed, crosses a value that is not an object
 * or array, indexes past an array's end, or ends at a value that is neither a number nor absent. */
bool civ_json_path_set(cJSON *root, const char *path, double value, char *why, size_t why_len);

/* The first key of `path` ("parameters" for "parameters.beta"), into buf. */
void civ_json_path_head(const char *path, char *buf, size_t len);

#endif
