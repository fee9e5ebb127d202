/* The two matrix products of community mixing on the GPU, as cuBLAS DGEMM
 * shapes (column-major, as cuBLAS reads them). Plain C: the CUDA backend
 * passes these to cublasDgemm, and tests/test_mixing.c runs a reference
 * column-major GEMM with the same shapes on the CPU backend's data, so the
 * layout is checked where no GPU is present.
 *
 *   level sums  L (16 x 6)  = S (16 x tracts) . M (tracts x 6)
 *     S: tract sums as doubles, row-major [tract][band] (= column-major 16 x tracts)
 *     M: membership [level][tract] (= column-major tracts x 6); levels 0-4 are
 *        the boroughs, level 5 (all ones) the city
 *     L: [level][band]
 *   mixing      P (16 x tracts) = Cq^T(op) . RQ (16 x tracts)
 *     Cq: quantized contact matrix, row-major [contactor a][band k], read transposed
 *     RQ: quantized rates, row-major [tract][band k]
 *     P:  fixed-point pressure, row-major [tract][contactor a]
 * All entries are integers below 2^53 (see covid_step.h), so the products are
 * exact in double whatever order cuBLAS sums in. */
#ifndef CIV_MIXING_GEMM_H
#define CIV_MIXING_GEMM_H

#include <stdint.h>

#include "models/covid/covid_step.h"

typedef struct {
    int trans_a, trans_b;   /* 1: op(X) = X^T */
    int m, n, k, lda, ldb, ldc;
} civ_gemm_shape;

static inline civ_gemm_shape civ_level_sum_gemm(uint32_t n_tracts)
{
    civ_gemm_shape s;
    s.trans_a = 0; s.trans_b = 0;
    s.m = CIV_N_PREM; s.n = CIV_N_LEVEL_SUMS; s.k = (int)n_tracts;
    s.lda = CIV_N_PREM; s.ldb = (int)n_tracts; s.ldc = CIV_N_PREM;
    return s;
}

static inline civ_gemm_shape civ_mix_gemm(uint32_t n_tracts)
{
    civ_gemm_shape s;
    s.trans_a = 1; s.trans_b = 0;
    s.m = CIV_N_PREM; s.n = (int)n_tracts; s.k = CIV_N_PREM;
    s.lda = CIV_N_PREM; s.ldb = CIV_N_PREM; s.ldc = CIV_N_PREM;
    return s;
}

#endif
