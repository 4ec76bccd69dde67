/* The zoos of the Model Zoos paper as specs (the reference's generator scripts).
 *
 * Random-seed zoos draw their seeds reproducibly from a recorded master seed (the reference drew
 * them from unseeded numpy); the master seeds below are fixed and documented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/presets.h"
#include "core/banned.h"

typedef struct preset_def {
    mz_preset info;
    const char *dataset, *variant, *arch;
    int epochs, batch;
    const char *scheduler;
    const char *grid; /* JSON object body */
} preset_def;

#define A4 "\"activation\": [\"tanh\", \"relu\", \"sigmoid\", \"gelu\"]"
#define I4 "\"init\": [\"uniform\", \"normal\", \"kaiming_uniform\", \"kaiming_normal\"]"
#define SEEDS_1000 "\"seed\": {\"range\": [1, 1000]}"
#define FIX10 "\"seed\": {\"range\": [1, 10]}"
#define RAND10(S) "\"seed\": {\"random\": 10, \"master_seed\": " #S "}"

#define SEED_ZOO(act, init, lr, wd) \
    "\"activation\": \"" act "\", \"init\": \"" init "\", \"optimizer\": \"adam\", \"lr\": " lr \
    ", \"weight_decay\": " wd ", \"dropout\": 0, " SEEDS_1000

#define HYP_ADAM_SGD(lrs, wds, seeds) \
    A4 ", " I4 ", \"optimizer\": [\"adam\", \"sgd\"], \"lr\": " lrs ", \"weight_decay\": " wds \
    ", \"dropout\": [0, 0.5], \"momentum\": 0.9, " seeds

#define SVHN_HYP(seeds) \
    A4 ", " I4 ", \"optimizer\": \"sgd\", \"lr\": [0.01, 0.001, 0.0001], \"weight_decay\": [0, " \
    "0.001, 0.1], \"dropout\": [0, 0.3, 0.5], \"momentum\": 0.9, " seeds

#define RESNET(lr) \
    "\"activation\": \"relu\", \"init\": \"kaiming_uniform\", \"optimizer\": \"sgd\", \"lr\": " lr \
    ", \"weight_decay\": 0.0005, \"momentum\": 0.9, \"dropout\": 0, " SEEDS_1000

static const preset_def defs[] = {
    {{"fmnist-demo", "", "the embedded default: 16 Fashion-MNIST CNN-s models (tanh/relu x adam/sgd x 4 seeds), 5 epochs", 16, 0},
     "fashion-mnist", "", "cnn-s", 5, 10, "none",
     "\"activation\": [\"tanh\", \"relu\"], \"init\": \"kaiming_uniform\", \"optimizer\": [\"adam\", \"sgd\"], "
     "\"lr\": [0.001], \"weight_decay\": 0.0001, \"momentum\": 0.9, \"dropout\": 0, \"seed\": {\"range\": [1, 4]}"},

    {{"mnist-seed", "zoos/MNIST/tune_zoo_mnist_uniform", "MNIST CNN-s, seeds 1-1000", 1000, 1},
     "mnist", "", "cnn-s", 50, 10, "none", SEED_ZOO("tanh", "uniform", "0.0003", "0")},
    {{"mnist-hyp-fixed", "zoos/MNIST/tune_zoo_mnist_hyperparameter_10_fixed_seeds", "MNIST CNN-s hyperparameter grid, seeds 1-10", 2560, 1},
     "mnist", "", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.001, 0.0001]", FIX10)},
    {{"mnist-hyp-random", "zoos/MNIST/tune_zoo_mnist_hyperparameter_10_random_seeds", "MNIST CNN-s hyperparameter grid, 10 random seeds each", 2560, 1},
     "mnist", "", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.001, 0.0001]", RAND10(1001))},

    {{"fmnist-seed", "zoos/F_MNIST/tune_zoo_f_mnist_uniform", "Fashion-MNIST CNN-s, seeds 1-1000", 1000, 1},
     "fashion-mnist", "", "cnn-s", 50, 10, "none", SEED_ZOO("tanh", "uniform", "0.0003", "0")},
    {{"fmnist-hyp-fixed", "zoos/F_MNIST/tune_zoo_f_mnist_hyperparameter_10_fixed_seeds", "Fashion-MNIST CNN-s hyperparameter grid, seeds 1-10", 2560, 1},
     "fashion-mnist", "", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.001, 0.0001]", FIX10)},
    {{"fmnist-hyp-random", "zoos/F_MNIST/tune_zoo_f_mnist_hyperparameter_10_random_seeds", "Fashion-MNIST CNN-s hyperparameter grid, 10 random seeds each", 2560, 1},
     "fashion-mnist", "", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.001, 0.0001]", RAND10(1002))},

    {{"svhn-seed", "zoos/SVHN/tune_zoo_svhn_uniform", "SVHN (grayscale, 28px) CNN-s, seeds 1-1000", 1000, 1},
     "svhn", "", "cnn-s", 50, 10, "none", SEED_ZOO("tanh", "uniform", "0.003", "0")},
    {{"svhn-hyp-fixed", "zoos/SVHN/tune_zoo_svhn_hyperparameter_10_fixed_seeds", "SVHN CNN-s hyperparameter grid (SGD), seeds 1-10", 4320, 1},
     "svhn", "", "cnn-s", 50, 10, "none", SVHN_HYP(FIX10)},
    {{"svhn-hyp-random", "zoos/SVHN/tune_zoo_svhn_hyperparameter_10_random_seeds", "SVHN CNN-s hyperparameter grid (SGD), 10 random seeds each", 4320, 1},
     "svhn", "", "cnn-s", 50, 10, "none", SVHN_HYP(RAND10(1003))},

    {{"usps-seed", "zoos/USPS/tune_zoo_usps_uniform", "USPS (28px) CNN-s, seeds 1-1000", 1000, 1},
     "usps", "", "cnn-s", 50, 10, "none", SEED_ZOO("tanh", "uniform", "0.0003", "0.001")},
    {{"usps-hyp-fixed", "zoos/USPS/tune_zoo_usps_hyperparameter_10_fixed_seed", "USPS CNN-s hyperparameter grid, seeds 1-10", 2560, 1},
     "usps", "", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.01, 0.001]", FIX10)},
    {{"usps-hyp-random", "zoos/USPS/tune_zoo_usps_hyperparameter_10_random_seed", "USPS CNN-s hyperparameter grid, 10 random seeds each", 2560, 1},
     "usps", "", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.01, 0.001]", RAND10(1004))},

    {{"cifar10-s-seed", "zoos/CIFAR10/small/tune_zoo_cifar10_uniform_small", "CIFAR-10 (28px) CNN-s, seeds 1-1000", 1000, 1},
     "cifar10", "28px", "cnn-s", 50, 10, "none", SEED_ZOO("gelu", "kaiming_uniform", "0.0001", "0.01")},
    {{"cifar10-s-hyp-fixed", "zoos/CIFAR10/small/tune_zoo_cifar10_small_hyperparameter_10_fixed_seeds", "CIFAR-10 CNN-s hyperparameter grid, seeds 1-10", 1280, 1},
     "cifar10", "28px", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("0.001", "[0.01, 0.001]", FIX10)},
    {{"cifar10-s-hyp-random", "zoos/CIFAR10/small/tune_zoo_cifar10_small_hyperparameter_10_random_seeds", "CIFAR-10 CNN-s hyperparameter grid, 10 random seeds each", 1280, 1},
     "cifar10", "28px", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("0.001", "[0.01, 0.001]", RAND10(1005))},

    {{"cifar10-l-seed", "zoos/CIFAR10/large/tune_zoo_cifar10_uniform_large", "CIFAR-10 (32px) CNN-l, seeds 1-1000", 1000, 1},
     "cifar10", "32px", "cnn-l", 50, 10, "none", SEED_ZOO("gelu", "kaiming_uniform", "0.0001", "0.01")},
    {{"cifar10-l-hyp-fixed", "zoos/CIFAR10/large/tune_zoo_cifar10_large_hyperparameter_10_fixed_seeds", "CIFAR-10 CNN-l hyperparameter grid, seeds 1-10", 1280, 1},
     "cifar10", "32px", "cnn-l", 50, 10, "none", HYP_ADAM_SGD("0.001", "[0.01, 0.001]", FIX10)},
    {{"cifar10-l-hyp-random", "zoos/CIFAR10/large/tune_zoo_cifar10_large_hyperparameter_10_random_seeds", "CIFAR-10 CNN-l hyperparameter grid, 10 random seeds each", 1280, 1},
     "cifar10", "32px", "cnn-l", 50, 10, "none", HYP_ADAM_SGD("0.001", "[0.01, 0.001]", RAND10(1006))},

    {{"stl10-s-seed", "zoos/STL-10/small/tune_zoo_stl_small_uniform", "STL-10 (28px) CNN-s, seeds 1-1000", 1000, 1},
     "stl10", "28px", "cnn-s", 50, 10, "none", SEED_ZOO("tanh", "kaiming_uniform", "0.0001", "0.001")},
    {{"stl10-s-hyp-fixed", "zoos/STL-10/small/tune_zoo_stl_small_hyperparameter_10_fixed_seeds", "STL-10 CNN-s hyperparameter grid, seeds 1-10", 2560, 1},
     "stl10", "28px", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.01, 0.001]", FIX10)},
    {{"stl10-s-hyp-random", "zoos/STL-10/small/tune_zoo_stl_small_hyperparameter_10_random_seeds", "STL-10 CNN-s hyperparameter grid, 10 random seeds each", 2560, 1},
     "stl10", "28px", "cnn-s", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.01, 0.001]", RAND10(1007))},

    {{"stl10-l-seed", "zoos/STL-10/large/tune_zoo_stl_uniform_large", "STL-10 (32px) CNN-l, seeds 1-1000", 1000, 1},
     "stl10", "32px", "cnn-l", 50, 10, "none", SEED_ZOO("tanh", "kaiming_uniform", "0.0001", "0.001")},
    {{"stl10-l-hyp-fixed", "zoos/STL-10/large/tune_zoo_stl_large_hyperparameter_10_fixed_seeds", "STL-10 CNN-l hyperparameter grid, seeds 1-10", 2560, 1},
     "stl10", "32px", "cnn-l", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.01, 0.001]", FIX10)},
    {{"stl10-l-hyp-random", "zoos/STL-10/large/tune_zoo_stl_large_hyperparameter_10_random_seeds", "STL-10 CNN-l hyperparameter grid, 10 random seeds each", 2560, 1},
     "stl10", "32px", "cnn-l", 50, 10, "none", HYP_ADAM_SGD("[0.001, 0.0001]", "[0.01, 0.001]", RAND10(1008))},

    {{"cifar10-resnet18", "zoos/CIFAR10/resnet19/kaiming_uniform", "CIFAR-10 ResNet-18, OneCycle SGD, seeds 1-1000", 1000, 1},
     "cifar10", "resnet", "resnet18", 50, 256, "onecycle", RESNET("0.05")},
    {{"cifar100-resnet18", "zoos/CIFAR100/resnet18/kaiming_uniform", "CIFAR-100 ResNet-18, OneCycle SGD, seeds 1-1000", 1000, 1},
     "cifar100", "resnet", "resnet18", 60, 128, "onecycle", RESNET("0.1")},
    {{"tinyimagenet-resnet18", "zoos/TinyImageNet/resnet18/kaiming_uniform", "Tiny-ImageNet ResNet-18, OneCycle SGD, seeds 1-1000", 1000, 1},
     "tiny-imagenet", "", "resnet18", 60, 128, "onecycle", RESNET("0.1")},

    {{"eurosat-seed", "", "EuroSAT (RGB, 28px) CNN-s, seeds 1-1000 (no reference code: see docs/DATASETS.md)", 1000, 0},
     "eurosat", "28px", "cnn-s", 50, 10, "none", SEED_ZOO("gelu", "kaiming_uniform", "0.0001", "0.01")},
    {{NULL, NULL, NULL, 0, 0}, NULL, NULL, NULL, 0, 0, NULL, NULL},
};

int mz_preset_count(void) { return (int)(sizeof defs / sizeof defs[0]) - 1; }

const mz_preset *mz_preset_get(int i)
{
    return i >= 0 && i < mz_preset_count() ? &defs[i].info : NULL;
}

static const preset_def *find_def(const char *name)
{
    for (size_t i = 0; name && defs[i].info.name; i++)
        if (!strcmp(defs[i].info.name, name))
            return &defs[i];
    return NULL;
}

const mz_preset *mz_preset_find(const char *name)
{
    const preset_def *d = find_def(name);
    return d ? &d->info : NULL;
}

char *mz_preset_json(const char *name)
{
    const preset_def *d = find_def(name);
    if (!d)
        return NULL;
    size_t cap = strlen(d->grid) + 1024;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    char variant[64] = "";
    if (d->variant[0])
        snprintf(variant, sizeof variant, "  \"variant\": \"%s\",\n", d->variant);
    char sched[64] = "";
    if (strcmp(d->scheduler, "none"))
        snprintf(sched, sizeof sched, "  \"scheduler\": \"%s\",\n", d->scheduler);
    snprintf(s, cap,
             "{\n  \"dataset\": \"%s\",\n%s  \"architecture\": \"%s\",\n  \"epochs\": %d,\n"
             "  \"batch_size\": %d,\n%s  \"grid\": {%s}\n}\n",
             d->dataset, variant, d->arch, d->epochs, d->batch, sched, d->grid);
    return s;
}
