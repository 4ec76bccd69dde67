/* mzoo presets: every zoo of the Model Zoos paper (and the EuroSAT zoo) as a named spec, plus the
 * small embedded default zoo. A preset is plain spec JSON, so it can be printed, edited and trained. */
#ifndef MZOO_PRESETS_H
#define MZOO_PRESETS_H

#include "mzoo/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mz_preset {
    const char *name;        /* e.g. "fmnist-hyp-fixed" */
    const char *reference;   /* the reference's experiment directory, or "" */
    const char *description;
    int64_t n_models;        /* as the reference generated it */
    int in_paper;            /* counted in the paper's 27 zoos / 50,360 models */
} mz_preset;

/* The number of presets and the i-th one (0 <= i < count; NULL otherwise). */
int mz_preset_count(void);
const mz_preset *mz_preset_get(int i);
const mz_preset *mz_preset_find(const char *name);

/* The preset's spec as pretty JSON (malloc'd; caller frees). NULL if unknown or out of memory. */
char *mz_preset_json(const char *name);

/* The name of the preset trained by `scripts/quickstart.sh`. */
#define MZ_PRESET_DEFAULT "fmnist-demo"

#ifdef __cplusplus
}
#endif
#endif
