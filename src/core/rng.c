/* Counter-based randomness (Philox4x32-10, Salmon et al. 2011) and MT19937.
 *
 * Philox is used for everything mzoo draws itself: a draw is a pure function of
 * (seed, purpose, a, b, c, index), so nothing depends on threads, grouping or resume.
 * MT19937 exists only to reproduce the reference's torch.randperm / Python random streams. */
#include <math.h>
#include <string.h>

#include "mzoo/core.h"
#include "core/banned.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void mz_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

mz_rng_stream mz_rng_make(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b, uint32_t c)
{
    mz_rng_stream s;
    s.key[0] = (uint32_t)seed;
    s.key[1] = (uint32_t)(seed >> 32);
    s.ctr_hi[0] = (purpose << 24) ^ c;
    s.ctr_hi[1] = a;
    s.ctr_hi[2] = b;
    return s;
}

void mz_rng_block(const mz_rng_stream *s, uint32_t block, uint32_t out[4])
{
    uint32_t ctr[4] = {block, s->ctr_hi[0], s->ctr_hi[1], s->ctr_hi[2]};
    mz_philox4x32(ctr, s->key, out);
}

uint32_t mz_rng_u32(const mz_rng_stream *s, uint64_t i)
{
    uint32_t out[4];
    /* Draw indices beyond 2^34 fold the excess into the high counter word's upper bits. */
    mz_rng_stream t = *s;
    t.ctr_hi[0] ^= (uint32_t)(i >> 34) << 8;
    mz_rng_block(&t, (uint32_t)(i >> 2), out);
    return out[i & 3];
}

uint32_t mz_rng_below(const mz_rng_stream *s, uint64_t *i, uint32_t n)
{
    /* Lemire's nearly divisionless method: unbiased, deterministic in the number of draws used. */
    uint64_t m = (uint64_t)mz_rng_u32(s, (*i)++) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)mz_rng_u32(s, (*i)++) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void mz_rng_permutation(const mz_rng_stream *s, uint32_t *perm, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        perm[k] = k;
    uint64_t draw = 0;
    for (uint32_t k = n; k > 1; k--) {
        uint32_t j = mz_rng_below(s, &draw, k);
        uint32_t t = perm[k - 1];
        perm[k - 1] = perm[j];
        perm[j] = t;
    }
}

void mz_rng_normal(const mz_rng_stream *s, float *out, size_t n)
{
    /* Box-Muller: pair j uses block j; u1 in (0,1] so the log is finite. Computed in double and
     * rounded once to float. */
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t j = 0; 2 * j < n; j++) {
        uint32_t w[4];
        mz_rng_block(s, (uint32_t)j, w);
        double u1 = ((double)(w[0] >> 8) + 1.0) * (1.0 / 16777216.0);
        double u2 = (double)(w[1] >> 8) * (1.0 / 16777216.0);
        double r = sqrt(-2.0 * log(u1));
        out[2 * j] = (float)(r * cos(two_pi * u2));
        if (2 * j + 1 < n)
            out[2 * j + 1] = (float)(r * sin(two_pi * u2));
    }
}

void mz_rng_uniform(const mz_rng_stream *s, float *out, size_t n, float lo, float hi)
{
    for (size_t j = 0; j < n; j += 4) {
        uint32_t w[4];
        mz_rng_block(s, (uint32_t)(j >> 2), w);
        for (size_t k = 0; k < 4 && j + k < n; k++) {
            double u = (double)(w[k] >> 8) * (1.0 / 16777216.0);
            float v = (float)((double)lo + ((double)hi - (double)lo) * u);
            if (v >= hi) /* rounding can reach hi when the interval is tiny */
                v = lo;
            out[j + k] = v;
        }
    }
}

/* ---- MT19937 (Matsumoto & Nishimura 1998) ---- */

void mz_mt19937_seed(mz_mt19937 *m, uint32_t seed)
{
    m->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + (uint32_t)i;
    m->mti = 624;
}

void mz_mt19937_seed_array(mz_mt19937 *m, const uint32_t *key, int len)
{
    mz_mt19937_seed(m, 19650218u);
    int i = 1, j = 0;
    for (int k = (624 > len ? 624 : len); k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= 624) {
            m->mt[0] = m->mt[623];
            i = 1;
        }
        if (j >= len)
            j = 0;
    }
    for (int k = 623; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) {
            m->mt[0] = m->mt[623];
            i = 1;
        }
    }
    m->mt[0] = 0x80000000u;
    m->mti = 624;
}

uint32_t mz_mt19937_u32(mz_mt19937 *m)
{
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    if (m->mti >= 624) {
        int k;
        for (k = 0; k < 624 - 397; k++) {
            uint32_t y = (m->mt[k] & 0x80000000u) | (m->mt[k + 1] & 0x7fffffffu);
            m->mt[k] = m->mt[k + 397] ^ (y >> 1) ^ mag01[y & 1u];
        }
        for (; k < 623; k++) {
            uint32_t y = (m->mt[k] & 0x80000000u) | (m->mt[k + 1] & 0x7fffffffu);
            m->mt[k] = m->mt[k + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1u];
        }
        uint32_t y = (m->mt[623] & 0x80000000u) | (m->mt[0] & 0x7fffffffu);
        m->mt[623] = m->mt[396] ^ (y >> 1) ^ mag01[y & 1u];
        m->mti = 0;
    }
    uint32_t y = m->mt[m->mti++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}
