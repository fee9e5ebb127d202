/* Checks on the text of a JSON document that cJSON has parsed: no key twice in one object, no \u0000
 * escape, no number beyond a double's range, no NUL byte. Errors give line, column and field path. */
#ifndef CIV_JSON_STRICT_H
#define CIV_JSON_STRICT_H

#include <stddef.h>

#include "host/util/error.h"

/* text: len bytes of JSON that cJSON accepted (and a NUL after them); file names it in messages. */
civ_status civ_json_check_strict(const char *file, const char *text, size_t len, civ_error *err);

#endif
