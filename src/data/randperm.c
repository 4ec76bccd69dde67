/* torch.randperm(n, generator=torch.Generator().manual_seed(seed)) on the CPU, bit for bit.
 *
 * torch's CPU generator is MT19937 seeded with init_genrand(low 32 bits of the seed), and
 * randperm_cpu is a forward Fisher-Yates shuffle driven by raw 32-bit outputs:
 *   r = [0..n-1]; for i = 0..n-2: z = u32() % (n - i); swap(r[i], r[i + z]).
 * The modulo bias is torch's and is kept on purpose. This is torch 1.11 (the reference's) and 1.13
 * (Debian's) for every n: tests/data/datasets/randperm.txt, written by tools/make_data_golden.py,
 * holds n up to 60000 and, with --large, n = 2^32/20 - 1 and 2^32/20; by hand we also checked
 * n = 10^9. (torch 2.x switches to an "inside-out" shuffle with 64-bit draws for
 * n >= 2^32/20 = 214748364; no dataset comes near that size.)
 */
#include <stdlib.h>

#include "mzoo/core.h"
#include "core/banned.h"

mz_status mz_torch_randperm(uint32_t *perm, uint32_t n, uint64_t seed)
{
    if (n == 0)
        return MZ_OK;
    if (!perm)
        return MZ_EINVAL;
    mz_mt19937 *m = malloc(sizeof *m); /* 2.5 KB: keep it off small thread stacks */
    if (!m)
        return MZ_ENOMEM;
    mz_mt19937_seed(m, (uint32_t)seed); /* torch keeps only the low 32 bits */
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = 0; i + 1 < n; i++) {
        uint32_t z = mz_mt19937_u32(m) % (n - i);
        uint32_t t = perm[i];
        perm[i] = perm[i + z];
        perm[i + z] = t;
    }
    free(m);
    return MZ_OK;
}
