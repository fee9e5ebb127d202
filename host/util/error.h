/* Error reporting: functions return 0 or a civ_status and fill a civ_error
 * whose message names the file, the field and the offending value. main()
 * prints it once and maps the status to the process exit code. */
#ifndef CIV_ERROR_H
#define CIV_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CIV_OK = 0,
    CIV_ERR_RUNTIME = 1,     /* failure while running (e.g. out of memory) */
    CIV_ERR_USAGE = 2,       /* bad command line */
    CIV_ERR_INPUT = 3,       /* bad study, config, population or data file */
    CIV_ERR_IO = 4,          /* cannot read or write a file */
    CIV_ERR_UNAVAILABLE = 5, /* requested backend not available, or the LLM server rejects the configuration */
    CIV_ERR_INTERRUPTED = 130
} civ_status;

typedef struct {
    civ_status status;
    char msg[2048];
} civ_error;

/* Sets err (if not already set) and returns its status. */
civ_status civ_fail(civ_error *err, civ_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void *civ_xcalloc(size_t n, size_t size);   /* aborts with a message on OOM */
void *civ_xmalloc(size_t size);

#ifdef __cplusplus
}
#endif

#endif
