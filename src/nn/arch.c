/* Architectures as layer lists with the reference's module indices and state_dict layout. */
#include <stdio.h>
#include <string.h>

#include "mzoo/nn.h"
#include "core/banned.h"

typedef struct builder {
    mz_arch *a;
    int module; /* next module_list index */
    int c, h, w;
    int dropouts;
    int64_t off;
} builder;

static mz_layer *push(builder *b, mz_layer_kind kind)
{
    mz_layer *l = &b->a->layers[b->a->n_layers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->module_index = b->module++;
    l->in_c = b->c;
    l->in_h = b->h;
    l->in_w = b->w;
    return l;
}

static void finish(builder *b, mz_layer *l)
{
    b->c = l->out_c;
    b->h = l->out_h;
    b->w = l->out_w;
    l->in_size = (int64_t)l->in_c * l->in_h * l->in_w;
    l->out_size = (int64_t)l->out_c * l->out_h * l->out_w;
}

static void add_tensor(builder *b, int module, const char *what, int ndim, const int64_t *shape)
{
    mz_tensor_desc *t = &b->a->tensors[b->a->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "module_list.%d.%s", module, what);
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->count *= shape[d];
    }
    t->offset = b->off;
    b->off += t->count;
}

static void conv(builder *b, int out_c, int k)
{
    mz_layer *l = push(b, MZ_LAYER_CONV);
    l->k = k;
    l->out_c = out_c;
    l->out_h = b->h - k + 1;
    l->out_w = b->w - k + 1;
    int64_t ws[4] = {out_c, b->c, k, k}, bs[1] = {out_c};
    l->w_off = b->off;
    add_tensor(b, l->module_index, "weight", 4, ws);
    l->b_off = b->off;
    add_tensor(b, l->module_index, "bias", 1, bs);
    finish(b, l);
}

static void linear(builder *b, int out_f)
{
    mz_layer *l = push(b, MZ_LAYER_LINEAR);
    l->out_c = out_f;
    l->out_h = l->out_w = 1;
    int64_t ws[2] = {out_f, b->c}, bs[1] = {out_f};
    l->w_off = b->off;
    add_tensor(b, l->module_index, "weight", 2, ws);
    l->b_off = b->off;
    add_tensor(b, l->module_index, "bias", 1, bs);
    finish(b, l);
}

static void pool(builder *b)
{
    mz_layer *l = push(b, MZ_LAYER_MAXPOOL);
    l->k = 2;
    l->out_c = b->c;
    l->out_h = b->h / 2;
    l->out_w = b->w / 2;
    finish(b, l);
}

static void same_shape(builder *b, mz_layer_kind kind)
{
    mz_layer *l = push(b, kind);
    l->out_c = b->c;
    l->out_h = b->h;
    l->out_w = b->w;
    if (kind == MZ_LAYER_DROPOUT)
        l->dropout_ordinal = b->dropouts++;
    finish(b, l);
}

static void flatten(builder *b)
{
    mz_layer *l = push(b, MZ_LAYER_FLATTEN);
    l->out_c = b->c * b->h * b->w;
    l->out_h = l->out_w = 1;
    finish(b, l);
}

mz_status mz_arch_init(mz_arch *a, const char *name, int channels, int h, int w, double dropout,
                       mz_error *err)
{
    memset(a, 0, sizeof *a);
    if (channels != 1 && channels != 3)
        return mz_fail(err, MZ_EINVAL, "%s: %d input channels (expected 1 or 3)", name, channels);
    builder b = {a, 0, channels, h, w, 0, 0};
    a->in_c = channels;
    a->in_h = h;
    a->in_w = w;
    a->n_classes = 10;
    if (!strcmp(name, "cnn-s")) {
        if (h != 28 || w != 28)
            return mz_fail(err, MZ_EINVAL, "cnn-s expects 28x28 inputs, got %dx%d", h, w);
        int drop = dropout > 0;
        a->has_dropout_layers = drop;
        conv(&b, 8, 5), pool(&b), same_shape(&b, MZ_LAYER_ACT);
        if (drop)
            same_shape(&b, MZ_LAYER_DROPOUT);
        conv(&b, 6, 5), pool(&b), same_shape(&b, MZ_LAYER_ACT);
        if (drop)
            same_shape(&b, MZ_LAYER_DROPOUT);
        conv(&b, 4, 2), same_shape(&b, MZ_LAYER_ACT);
        flatten(&b);
        linear(&b, 20), same_shape(&b, MZ_LAYER_ACT);
        if (drop)
            same_shape(&b, MZ_LAYER_DROPOUT);
        linear(&b, 10);
        snprintf(a->variant, sizeof a->variant, "cnn-s/c%d/%s", channels, drop ? "dropout" : "nodropout");
    } else if (!strcmp(name, "cnn-l")) {
        if (h != 32 || w != 32)
            return mz_fail(err, MZ_EINVAL, "cnn-l expects 32x32 inputs, got %dx%d", h, w);
        a->has_dropout_layers = 1; /* the reference always inserts them (Dropout(0) when p = 0) */
        conv(&b, 16, 3), pool(&b), same_shape(&b, MZ_LAYER_ACT), same_shape(&b, MZ_LAYER_DROPOUT);
        conv(&b, 32, 3), pool(&b), same_shape(&b, MZ_LAYER_ACT), same_shape(&b, MZ_LAYER_DROPOUT);
        conv(&b, 15, 3), pool(&b), same_shape(&b, MZ_LAYER_ACT), same_shape(&b, MZ_LAYER_DROPOUT);
        flatten(&b);
        linear(&b, 20), same_shape(&b, MZ_LAYER_ACT), same_shape(&b, MZ_LAYER_DROPOUT);
        linear(&b, 10);
        snprintf(a->variant, sizeof a->variant, "cnn-l/c%d", channels);
    } else {
        return mz_fail(err, MZ_EUNSUPPORTED, "unknown architecture '%s' (expected cnn-s, cnn-l)", name);
    }
    snprintf(a->name, sizeof a->name, "%s", name);
    a->n_params = b.off;
    int64_t sum = (int64_t)channels * h * w, mx = sum;
    for (int i = 0; i < a->n_layers; i++) {
        sum += a->layers[i].out_size;
        if (a->layers[i].out_size > mx)
            mx = a->layers[i].out_size;
    }
    a->act_floats = sum;
    a->max_layer_size = mx;
    return MZ_OK;
}

mz_status mz_arch_init_ard(mz_arch *ard, const mz_arch *plain, mz_error *err)
{
    if (plain->ard)
        return mz_fail(err, MZ_EINVAL, "%s: already a variational-dropout architecture",
                       plain->variant);
    mz_arch a = *plain;
    a.ard = 1;
    a.n_tensors = 0;
    a.n_ard_layers = 0;
    a.n_ard_weights = 0;
    builder b = {&a, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < a.n_layers; i++) {
        mz_layer *l = &a.layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        /* the plain layout has weight then bias of each layer, in layer order */
        const mz_tensor_desc *w = NULL, *bias = NULL;
        for (int t = 0; t < plain->n_tensors; t++) {
            if (plain->tensors[t].offset == plain->layers[i].w_off)
                w = &plain->tensors[t];
            if (plain->tensors[t].offset == plain->layers[i].b_off)
                bias = &plain->tensors[t];
        }
        if (!w || !bias || a.n_tensors + 4 > MZ_MAX_TENSORS)
            return mz_fail(err, MZ_EINVAL, "%s: unexpected parameter layout", plain->variant);
        l->w_off = b.off;
        add_tensor(&b, l->module_index, "weight", w->ndim, w->shape);
        l->b_off = b.off;
        add_tensor(&b, l->module_index, "bias", bias->ndim, bias->shape);
        l->s_off = b.off;
        add_tensor(&b, l->module_index, "log_sigma2", w->ndim, w->shape);
        l->sb_off = b.off;
        add_tensor(&b, l->module_index, "log_sigma2_bias", bias->ndim, bias->shape);
        l->ard_ordinal = a.n_ard_layers++;
        a.n_ard_weights += w->count;
    }
    a.n_params = b.off;
    if (snprintf(a.variant, sizeof a.variant, "%s/ard", plain->variant) >= (int)sizeof a.variant)
        return mz_fail(err, MZ_EINVAL, "%s: variant name too long", plain->variant);
    *ard = a;
    return MZ_OK;
}
