/* Philox4x32-10 counter-based RNG (Salmon et al., SC'11), written from the
 * published algorithm. Every random draw in civitas is a pure function of
 * (seed, step, agent, purpose), so results do not depend on thread count,
 * backend or scheduling. Checked against Random123's known-answer vectors in
 * tests/test_philox.c. */
#ifndef CIV_PHILOX_H
#define CIV_PHILOX_H

#include "host/core/portable.h"

typedef struct { uint32_t v[4]; } civ_u32x4;

#define CIV_PHILOX_M0 0xD2511F53u
#define CIV_PHILOX_M1 0xCD9E8D57u
#define CIV_PHILOX_W0 0x9E3779B9u
#define CIV_PHILOX_W1 0xBB67AE85u

CIV_INLINE uint32_t civ_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi)
{
#if defined(__CUDA_ARCH__)
    /* the high word in one instruction instead of a 64-bit product (fewer registers in the kernels) */
    *hi = __umulhi(a, b);
    return a * b;
#else
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
#endif
}

CIV_INLINE civ_u32x4 civ_philox4x32_10(civ_u32x4 ctr, uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += CIV_PHILOX_W0; k1 += CIV_PHILOX_W1; }
        uint32_t hi0, hi1;
        uint32_t lo0 = civ_mulhilo32(CIV_PHILOX_M0, ctr.v[0], &hi0);
        uint32_t lo1 = civ_mulhilo32(CIV_PHILOX_M1, ctr.v[2], &hi1);
        civ_u32x4 out;
        out.v[0] = hi1 ^ ctr.v[1] ^ k0;
        out.v[1] = lo1;
        out.v[2] = hi0 ^ ctr.v[3] ^ k1;
        out.v[3] = lo0;
        ctr = out;
    }
    return ctr;
}

/* What a draw is for: part of the counter, so two purposes never share bits. */
enum civ_rng_purpose {
    CIV_RNG_INFECT = 1,     /* transmission Bernoulli */
    CIV_RNG_COURSE,         /* severity and durations at infection */
    CIV_RNG_PROGRESS,       /* draws at later stage transitions */
    CIV_RNG_TEST,           /* test seeking, capacity, sensitivity */
    CIV_RNG_BEHAVIOUR,      /* isolation decisions */
    CIV_RNG_WORK,           /* daily go-to-work decision */
    CIV_RNG_ESSENTIAL,      /* fixed per-agent essential-worker rank */
    CIV_RNG_EMPLOYMENT,     /* layoffs and rehiring */
    CIV_RNG_SEED_INFECTION, /* choice of initially infected agents */
    CIV_RNG_SYNTH,          /* population synthesis */
    CIV_RNG_CALIBRATION,    /* calibration: prior draws, resampling, perturbations (keyed by the calibration seed) */
    CIV_RNG_POSTERIOR_DRAW  /* an ensemble run's parameter set from a posterior (keyed by the study seed) */
};

/* One block of four 32-bit words for (seed, step, agent, purpose). */
CIV_INLINE civ_u32x4 civ_rng(uint64_t seed, uint32_t step, uint32_t agent, uint32_t purpose)
{
    civ_u32x4 ctr;
    ctr.v[0] = agent; ctr.v[1] = step; ctr.v[2] = purpose; ctr.v[3] = 0;
    return civ_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* Uniform in [0,1) with 24 bits: exact in float, identical on CPU and GPU. */
CIV_INLINE float civ_u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

#endif
