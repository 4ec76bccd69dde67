/* kernel_choice: the measurement behind the population engine's kernel choice
 * (docs/PERFORMANCE.md).
 *
 * usage: kernel_choice [--seconds S]
 *
 * CNN-s conv1 (1x28x28 -> 8x24x24, 5x5) forward for 16 models x a batch of 10, three ways, one
 * thread: scalar:  the reference's loops per model, fmaf over (ci, ky, kx) (bit-exact order);
 *  sgemm:   per model, im2col of the batch then OpenBLAS cblas_sgemm W[8x25] x cols[25x5760]
 *           (a library's order of operations: not bit-exact, shown as the library bound);
 *  lanes:   the 16 models in the 16 lanes of a vector, tiles of 4 channels x 6 columns held in
 *           registers (the simd backend's layout and order; bit-exact).
 * Prints one JSON line per variant with GFLOP/s (2 x MACs). The lanes result is checked against the
 * scalar one bit for bit.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/simd-impl.h"

enum { M = 16, B = 10, CO = 8, K = 5, IH = 28, OH = 24 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float W[M][CO][K * K], bias[M][CO], X[M][B][IH * IH], Y[M][B][CO][OH * OH];
static float cols[K * K][B * OH * OH], Yg[M][CO][B * OH * OH];
static v16f Wl[CO * K * K], bl[CO], Xl[B][IH * IH], Yl[B][CO * OH * OH];

static void scalar(void)
{
    for (int m = 0; m < M; m++)
        for (int b = 0; b < B; b++)
            for (int co = 0; co < CO; co++)
                for (int oy = 0; oy < OH; oy++)
                    for (int ox = 0; ox < OH; ox++) {
                        float acc = 0.0f;
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++)
                                acc = fmaf(W[m][co][ky * K + kx], X[m][b][(oy + ky) * IH + ox + kx],
                                           acc);
                        Y[m][b][co][oy * OH + ox] = acc + bias[m][co];
                    }
}

static void sgemm(void)
{
    for (int m = 0; m < M; m++) {
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++)
                for (int b = 0; b < B; b++)
                    for (int oy = 0; oy < OH; oy++)
                        memcpy(&cols[ky * K + kx][(b * OH + oy) * OH],
                               &X[m][b][(oy + ky) * IH + kx], sizeof(float) * OH);
        for (int co = 0; co < CO; co++)
            for (int j = 0; j < B * OH * OH; j++)
                Yg[m][co][j] = bias[m][co];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, CO, B * OH * OH, K * K, 1.0f,
                    W[m][0], K * K, cols[0], B * OH * OH, 1.0f, Yg[m][0], B * OH * OH);
    }
}

static void lanes(void)
{
    for (int b = 0; b < B; b++)
        for (int co0 = 0; co0 < CO; co0 += 4)
            for (int oy = 0; oy < OH; oy++)
                for (int ox0 = 0; ox0 < OH; ox0 += 6) {
                    v16f acc[4][6];
                    for (int c = 0; c < 4; c++)
                        for (int r = 0; r < 6; r++)
                            acc[c][r] = vf(0.0f);
                    for (int ky = 0; ky < K; ky++) {
                        const v16f *xr = &Xl[b][(oy + ky) * IH + ox0];
#pragma GCC unroll 5
                        for (int kx = 0; kx < K; kx++)
#pragma GCC unroll 4
                            for (int c = 0; c < 4; c++) {
                                v16f w = Wl[(co0 + c) * K * K + ky * K + kx];
#pragma GCC unroll 6
                                for (int r = 0; r < 6; r++)
                                    acc[c][r] = vfma(w, xr[r + kx], acc[c][r]);
                            }
                    }
                    for (int c = 0; c < 4; c++)
                        for (int r = 0; r < 6; r++)
                            Yl[b][(co0 + c) * OH * OH + oy * OH + ox0 + r] =
                                acc[c][r] + bl[co0 + c];
                }
}

static double timeit(void (*fn)(void), double seconds, int *reps)
{
    fn(); /* warm-up */
    int n = 0;
    double t0 = now(), t;
    do {
        fn();
        n++;
        t = now() - t0;
    } while (t < seconds);
    *reps = n;
    return t / n;
}

int main(int argc, char **argv)
{
    double seconds = 2.0;
    if (argc == 3 && !strcmp(argv[1], "--seconds"))
        seconds = strtod(argv[2], NULL);
    uint64_t s = 1;
    for (int m = 0; m < M; m++) {
        for (int i = 0; i < CO * K * K; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            W[m][i / (K * K)][i % (K * K)] =
                (float)((int64_t)(s >> 40) - (1 << 23)) / (float)(1 << 26);
        }
        for (int c = 0; c < CO; c++)
            bias[m][c] = 0.01f;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < IH * IH; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                X[m][b][i] = (float)(s >> 40) / (float)(1 << 24) - 0.5f;
            }
    }
    for (int m = 0; m < M; m++) {
        for (int i = 0; i < CO * K * K; i++)
            Wl[i][m] = W[m][i / (K * K)][i % (K * K)];
        for (int c = 0; c < CO; c++)
            bl[c][m] = bias[m][c];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < IH * IH; i++)
                Xl[b][i][m] = X[m][b][i];
    }
    double flops = 2.0 * M * B * CO * OH * OH * K * K;
    struct {
        const char *name;
        void (*fn)(void);
        const char *exact;
    } v[] = {{"scalar", scalar, "true"}, {"sgemm", sgemm, "false"}, {"lanes", lanes, "true"}};
    for (int i = 0; i < 3; i++) {
        int reps;
        double t = timeit(v[i].fn, seconds, &reps);
        printf("{\"kernel\":\"cnn-s conv1 forward, 16 models x batch 10\",\"variant\":\"%s\","
               "\"seconds_per_call\":%.6g,\"gflops\":%.2f,\"reps\":%d,\"bit_exact_order\":%s}\n",
               v[i].name, t, flops / t / 1e9, reps, v[i].exact);
    }
    long bad = 0;
    for (int m = 0; m < M; m++)
        for (int b = 0; b < B; b++)
            for (int co = 0; co < CO; co++)
                for (int o = 0; o < OH * OH; o++)
                    bad += memcmp(&Y[m][b][co][o], &Yl[b][co * OH * OH + o][m], 4) != 0;
    printf("{\"check\":\"lanes vs scalar\",\"differing_outputs\":%ld}\n", bad);
    return bad != 0;
}
