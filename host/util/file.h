/* Files in and out.
 *
 * Inputs are read only from regular files (a directory, device, FIFO or socket is refused by name, before
 * anything blocks or grows) and only up to a limit for their kind, so memory stays proportional to what
 * is kept. Every input read is remembered (device and inode), and no output may replace one.
 *
 * Outputs: one writer each. An output is written under "<path>.partial", which its writer creates and
 * locks (a second writer of the same output fails at once, naming it), and renamed into place when it
 * is complete, so a file under the output's own name is always whole; a killed writer leaves only the
 * ".partial" file, which the next writer replaces. */
#ifndef CIV_FILE_H
#define CIV_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "host/util/error.h"

/* Size limits of text inputs, by kind (README, "Files and failures"). */
#define CIV_MAX_JSON_BYTES ((size_t)4 << 20)    /* study and model files */
#define CIV_MAX_CSV_BYTES ((size_t)64 << 20)    /* data tables, posterior samples */
#define CIV_MAX_TEXT_BYTES ((size_t)1 << 20)    /* prompt templates */

/* Reads the regular file at path into a NUL-terminated malloc'd buffer (length in *len if not NULL).
 * `what` names the kind in messages ("study file"). NULL with err set (CIV_ERR_INPUT): cannot open, not a
 * regular file, or larger than limit. The file is remembered as an input. */
char *civ_read_input(const char *path, const char *what, size_t limit, size_t *len, civ_error *err);

/* For inputs other readers open (HDF5, LLM answers): fails unless path is a regular file (`what` names
 * it in the message); remembers it as an input. */
civ_status civ_check_input(const char *path, const char *what, civ_error *err);

/* Remembers a file this command will read (if it exists), so that no output replaces it. */
void civ_input_note(const char *path);

/* Checks, before long work, that path can be an output: not a directory, device or FIFO, not an input of
 * this command, in a directory that exists and is writable. CIV_ERR_IO otherwise. */
civ_status civ_output_check(const char *path, civ_error *err);

typedef struct {
    char *path, *tmp;   /* the output and its "<path>.partial" */
    int fd;             /* holds the lock on tmp; -1 when closed */
    FILE *text;         /* civ_output_text's stream over fd (it points back here: do not move o once made) */
    int write_errno;    /* the first failed write's reason */
} civ_output;

/* Claims path: civ_output_check, then creates and locks "<path>.partial" (emptied). HDF5 writers create
 * o->tmp by name; text writers use civ_output_text. */
civ_status civ_output_begin(civ_output *o, const char *path, civ_error *err);
/* A stdio stream writing o->tmp (NULL with err set). */
FILE *civ_output_text(civ_output *o, civ_error *err);
/* Makes the output whole: flushes and syncs it, renames it into place, releases it. On failure the
 * partial file is removed and err names the file and the system's reason. */
civ_status civ_output_commit(civ_output *o, civ_error *err);
/* Gives the output up: removes the partial file, releases it (nothing is left). */
void civ_output_abandon(civ_output *o);

/* civ_output_begin then civ_output_text: a stream writing path's partial file, NULL (nothing left,
 * err set) if either fails. */
FILE *civ_output_open_text(civ_output *o, const char *path, civ_error *err);

/* Writes text to path through civ_output_begin/commit. */
civ_status civ_write_file_atomic(const char *path, const char *text, civ_error *err);

/* The kind of a file that is not a regular one, for messages: "a directory", "a character device", ... */
const char *civ_file_kind(unsigned mode);

#endif
