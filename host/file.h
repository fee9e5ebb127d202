/* Whole-file reads. */
#ifndef CIV_FILE_H
#define CIV_FILE_H

#include <stddef.h>

/* Reads path into a NUL-terminated malloc'd buffer (length in *len if len is
 * not NULL). NULL if it cannot be opened, with errno set for the caller's message. */
char *civ_read_file(const char *path, size_t *len);

#endif
