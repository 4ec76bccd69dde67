/* mzoo dataset ZOO.db -o DIR: a zoo's checkpoints as a weight-space dataset (docs/DATASET.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/loader.h"
#include "cli/commands.h"
#include "cli/selection.h"
#include "core/banned.h"

static const char dataset_usage_head[] =
    "usage: mzoo dataset ZOO.db -o DIR [options]\n"
    "Writes the zoo's checkpoints as a weight-space dataset split by model: arrays Python loads\n"
    "directly (numpy.load / safetensors), properties.csv and .json, index_dict.json (the layout\n"
    "map) and dataset.json (the manifest). See docs/DATASET.md.\n\n"
    "output:\n"
    "  -o, --output DIR   the dataset directory (created if missing)\n"
    "  --format LIST      npz (default), npy, safetensors; several separated by commas\n"
    "  -q, --quiet        no summary\n";

static void usage(FILE *f)
{
    fputs(dataset_usage_head, f);
    fputs(mz_cli_selection_help, f);
}

/* "npz,npy" -> bit mask; 0 on an unknown name. */
static unsigned parse_formats(const char *s)
{
    unsigned m = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 3 && !strncmp(s, "npz", 3))
            m |= MZ_FMT_NPZ;
        else if (n == 3 && !strncmp(s, "npy", 3))
            m |= MZ_FMT_NPY;
        else if (n == 11 && !strncmp(s, "safetensors", 11))
            m |= MZ_FMT_SAFETENSORS;
        else
            return 0;
        s += n;
        if (*s == ',')
            s++;
    }
    return m;
}

void mz_cli_print_selection(const mz_loader *L, FILE *f)
{
    const mz_loader_counts *c = mz_loader_get_counts(L);
    const mz_vec_layout *lay = mz_loader_layout(L);
    fprintf(f, "layout: %d layers (", lay->n_layers);
    for (int l = 0; l < lay->n_layers; l++)
        fprintf(f, "%s%s", l ? " " : "", lay->layers[l].name);
    fprintf(f, ")%s, %lld floats per sample, %d layout variant%s\n",
            lay->with_bias ? " with biases" : ", weights only", (long long)lay->dim, lay->n_sources,
            lay->n_sources == 1 ? "" : "s");
    fprintf(f, "candidates: %lld (model, epoch) rows of %lld models\n", (long long)c->candidates,
            (long long)c->models_in_zoo);
    fprintf(
        f,
        "dropped: %lld by --where, %lld non-finite, %lld above --max-abs, %lld by --max-models\n",
        (long long)c->dropped_where, (long long)c->dropped_nonfinite, (long long)c->dropped_max_abs,
        (long long)c->dropped_max_models);
    fprintf(f,
            "split by model: train %lld models / %lld samples, val %lld / %lld, test %lld / %lld\n",
            (long long)c->models[0], (long long)c->part_samples[0], (long long)c->models[1],
            (long long)c->part_samples[1], (long long)c->models[2], (long long)c->part_samples[2]);
}

int mz_cmd_dataset(int argc, char **argv)
{
    mz_loader_options opt;
    mz_loader_options_default(&opt);
    const char *zoo = NULL, *out = NULL;
    unsigned formats = MZ_FMT_NPZ;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = mz_cli_selection_option(argc, argv, &i, &opt);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--format") && i + 1 < argc) {
            formats = parse_formats(argv[++i]);
            if (!formats) {
                mz_cli_error(
                    "--format: expected npz, npy and/or safetensors separated by commas, got '%s'",
                    argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            mz_cli_error("dataset: unknown or incomplete option '%s'", a);
            usage(stderr);
            return 2;
        } else if (!zoo) {
            zoo = a;
        } else {
            mz_cli_error("dataset: unexpected argument '%s'", a);
            return 2;
        }
    }
    if (!zoo || !out) {
        mz_cli_error("dataset: %s", !zoo ? "missing ZOO.db" : "missing -o DIR");
        usage(stderr);
        return 2;
    }
    mz_error err = {0};
    mz_loader *L = NULL;
    if (mz_loader_open(&L, zoo, &opt, &err) != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return err.code == MZ_EINVAL ? 2 : 1;
    }
    if (mz_loader_n_samples(L) == 0) {
        mz_cli_print_selection(L, stderr);
        mz_cli_error("%s: no samples left after selection and filters", zoo);
        mz_loader_close(L);
        return 1;
    }
    const char *name = strrchr(zoo, '/');
    if (mz_dataset_write(L, out, formats, name ? name + 1 : zoo, &err) != MZ_OK) {
        mz_cli_error("%s", err.msg);
        mz_loader_close(L);
        return 1;
    }
    if (!quiet) {
        mz_cli_print_selection(L, stdout);
        printf("wrote %s\n", out);
    }
    mz_loader_close(L);
    return 0;
}
