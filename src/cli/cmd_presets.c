/* mzoo presets [--show NAME]: the zoos of the Model Zoos paper as named specs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/presets.h"
#include "mzoo/sparse.h"
#include "mzoo/spec.h"
#include "cli/commands.h"
#include "core/banned.h"

int mz_cmd_presets(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--show")) {
        char *json = mz_preset_json(argv[2]);
        if (!json) {
            mz_cli_error("unknown preset '%s' (mzoo presets lists them)", argv[2]);
            return 1;
        }
        fputs(json, stdout);
        free(json);
        return 0;
    }
    if (argc != 1) {
        fputs(
            "usage: mzoo presets [--show NAME]\nLists the zoos of the Model Zoos paper (and the "
            "EuroSAT "
            "zoo) with their model counts;\n--show prints a preset's spec, to edit and train with "
            "`mzoo train SPEC.json`.\nTrain one with `mzoo train --preset NAME --data DIR -o "
            "ZOO.db`.\n",
            argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    int64_t paper_total = 0, paper_zoos = 0;
    printf("%-22s %-13s %-9s %7s  %s\n", "preset", "dataset", "arch", "models", "description");
    for (int i = 0; i < mz_preset_count(); i++) {
        const mz_preset *p = mz_preset_get(i);
        char *json = mz_preset_json(p->name);
        mz_spec spec;
        mz_error err = {0};
        if (!json || mz_spec_parse(&spec, json, p->name, &err) != MZ_OK) {
            mz_cli_error("preset %s: %s", p->name, json ? err.msg : "out of memory");
            free(json);
            return 1;
        }
        if (spec.n_models != p->n_models) {
            mz_cli_error("preset %s expands to %lld models, expected %lld", p->name,
                         (long long)spec.n_models, (long long)p->n_models);
            mz_spec_release(&spec);
            free(json);
            return 1;
        }
        printf("%-22s %-13s %-9s %7lld  %s%s\n", p->name, spec.dataset, spec.architecture,
               (long long)spec.n_models, p->description,
               p->in_paper ? "" : " [not in the paper's count]");
        if (p->in_paper) {
            paper_total += spec.n_models;
            paper_zoos++;
        }
        mz_spec_release(&spec);
        free(json);
    }
    printf("\nthe paper's zoos: %lld zoos, %lld models\n", (long long)paper_zoos,
           (long long)paper_total);
    printf("\ntwin zoos (mzoo sparsify --preset NAME ZOO.db -o TWINS.db, ZOO.db made with the "
           "source preset):\n");
    printf("%-22s %-13s %7s  %s\n", "preset", "source", "twins", "description");
    for (int i = 0; i < mz_twin_preset_count(); i++) {
        const mz_twin_preset *t = mz_twin_preset_get(i);
        printf("%-22s %-13s %7lld  %s\n", t->name, t->source_preset, (long long)t->n_twins,
               t->description);
    }
    return 0;
}
