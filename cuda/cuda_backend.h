/* C interface of the CUDA backend. */
#ifndef CIV_CUDA_BACKEND_H
#define CIV_CUDA_BACKEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices; 0 with a reason in `why` when none. */
int civ_cuda_device_count(char *name, size_t name_len, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif
