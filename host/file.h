/* Whole-file reads and writes. */
#ifndef CIV_FILE_H
#define CIV_FILE_H

#include <stddef.h>

/* Reads path into a NUL-terminated malloc'd buffer (length in *len if len is
 * not NULL). NULL if it cannot be opened, with errno set for the caller's message. */
char *civ_read_file(const char *path, size_t *len);

/* Writes text to path through path.partial and a rename, so the file is either the old one or complete.
 * 0 on success; -1 with errno set (the partial file removed). */
int civ_write_file_atomic(const char *path, const char *text);

#endif
