/* Community mixing in block fixed point (models/covid/covid_step.h) and the
 * GPU's cuBLAS route to it (cuda/mixing_gemm.h), checked on the CPU:
 *   - the block exponent and quantization stay in the exact range;
 *   - the fixed-point pressure is within float accuracy of a double-precision
 *     evaluation of the unquantized product;
 *   - the two GEMM shapes the CUDA backend passes to cublasDgemm (cuda/mixing_gemm.h:
 *     operands, transposition, leading dimensions), run by a reference
 *     column-major GEMM summing in three different orders on the CPU backend's
 *     tract sums, give the CPU backend's pressure to the bit; a wrong shape
 *     (the contact matrix untransposed) does not, so the check can fail.
 * What this cannot see without a device: the CUDA kernels around the GEMMs
 * (staging the sums, the membership matrix, quantizing on the GPU). They share
 * the rate and quantization helpers with the CPU, and tests/test_gpu_parity.c
 * compares the GPU's own pressure with the CPU's, day by day, where a device exists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/mixing_gemm.h"
#include "host/engine/backend_cpu.h"
#include "host/engine/engine.h"
#include "tests/sim_fixture.h"

#define SRC CIVITAS_SOURCE_DIR

/* Column-major C = op(A) . op(B), as cublasDgemm defines it, summing over l in one of three orders:
 * forward, backward, or two interleaved halves added at the end (as a split-K kernel might). */
static void ref_dgemm(const civ_gemm_shape *s, const double *A, const double *B, double *C, int order)
{
    for (int j = 0; j < s->n; j++)
        for (int i = 0; i < s->m; i++) {
            double part[2] = {0, 0};
            for (int q = 0; q < s->k; q++) {
                int l = order == 1 ? s->k - 1 - q : q;
                double a = s->trans_a ? A[l + (size_t)i * s->lda] : A[i + (size_t)l * s->lda];
                double b = s->trans_b ? B[j + (size_t)l * s->ldb] : B[l + (size_t)j * s->ldb];
                part[order == 2 ? l & 1 : 0] += a * b;
            }
            C[i + (size_t)j * s->ldc] = part[0] + part[1];
        }
}

static uint32_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*x >> 32);
}

static void test_block_exponent(void **state)
{
    (void)state;
    uint64_t x = 42;
    const double top = 8388608.0;   /* 2^23 */
    for (int it = 0; it < 200000; it++) {
        union { uint32_t u; float f; } v;
        v.u = lcg(&x) & 0x7F7FFFFFu;   /* positive, finite (subnormals included) */
        if (v.f == 0.0f) continue;
        int s = civ_mix_shift(v.f, CIV_MIX_RATE_BITS);
        double scaled = (double)v.f * civ_pow2(s);
        assert_true(scaled < top);
        if (v.u >= 0x00800000u) assert_true(scaled >= top / 2);   /* normal: full use of the range */
        assert_true(civ_mix_quantize(v.f, civ_pow2(s)) <= (uint64_t)top);
    }
    assert_int_equal(civ_mix_shift(0.0f, CIV_MIX_RATE_BITS), 0);
    assert_int_equal(civ_float_exponent(1.0f), 0);
    assert_int_equal(civ_float_exponent(0.75f), -1);
    assert_true(civ_pow2(-70) == ldexp(1.0, -70) && civ_pow2(52) == 4503599627370496.0);
    /* the worst case of the product: 16 terms of 2^25 x 2^23 stays an exact double */
    assert_true(16.0 * ldexp(1.0, CIV_MIX_MATRIX_BITS) * ldexp(1.0, CIV_MIX_RATE_BITS) <= ldexp(1.0, 53));
}

/* A city after `days` days of the real study, on the CPU backend. */
static void open_city(sim *m, int days)
{
    civ_error err = {0};
    if (sim_load(m, SRC "/models/covid/nyc2020.json", 0.05, days, -1, 2, CIV_BACKEND_CPU, &err)) fail_msg("%s", err.msg);
    while (m->e.day < days)
        if (civ_engine_step(&m->e, &err)) fail_msg("%s", err.msg);
}

static void test_matrix_quantization(void **state)
{
    (void)state;
    sim m;
    open_city(&m, 1);
    const civ_covid_params *p = &m.e.model;
    uint32_t qmax = 0;
    for (int a = 0; a < CIV_N_PREM; a++)
        for (int k = 0; k < CIV_N_PREM; k++) {
            qmax = p->community_q[a][k] > qmax ? p->community_q[a][k] : qmax;
            double back = p->community_q[a][k] * ldexp(1.0, -p->community_q_shift);
            assert_true(fabs(back - p->community_matrix[a][k]) <= ldexp(1.0, -p->community_q_shift - 1) * 1.0000001);
        }
    assert_true(qmax >= (1u << (CIV_MIX_MATRIX_BITS - 1)) && qmax <= (1u << CIV_MIX_MATRIX_BITS));
    sim_close(&m);
}

static void test_accuracy_and_gpu_route(void **state)
{
    (void)state;
    sim m;
    open_city(&m, 45);   /* the epidemic has spread through the boroughs */
    const civ_engine *e = &m.e;
    const civ_population *pop = &m.pop;
    const civ_covid_params *p = &e->model;
    const uint32_t nt = pop->n_tracts;
    const size_t n = (size_t)nt * CIV_N_PREM;
    /* the last day's tract sums and pressure, as the CPU backend left them */
    const civ_groups *g = civ_backend_cpu_groups(e->backend_state);
    size_t active = 0;
    for (size_t j = 0; j < n; j++) active += g->tract_sum[j] != 0;
    assert_true(active > n / 20);

    /* the GPU route, with the CUDA backend's GEMM shapes */
    double *S = malloc(n * sizeof(double)), *member = calloc((size_t)nt * CIV_N_LEVEL_SUMS, sizeof(double));
    double *RQ = malloc(n * sizeof(double)), *P = malloc(n * sizeof(double));
    float *rate = malloc(n * sizeof(float)), *pressure = malloc(n * sizeof(float));
    double L[3][CIV_N_LEVEL_SUMS * CIV_N_PREM], cq[CIV_N_PREM * CIV_N_PREM];
    for (uint32_t t = 0; t < nt; t++)
        member[(size_t)pop->tract_borough[t] * nt + t] = member[(size_t)CIV_NBOROUGH * nt + t] = 1.0;
    for (size_t j = 0; j < n; j++) S[j] = (double)g->tract_sum[j];
    for (int a = 0; a < CIV_N_PREM; a++)
        for (int k = 0; k < CIV_N_PREM; k++) cq[a * CIV_N_PREM + k] = p->community_q[a][k];
    civ_gemm_shape ls = civ_level_sum_gemm(nt), ms = civ_mix_gemm(nt);
    for (int order = 0; order < 3; order++) ref_dgemm(&ls, S, member, L[order], order);
    assert_memory_equal(L[0], L[1], sizeof L[0]);
    assert_memory_equal(L[0], L[2], sizeof L[0]);
    float max = 0.0f;
    for (size_t j = 0; j < n; j++) {
        int k = (int)(j % CIV_N_PREM), b = pop->tract_borough[j / CIV_N_PREM];
        float br = civ_rate_from_totals((uint64_t)L[0][b * CIV_N_PREM + k], e->level_count[b][k]);
        float cr = civ_rate_from_totals((uint64_t)L[0][CIV_NBOROUGH * CIV_N_PREM + k], e->level_count[CIV_NBOROUGH][k]);
        rate[j] = civ_mix_rate(p, g->tract_sum[j], e->tract_count[j], br, cr);
        if (rate[j] > max) max = rate[j];
    }
    assert_true(max > 0.0f);
    int shift = civ_mix_shift(max, CIV_MIX_RATE_BITS);
    for (size_t j = 0; j < n; j++) RQ[j] = (double)civ_mix_quantize(rate[j], civ_pow2(shift));
    const float scale = p->w_community * e->policy.community_factor[0];   /* the same in every borough here */
    for (int order = 0; order < 3; order++) {
        ref_dgemm(&ms, cq, RQ, P, order);
        for (size_t j = 0; j < n; j++) pressure[j] = civ_mix_pressure(P[j], p->community_q_shift + shift, scale);
        assert_memory_equal(pressure, g->community_pressure, n * sizeof(float));
    }
    /* the comparison can fail: the Prem matrix is not symmetric, so reading it untransposed changes the pressure */
    civ_gemm_shape wrong = ms;
    wrong.trans_a = !ms.trans_a;
    ref_dgemm(&wrong, cq, RQ, P, 0);
    size_t differ = 0;
    for (size_t j = 0; j < n; j++)
        differ += civ_mix_pressure(P[j], p->community_q_shift + shift, scale) != g->community_pressure[j];
    assert_true(differ > n / 4);

    /* accuracy against the unquantized product in double */
    double worst = 0;
    for (uint32_t t = 0; t < nt; t++)
        for (int a = 0; a < CIV_N_PREM; a++) {
            double ref = 0, row = 0;
            for (int k = 0; k < CIV_N_PREM; k++) {
                ref += (double)p->community_matrix[a][k] * rate[(size_t)t * CIV_N_PREM + k];
                row += p->community_matrix[a][k];
            }
            ref *= scale;
            double bound = scale * row * max;   /* the largest this entry could be today */
            double rel = bound > 0 ? fabs(g->community_pressure[(size_t)t * CIV_N_PREM + a] - ref) / bound : 0;
            if (rel > worst) worst = rel;
        }
    printf("mixing: %zu of %zu tract x band sums active, largest error %.2e of the day's bound\n", active, n, worst);
    assert_true(worst < 1e-6);
    free(S); free(member); free(RQ); free(P); free(rate); free(pressure);
    sim_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_exponent),
        cmocka_unit_test(test_matrix_quantization),
        cmocka_unit_test(test_accuracy_and_gpu_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
