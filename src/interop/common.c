/* What the importers and exporters share: strings, JSON as Python writes it, digests, CSV
 * records and the layouts of the architectures a source may hold. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/interop-impl.h"
#include "mzoo/nn.h"
#include "core/banned.h"

/* ---- strings ---- */

void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void sb_puts(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sb_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

void sb_double(sbuf *b, double v)
{
    if (isnan(v)) {
        sb_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        sb_puts(b, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char buf[40];
    mz_format_double(buf, sizeof buf, v);
    sb_puts(b, buf);
    if (!strpbrk(buf, ".e"))
        sb_puts(b, ".0");
}

void sb_json_string(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            sb_puts(b, "\\\"");
            break;
        case '\\':
            sb_puts(b, "\\\\");
            break;
        case '\n':
            sb_puts(b, "\\n");
            break;
        case '\r':
            sb_puts(b, "\\r");
            break;
        case '\t':
            sb_puts(b, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                sb_printf(b, "\\u%04x", *p);
            else
                sb_add(b, (const char *)p, 1);
        }
    }
    sb_add(b, "\"", 1);
}

/* ---- JSON with NaN ---- */

static const char *const markers[3] = {"\001NaN", "\001Infinity", "\001-Infinity"};

char *mz_json_nan_rewrite(const char *text, size_t n)
{
    sbuf b = {0};
    sb_add(&b, "", 0);
    size_t i = 0, from = 0;
    int in_str = 0;
    while (i < n) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            i++;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            i++;
            continue;
        }
        static const char *const tokens[3] = {"NaN", "Infinity", "-Infinity"};
        int hit = -1;
        for (int t = 0; t < 3 && hit < 0; t++) {
            size_t tl = strlen(tokens[t]);
            if (n - i >= tl && !memcmp(text + i, tokens[t], tl) &&
                (i == 0 || strchr(" \t\r\n[,:", text[i - 1])) &&
                (i + tl == n || strchr(" \t\r\n,]}", text[i + tl])))
                hit = t;
        }
        if (hit < 0) {
            i++;
            continue;
        }
        sb_add(&b, text + from, i - from);
        sb_puts(&b, "\"\\u0001");
        sb_puts(&b, markers[hit] + 1);
        sb_puts(&b, "\"");
        i += strlen(markers[hit] + 1);
        from = i;
    }
    sb_add(&b, text + from, n - from);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

json_t *mz_json_parse(const char *text, size_t n, const char *origin, mz_error *err)
{
    if (memchr(text, 0, n)) {
        mz_fail(err, MZ_EFORMAT, "%s: holds a NUL byte", origin);
        return NULL;
    }
    char *t = mz_json_nan_rewrite(text, n);
    if (!t) {
        mz_fail(err, MZ_ENOMEM, "%s: out of memory", origin);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loads(t, JSON_REJECT_DUPLICATES, &je);
    free(t);
    if (!v)
        mz_fail(err, MZ_EFORMAT, "%s: line %d column %d: %s", origin, je.line, je.column, je.text);
    return v;
}

static int marker_of(const json_t *v)
{
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, markers[i]))
            return i;
    return -1;
}

int mz_json_is_nonfinite(const json_t *v)
{
    return marker_of(v) >= 0;
}

int mz_json_number(const json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return 1;
    }
    int m = marker_of(v);
    if (m < 0)
        return 0;
    *out = m == 0 ? NAN : m == 1 ? INFINITY : -INFINITY;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void newline(sbuf *b, int indent, int depth)
{
    if (!indent)
        return;
    sb_add(b, "\n", 1);
    for (int i = 0; i < indent * depth; i++)
        sb_add(b, " ", 1);
}

static void write_value(sbuf *b, const json_t *v, int indent, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), k = 0;
        if (!n) {
            sb_puts(b, "{}");
            return;
        }
        const char **keys = malloc(n * sizeof *keys);
        if (!keys) {
            b->oom = 1;
            return;
        }
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)v, key, x) keys[k++] = key;
        qsort(keys, n, sizeof *keys, cmp_str);
        sb_add(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_add(b, ",", 1);
            newline(b, indent, depth + 1);
            sb_json_string(b, keys[i]);
            sb_puts(b, indent ? ": " : ":");
            write_value(b, json_object_get(v, keys[i]), indent, depth + 1);
        }
        newline(b, indent, depth);
        sb_add(b, "}", 1);
        free(keys);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (!n) {
            sb_puts(b, "[]");
            return;
        }
        sb_add(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_add(b, ",", 1);
            newline(b, indent, depth + 1);
            write_value(b, json_array_get(v, i), indent, depth + 1);
        }
        newline(b, indent, depth);
        sb_add(b, "]", 1);
        return;
    }
    case JSON_STRING: {
        int m = marker_of(v);
        if (m >= 0)
            sb_puts(b, markers[m] + 1);
        else
            sb_json_string(b, json_string_value(v));
        return;
    }
    case JSON_INTEGER:
        sb_printf(b, "%lld", (long long)json_integer_value(v));
        return;
    case JSON_REAL:
        sb_double(b, json_real_value(v));
        return;
    case JSON_TRUE:
        sb_puts(b, "true");
        return;
    case JSON_FALSE:
        sb_puts(b, "false");
        return;
    default:
        sb_puts(b, "null");
    }
}

void mz_json_write(sbuf *b, const json_t *v, int indent)
{
    write_value(b, v, indent, 0);
}

char *mz_json_canonical(const json_t *v)
{
    sbuf b = {0};
    mz_json_write(&b, v, 0);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- string maps ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static int strmap_grow(mz_strmap *m)
{
    size_t cap = m->cap ? 2 * m->cap : 64;
    char **keys = calloc(cap, sizeof *keys);
    int64_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = hash_str(m->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int mz_strmap_put(mz_strmap *m, const char *key, int64_t val)
{
    if ((m->n + 1) * 2 > m->cap && strmap_grow(m))
        return -1;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j] && strcmp(m->keys[j], key) != 0)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j]) {
        if (!(m->keys[j] = mz_strdup(key)))
            return -1;
        m->n++;
    }
    m->vals[j] = val;
    return 0;
}

int64_t mz_strmap_get(const mz_strmap *m, const char *key)
{
    if (!m->cap)
        return -1;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (!strcmp(m->keys[j], key))
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void mz_strmap_release(mz_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- digests ---- */

void mz_digest_init(mz_digest *d)
{
    d->fnv = 0xcbf29ce484222325ull;
    d->crc = 0;
    d->bytes = 0;
}

void mz_digest_add(mz_digest *d, const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = d->fnv;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    d->fnv = h;
    d->crc = mz_crc32(d->crc, data, n);
    d->bytes += n;
}

void mz_digest_u64(mz_digest *d, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    mz_digest_add(d, b, 8);
}

void mz_digest_str(mz_digest *d, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    mz_digest_u64(d, n);
    mz_digest_add(d, s ? s : "", n);
}

void mz_digest_hex(const mz_digest *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "fnv1a64:%016llx-crc32:%08x", (unsigned long long)d->fnv, (unsigned)d->crc);
}

/* ---- CSV ---- */

#define CSV_MAX_RECORD (1 << 20)
#define CSV_MAX_FIELDS 4096

struct mz_csv {
    mz_gz *gz;
    char *path;
    unsigned char in[1 << 16];
    size_t in_n, in_pos;
    int eof;
    int64_t line, record_line;
    char *rec; /* the record's fields, NUL-terminated, back to back */
    size_t rec_n, rec_cap;
    size_t *starts; /* offsets of the fields in rec */
    char **fields;
    mz_digest *digest;
};

mz_status mz_csv_open(mz_csv **out, const char *path, mz_error *err)
{
    *out = NULL;
    mz_csv *c = calloc(1, sizeof *c);
    if (!c || !(c->path = mz_strdup(path)) ||
        !(c->starts = malloc(CSV_MAX_FIELDS * sizeof *c->starts)) ||
        !(c->fields = malloc(CSV_MAX_FIELDS * sizeof *c->fields))) {
        mz_csv_close(c);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    c->line = 1;
    mz_status st = mz_gz_open(&c->gz, c->path, 1, err);
    if (st) {
        mz_csv_close(c);
        return st;
    }
    *out = c;
    return MZ_OK;
}

void mz_csv_close(mz_csv *c)
{
    if (!c)
        return;
    mz_gz_close(c->gz);
    free(c->rec);
    free(c->starts);
    free(c->fields);
    free(c->path);
    free(c);
}

void mz_csv_digest(mz_csv *c, mz_digest *d)
{
    c->digest = d;
}

int64_t mz_csv_line(const mz_csv *c)
{
    return c->record_line;
}

/* The next byte, or -1 at the end. */
static int next_byte(mz_csv *c, mz_status *st, mz_error *err)
{
    if (c->in_pos == c->in_n) {
        if (c->eof)
            return -1;
        size_t got = 0;
        if ((*st = mz_gz_read(c->gz, c->in, sizeof c->in, &got, err)))
            return -1;
        if (c->digest)
            mz_digest_add(c->digest, c->in, got);
        c->in_n = got;
        c->in_pos = 0;
        if (got < sizeof c->in)
            c->eof = 1;
        if (!got)
            return -1;
    }
    return c->in[c->in_pos++];
}

static int peek_byte(mz_csv *c, mz_status *st, mz_error *err)
{
    int b = next_byte(c, st, err);
    if (b >= 0)
        c->in_pos--;
    return b;
}

static int rec_put(mz_csv *c, char ch)
{
    if (c->rec_n + 1 >= c->rec_cap) {
        if (c->rec_cap >= CSV_MAX_RECORD)
            return -1;
        size_t cap = c->rec_cap ? 2 * c->rec_cap : 4096;
        char *n = realloc(c->rec, cap);
        if (!n)
            return -2;
        c->rec = n;
        c->rec_cap = cap;
    }
    c->rec[c->rec_n++] = ch;
    return 0;
}

mz_status mz_csv_next(mz_csv *c, char ***fields, int *nf, mz_error *err)
{
    mz_status st = MZ_OK;
    *nf = 0;
    c->rec_n = 0;
    c->record_line = c->line;
    int n = 0, quoted = 0, in_quotes = 0, after_quote = 0, any = 0;
    c->starts[0] = 0;
    for (;;) {
        int b = next_byte(c, &st, err);
        if (st)
            return st;
        if (b < 0) {
            if (in_quotes)
                return mz_fail(err, MZ_EFORMAT,
                               "%s: line %lld: a quoted field that starts there never ends",
                               c->path, (long long)c->record_line);
            if (!any)
                return MZ_OK; /* the end */
            b = '\n';
        }
        any = 1;
        if (in_quotes) {
            if (b == '"') {
                if (peek_byte(c, &st, err) == '"') {
                    next_byte(c, &st, err);
                } else {
                    in_quotes = 0;
                    after_quote = 1;
                    continue;
                }
            }
            if (b == '\n')
                c->line++;
        } else if (b == ',' || b == '\n' || b == '\r') {
            if (b == '\r') {
                if (peek_byte(c, &st, err) != '\n')
                    return mz_fail(err, MZ_EFORMAT,
                                   "%s: line %lld: a carriage return inside "
                                   "a record",
                                   c->path, (long long)c->line);
                continue;
            }
            int r = rec_put(c, 0);
            if (r)
                return mz_fail(err, r == -1 ? MZ_ELIMIT : MZ_ENOMEM,
                               "%s: line %lld: a record longer than %d bytes", c->path,
                               (long long)c->record_line, CSV_MAX_RECORD);
            if (++n >= CSV_MAX_FIELDS)
                return mz_fail(err, MZ_ELIMIT, "%s: line %lld: more than %d fields", c->path,
                               (long long)c->record_line, CSV_MAX_FIELDS);
            c->starts[n] = c->rec_n;
            quoted = after_quote = 0;
            if (b == '\n') {
                c->line++;
                break;
            }
            continue;
        } else if (b == '"') {
            if (c->rec_n != c->starts[n] || quoted)
                return mz_fail(err, MZ_EFORMAT,
                               "%s: line %lld, field %d: a quote inside an unquoted field", c->path,
                               (long long)c->line, n + 1);
            quoted = in_quotes = 1;
            continue;
        } else if (after_quote) {
            return mz_fail(err, MZ_EFORMAT, "%s: line %lld, field %d: text after the closing quote",
                           c->path, (long long)c->line, n + 1);
        }
        int r = rec_put(c, (char)b);
        if (r)
            return mz_fail(err, r == -1 ? MZ_ELIMIT : MZ_ENOMEM,
                           "%s: line %lld: a record longer than %d bytes", c->path,
                           (long long)c->record_line, CSV_MAX_RECORD);
    }
    for (int i = 0; i < n; i++)
        c->fields[i] = c->rec + c->starts[i];
    *fields = c->fields;
    *nf = n;
    return MZ_OK;
}

/* ---- layouts ---- */

void mz_variant_arch(const char *variant, char *arch, size_t cap)
{
    size_t n = strcspn(variant, "/");
    snprintf(arch, cap, "%.*s", (int)n, variant);
}

static void add_tensor(mz_ilayout *L, const char *name, int ndim, const int64_t *shape)
{
    mz_tensor_desc *t = &L->t[L->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->count *= shape[d];
    }
    t->offset = L->n_params;
    L->n_params += t->count;
}

mz_status mz_ilayout_make(mz_ilayout *L, const char *arch, int channels, int dropout_layers,
                          int classes, int layers, int units, mz_error *err)
{
    memset(L, 0, sizeof *L);
    snprintf(L->arch, sizeof L->arch, "%s", arch);
    if (!strcmp(arch, "cnn-s") || !strcmp(arch, "cnn-l")) {
        mz_arch a;
        int s = !strcmp(arch, "cnn-s") ? 28 : 32;
        mz_status st = mz_arch_init(&a, arch, channels, s, s, dropout_layers ? 0.5 : 0.0, err);
        if (st)
            return st;
        snprintf(L->variant, sizeof L->variant, "%s", a.variant);
        L->n = a.n_tensors;
        memcpy(L->t, a.tensors, (size_t)a.n_tensors * sizeof *L->t);
        L->n_params = a.n_params;
        return MZ_OK;
    }
    if (!strcmp(arch, "resnet18")) {
        mz_resnet *net = malloc(sizeof *net);
        if (!net)
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        mz_status st = mz_resnet_init(net, channels, 32, 32, classes, err);
        if (!st) {
            snprintf(L->variant, sizeof L->variant, "%s", net->variant);
            L->n = net->n_tensors;
            memcpy(L->t, net->tensors, (size_t)net->n_tensors * sizeof *L->t);
            L->n_params = net->n_state;
        }
        free(net);
        return st;
    }
    if (!strcmp(arch, "smallcnn")) {
        if (channels < 1 || channels > 4 || layers < 1 || layers > 8 || units < 1 || units > 4096 ||
            classes < 1 || classes > 100000)
            return mz_fail(err, MZ_EINVAL,
                           "smallcnn: %d channels, %d layers of %d units, %d classes (out of "
                           "range)",
                           channels, layers, units, classes);
        if (layers == 3 && units == 16 && classes == 10)
            snprintf(L->variant, sizeof L->variant, "smallcnn/c%d", channels);
        else
            snprintf(L->variant, sizeof L->variant, "smallcnn/c%d/l%du%dk%d", channels, layers,
                     units, classes);
        int cin = channels;
        for (int i = 0; i < layers; i++) {
            char name[32];
            int64_t w[4] = {units, cin, 3, 3}, b[1] = {units};
            snprintf(name, sizeof name, "conv%d.weight", i + 1);
            add_tensor(L, name, 4, w);
            snprintf(name, sizeof name, "conv%d.bias", i + 1);
            add_tensor(L, name, 1, b);
            cin = units;
        }
        int64_t w[2] = {classes, units}, b[1] = {classes};
        add_tensor(L, "fc.weight", 2, w);
        add_tensor(L, "fc.bias", 1, b);
        return MZ_OK;
    }
    return mz_fail(err, MZ_EUNSUPPORTED, "no layout for architecture '%s'", arch);
}

mz_status mz_ilayout_make_ard(mz_ilayout *L, const char *arch, int channels, int dropout_layers,
                              mz_error *err)
{
    memset(L, 0, sizeof *L);
    if (strcmp(arch, "cnn-s") != 0 && strcmp(arch, "cnn-l") != 0)
        return mz_fail(err, MZ_EUNSUPPORTED, "no variational-dropout twin of architecture '%s'",
                       arch);
    mz_arch plain;
    int s = !strcmp(arch, "cnn-s") ? 28 : 32;
    mz_status st = mz_arch_init(&plain, arch, channels, s, s, dropout_layers ? 0.5 : 0.0, err);
    if (!st)
        st = mz_arch_init_ard(&L->ard_arch, &plain, err);
    if (st)
        return st;
    const mz_arch *a = &L->ard_arch;
    snprintf(L->arch, sizeof L->arch, "%s", arch);
    snprintf(L->variant, sizeof L->variant, "%s", a->variant);
    L->n = a->n_tensors;
    memcpy(L->t, a->tensors, (size_t)a->n_tensors * sizeof *L->t);
    L->n_params = a->n_params;
    L->ard = 1;
    L->n_unused = mz_ard_frozen_spans(a, L->unused);
    return MZ_OK;
}

int mz_ilayout_is_ard(const mz_ilayout *L)
{
    size_t n = strlen(L->variant);
    if (n < 4 || strcmp(L->variant + n - 4, "/ard") != 0)
        return 0;
    for (int i = 0; i < L->n; i++) {
        size_t k = strlen(L->t[i].name);
        if (k >= 11 && !strcmp(L->t[i].name + k - 11, ".log_sigma2"))
            return 1;
    }
    return 0;
}
