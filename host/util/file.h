/* Whole-file reads and writes. */
#ifndef CIV_FILE_H
#define CIV_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Reads path into a NUL-terminated malloc'd buffer (length in *len if len is
 * not NULL). NULL if it cannot be opened, with errno set for the caller's message. */
char *civ_read_file(const char *path, size_t *len);

/* Text outputs that appear whole or not at all: written to "<path>.partial" (its name into tmp), then
 * renamed into place. civ_partial_open: NULL with errno set if it cannot be created (or tmp is too short).
 * civ_partial_commit: closes and renames; 0 on success, -1 with errno set and the partial file removed.
 * civ_partial_discard: closes and removes it (the caller gave up on the output). */
FILE *civ_partial_open(const char *path, char *tmp, size_t tmp_len);
int civ_partial_commit(FILE *f, const char *tmp, const char *path);
void civ_partial_discard(FILE *f, const char *tmp);

/* Writes text to path through civ_partial_open/commit. 0 on success; -1 with errno set. */
int civ_write_file_atomic(const char *path, const char *text);

#endif
