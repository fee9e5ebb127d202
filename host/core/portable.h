/* Host/device portability for rule code shared by the CPU (gcc) and CUDA (nvcc)
 * backends. Headers that include this must stay in the common subset of C11
 * and C++17: no VLAs, no implicit void* conversions, no compound literals. */
#ifndef CIV_PORTABLE_H
#define CIV_PORTABLE_H

#include <stdint.h>

#if defined(__CUDACC__)
#  define CIV_HD __host__ __device__
#  define CIV_RESTRICT __restrict__
#else
#  define CIV_HD
#  define CIV_RESTRICT restrict
#endif

#define CIV_INLINE static inline CIV_HD

#endif
