/* Counter-based random streams for calibration: Philox keyed by the calibration seed, the counter
 * holding (particle, generation, purpose, block), so every draw of a particle is a pure function of
 * (calibration seed, generation, particle) whatever the rank or thread that makes it. */
#ifndef CIV_CALIBRATE_RNG_H
#define CIV_CALIBRATE_RNG_H

#include <math.h>
#include <stdint.h>

#include "host/core/philox.h"

typedef struct {
    uint64_t seed;
    uint32_t particle, generation, block;
    civ_u32x4 buf;
    int used;            /* 32-bit words of buf already handed out (4: empty) */
} civ_cal_rng;

static inline civ_cal_rng civ_cal_rng_at(uint64_t seed, uint32_t generation, uint32_t particle)
{
    civ_cal_rng r = {seed, particle, generation, 0, {{0, 0, 0, 0}}, 4};
    return r;
}

static inline uint32_t civ_cal_rng_u32(civ_cal_rng *r)
{
    if (r->used == 4) {
        civ_u32x4 ctr = {{r->particle, r->generation, CIV_RNG_CALIBRATION, r->block++}};
        r->buf = civ_philox4x32_10(ctr, (uint32_t)r->seed, (uint32_t)(r->seed >> 32));
        r->used = 0;
    }
    return r->buf.v[r->used++];
}

/* uniform in (0, 1) with 53 bits, never exactly 0 */
static inline double civ_cal_rng_uniform(civ_cal_rng *r)
{
    uint32_t a = civ_cal_rng_u32(r) >> 5, b = civ_cal_rng_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b + 0.5) * (1.0 / 9007199254740992.0);
}

/* standard normal (Box-Muller, one of the pair) */
static inline double civ_cal_rng_normal(civ_cal_rng *r)
{
    double u = civ_cal_rng_uniform(r), v = civ_cal_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
