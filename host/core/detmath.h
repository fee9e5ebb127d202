/* Deterministic float math for rule code: only +, -, *, / and exact scaling,
 * evaluated in a fixed order, so gcc (-ffp-contract=off) and nvcc
 * (--fmad=false) give bit-identical results. Library expf differs between
 * glibc and CUDA's libdevice in the last ulp, which would break parity. */
#ifndef CIV_DETMATH_H
#define CIV_DETMATH_H

#include "host/core/portable.h"
#include <math.h>

/* exp(x) for x <= 0 (relative error < 2e-7 on [-87, 0]; 0 below -87). */
CIV_INLINE float civ_exp_neg(float x)
{
    if (x < -87.0f) return 0.0f;
    if (x > 0.0f) x = 0.0f;
    /* x = k*ln2 + r, |r| <= ln2/2 */
    float kf = x * 1.44269504f;
    int k = (int)floorf(kf + 0.5f);     /* nearest integer; floorf is exact */
    float r = x - (float)k * 0.693145752f;
    r = r - (float)k * 1.42860677e-6f;
    /* Taylor to degree 7 around 0, Horner form */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* multiply by 2^k exactly through the exponent bits */
    int e = k + 127;
    if (e <= 0) return 0.0f;
    union { uint32_t u; float f; } s;
    s.u = (uint32_t)e << 23;
    return p * s.f;
}

/* floor(log2(x)) for x > 0, read from the exponent bits (subnormals count as
 * 2^-127); the same integer on every backend. */
CIV_INLINE int civ_float_exponent(float x)
{
    union { float f; uint32_t u; } b;
    b.f = x;
    return (int)((b.u >> 23) & 0xFFu) - 127;
}

/* 2^e as a double, exactly, for -1022 <= e <= 1023 (built from the bits). */
CIV_INLINE double civ_pow2(int e)
{
    union { uint64_t u; double d; } b;
    b.u = (uint64_t)(e + 1023) << 52;
    return b.d;
}

/* Probability of at least one event for a Poisson hazard x >= 0. */
CIV_INLINE float civ_hazard_to_prob(float x) { return 1.0f - civ_exp_neg(-x); }

#endif
