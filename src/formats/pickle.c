/* A pickle interpreter for PyTorch state_dicts that executes nothing.
 *
 * A pickle is a program for a stack machine; Python's unpickler imports any module and calls any
 * function the program names. This one knows only the opcodes torch.save's pickles use (protocol
 * 2, plus FRAME, MEMOIZE, STACK_GLOBAL and the short string opcodes of protocols 3-5) and builds
 * plain values (None, bool, int64, float, str, tuple, list, dict). The only callables are an
 * allow-list of globals, "called" by REDUCE as descriptions: collections.OrderedDict() makes a
 * dict, torch._utils._rebuild_tensor_v2 and _rebuild_parameter make a tensor description after
 * checking it against its storage, and torch.<Type>Storage only names an element type inside a
 * persistent id. Every count the program implies (values pushed, memo slots, open marks, string
 * bytes, tensors) is capped before memory is taken for it.
 *
 * Values live in a pool freed at the end: a value is never freed on its own (the memo and
 * containers share them), and containers grow by doubling, so the pool stays within a small
 * multiple of max_objects. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pt-impl.h"
#include "core/banned.h"

/* ---- values ---- */

typedef enum vkind {
    V_NONE,
    V_BOOL,
    V_INT,
    V_FLOAT,
    V_STR,
    V_TUPLE,
    V_LIST,
    V_DICT,
    V_GLOBAL,
    V_STORAGE,
    V_TENSOR,
} vkind;

static const char *const kind_names[] = {"None", "bool", "int",    "float",   "str",   "tuple",
                                         "list", "dict", "global", "storage", "tensor"};

typedef struct val val;
struct val {
    vkind k;
    int ordered; /* V_DICT made by collections.OrderedDict() */
    int64_t i;   /* V_BOOL, V_INT; V_GLOBAL: index into allowed[]; V_STORAGE, V_TENSOR: index */
    double f;
    char *s; /* V_STR: NUL-terminated, len bytes */
    size_t len;
    val **v; /* V_TUPLE, V_LIST: n items; V_DICT: n pairs as v[2k], v[2k+1] */
    int64_t n, cap;
};

/* The globals a state_dict may name. */
enum { G_ORDERED_DICT, G_REBUILD_TENSOR, G_REBUILD_PARAMETER, G_FIRST_STORAGE };
static const struct {
    const char *module, *name;
    mz_dtype dtype; /* storages */
} allowed[] = {
    {"collections", "OrderedDict", MZ_DT_COUNT},
    {"torch._utils", "_rebuild_tensor_v2", MZ_DT_COUNT},
    {"torch._utils", "_rebuild_parameter", MZ_DT_COUNT},
    {"torch", "FloatStorage", MZ_DT_F32},
    {"torch", "DoubleStorage", MZ_DT_F64},
    {"torch", "HalfStorage", MZ_DT_F16},
    {"torch", "BFloat16Storage", MZ_DT_BF16},
    {"torch", "LongStorage", MZ_DT_I64},
    {"torch", "IntStorage", MZ_DT_I32},
    {"torch", "ShortStorage", MZ_DT_I16},
    {"torch", "CharStorage", MZ_DT_I8},
    {"torch", "ByteStorage", MZ_DT_U8},
    {"torch", "BoolStorage", MZ_DT_BOOL},
};
#define N_ALLOWED ((int)(sizeof allowed / sizeof allowed[0]))

typedef struct block {
    struct block *next;
    size_t size;
    max_align_t data[];
} block;

typedef struct machine {
    const unsigned char *p;
    size_t n, pos, at; /* at: offset of the opcode being run */
    unsigned op;
    const char *origin;
    mz_pt_limits lim;
    mz_error *err;
    block *blocks;
    val **stack;
    int64_t sp, scap;
    int64_t *marks;
    int n_marks;
    val **memo;
    int64_t memo_cap, memo_len; /* slots allocated; slots set */
    int64_t values;             /* values pushed so far (every push counts against max_objects) */
    mz_pt_tensor *tensors;
    int n_tensors, tcap;
    mz_pkl_storage *storages;
    int n_storages, scap2;
} machine;

/* Opcode names, for messages: those a state_dict uses, then those pickle has but this reader
 * refuses. */
static const struct {
    unsigned char op;
    const char *name;
} op_names[] = {
    {0x80, "PROTO"},
    {0x95, "FRAME"},
    {'c', "GLOBAL"},
    {0x93, "STACK_GLOBAL"},
    {'q', "BINPUT"},
    {'r', "LONG_BINPUT"},
    {0x94, "MEMOIZE"},
    {'h', "BINGET"},
    {'j', "LONG_BINGET"},
    {'(', "MARK"},
    {')', "EMPTY_TUPLE"},
    {'t', "TUPLE"},
    {0x85, "TUPLE1"},
    {0x86, "TUPLE2"},
    {0x87, "TUPLE3"},
    {']', "EMPTY_LIST"},
    {'l', "LIST"},
    {'a', "APPEND"},
    {'e', "APPENDS"},
    {'}', "EMPTY_DICT"},
    {'d', "DICT"},
    {'s', "SETITEM"},
    {'u', "SETITEMS"},
    {'N', "NONE"},
    {0x88, "NEWTRUE"},
    {0x89, "NEWFALSE"},
    {'K', "BININT1"},
    {'M', "BININT2"},
    {'J', "BININT"},
    {0x8a, "LONG1"},
    {'G', "BINFLOAT"},
    {'X', "BINUNICODE"},
    {0x8c, "SHORT_BINUNICODE"},
    {0x8d, "BINUNICODE8"},
    {'Q', "BINPERSID"},
    {'R', "REDUCE"},
    {'b', "BUILD"},
    {'.', "STOP"},
    {'i', "INST"},
    {'o', "OBJ"},
    {0x81, "NEWOBJ"},
    {0x92, "NEWOBJ_EX"},
    {'P', "PERSID"},
    {0x82, "EXT1"},
    {0x83, "EXT2"},
    {0x84, "EXT4"},
    {'I', "INT"},
    {'L', "LONG"},
    {'F', "FLOAT"},
    {'S', "STRING"},
    {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"},
    {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"},
    {0x8e, "BINBYTES8"},
    {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"},
    {0x98, "READONLY_BUFFER"},
    {0x8f, "EMPTY_SET"},
    {0x90, "ADDITEMS"},
    {0x91, "FROZENSET"},
    {0x8b, "LONG4"},
    {'0', "POP"},
    {'1', "POP_MARK"},
    {'2', "DUP"},
    {'g', "GET"},
    {'p', "PUT"},
};

static const char *op_name(unsigned op)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (op_names[i].op == op)
            return op_names[i].name;
    return "unknown opcode";
}

/* "<origin> offset 145: opcode 0x51 (BINPERSID): <message>" */
static mz_status fail(machine *m, mz_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static mz_status fail(machine *m, mz_status code, const char *fmt, ...)
{
    char msg[MZ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mz_fail(m->err, code, "%s offset %zu: opcode 0x%02x (%s): %s", m->origin, m->at, m->op,
                   op_name(m->op), msg);
}

static void *pool_alloc(machine *m, size_t bytes)
{
    if (bytes > ((size_t)1 << 40))
        return NULL;
    block *b = malloc(sizeof *b + bytes);
    if (!b)
        return NULL;
    b->next = m->blocks;
    b->size = bytes;
    m->blocks = b;
    return b->data;
}

static val *new_val(machine *m, vkind k)
{
    val *v = pool_alloc(m, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->k = k;
    }
    return v;
}

/* Room for one more item (pairs count as two) in a container, doubling. */
static int grow(machine *m, val *c, int64_t need)
{
    if (need <= c->cap)
        return 0;
    int64_t cap = c->cap ? c->cap : 4;
    while (cap < need)
        cap *= 2;
    val **nv = pool_alloc(m, (size_t)cap * sizeof *nv);
    if (!nv)
        return -1;
    if (c->cap)
        memcpy(nv, c->v, (size_t)c->cap * sizeof *nv);
    c->v = nv;
    c->cap = cap;
    return 0;
}

static mz_status push(machine *m, val *v)
{
    if (!v)
        return fail(m, MZ_ENOMEM, "out of memory");
    if (++m->values > m->lim.max_objects)
        return fail(m, MZ_ELIMIT,
                    "more than %lld values (limit; a state_dict needs a few per "
                    "tensor)",
                    (long long)m->lim.max_objects);
    if (m->sp == m->scap) {
        int64_t cap = m->scap ? m->scap * 2 : 64;
        val **ns = realloc(m->stack, (size_t)cap * sizeof *ns);
        if (!ns)
            return fail(m, MZ_ENOMEM, "out of memory");
        m->stack = ns;
        m->scap = cap;
    }
    m->stack[m->sp++] = v;
    return MZ_OK;
}

/* The stack's floor: the last mark, or 0. Values below it belong to an enclosing MARK. */
static int64_t floor_of(const machine *m)
{
    return m->n_marks ? m->marks[m->n_marks - 1] : 0;
}

static mz_status pop(machine *m, val **out)
{
    if (m->sp <= floor_of(m))
        return fail(m, MZ_EFORMAT, "the stack is empty%s", m->n_marks ? " above the mark" : "");
    *out = m->stack[--m->sp];
    return MZ_OK;
}

static mz_status top(machine *m, val **out)
{
    if (m->sp <= floor_of(m))
        return fail(m, MZ_EFORMAT, "the stack is empty%s", m->n_marks ? " above the mark" : "");
    *out = m->stack[m->sp - 1];
    return MZ_OK;
}

/* Closes the last MARK: *first = index of the first value above it. */
static mz_status pop_mark(machine *m, int64_t *first)
{
    if (!m->n_marks)
        return fail(m, MZ_EFORMAT, "no MARK is open");
    *first = m->marks[--m->n_marks];
    return MZ_OK;
}

static mz_status need(machine *m, size_t k)
{
    if (m->n - m->pos < k)
        return fail(m, MZ_EFORMAT,
                    "its %zu argument bytes run past the end of the pickle (%zu "
                    "bytes)",
                    k, m->n);
    return MZ_OK;
}

static uint64_t le(const unsigned char *p, int k)
{
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        int k;
        uint32_t cp;
        if (c == 0)
            return 0; /* NUL: names must be C strings */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i - 1 < (size_t)k)
            return 0;
        for (int j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

static mz_status push_str(machine *m, size_t len)
{
    mz_status st = need(m, len);
    if (st)
        return st;
    if (len > (size_t)m->lim.max_string)
        return fail(m, MZ_ELIMIT, "a string of %zu bytes (limit %d)", len, m->lim.max_string);
    const unsigned char *s = m->p + m->pos;
    if (!utf8_valid(s, len))
        return fail(m, MZ_EFORMAT, "the string is not valid UTF-8 or holds a NUL byte");
    val *v = new_val(m, V_STR);
    char *c = v ? pool_alloc(m, len + 1) : NULL;
    if (!c)
        return fail(m, MZ_ENOMEM, "out of memory");
    memcpy(c, s, len);
    c[len] = 0;
    v->s = c;
    v->len = len;
    m->pos += len;
    return push(m, v);
}

static mz_status push_int(machine *m, int64_t i)
{
    val *v = new_val(m, V_INT);
    if (v)
        v->i = i;
    return push(m, v);
}

static mz_status push_global(machine *m, const char *module, const char *name)
{
    for (int g = 0; g < N_ALLOWED; g++)
        if (!strcmp(allowed[g].module, module) && !strcmp(allowed[g].name, name)) {
            val *v = new_val(m, V_GLOBAL);
            if (v)
                v->i = g;
            return push(m, v);
        }
    return fail(m, MZ_EFORMAT,
                "the global %s.%s is not allowed (a state_dict names only "
                "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                "torch._utils._rebuild_parameter and torch.<Type>Storage; nothing is executed)",
                module, name);
}

/* GLOBAL's two text lines, "module\nname\n". */
static mz_status read_line(machine *m, char *buf, size_t cap, const char *what)
{
    size_t i = 0;
    for (;;) {
        if (m->pos >= m->n)
            return fail(m, MZ_EFORMAT, "the %s line runs past the end of the pickle", what);
        unsigned c = m->p[m->pos++];
        if (c == '\n')
            break;
        if (c < 0x21 || c > 0x7e || i + 1 >= cap)
            return fail(m, MZ_EFORMAT, "the %s line holds a byte 0x%02x or is longer than %zu",
                        what, c, cap - 1);
        buf[i++] = (char)c;
    }
    buf[i] = 0;
    return MZ_OK;
}

static mz_status memo_put(machine *m, uint64_t idx)
{
    val *v = NULL;
    mz_status st = top(m, &v);
    if (st)
        return st;
    if (idx >= (uint64_t)m->lim.max_objects)
        return fail(m, MZ_ELIMIT, "memo slot %llu (limit %lld)", (unsigned long long)idx,
                    (long long)m->lim.max_objects);
    if ((int64_t)idx >= m->memo_cap) {
        int64_t cap = m->memo_cap ? m->memo_cap : 64;
        while (cap <= (int64_t)idx)
            cap *= 2;
        if (cap > m->lim.max_objects)
            cap = m->lim.max_objects;
        val **nm = realloc(m->memo, (size_t)cap * sizeof *nm);
        if (!nm)
            return fail(m, MZ_ENOMEM, "out of memory");
        memset(nm + m->memo_cap, 0, (size_t)(cap - m->memo_cap) * sizeof *nm);
        m->memo = nm;
        m->memo_cap = cap;
    }
    if (!m->memo[idx])
        m->memo_len++;
    m->memo[idx] = v;
    return MZ_OK;
}

static mz_status memo_get(machine *m, uint64_t idx)
{
    if (idx >= (uint64_t)m->memo_cap || !m->memo[idx])
        return fail(m, MZ_EFORMAT, "memo slot %llu was never set", (unsigned long long)idx);
    return push(m, m->memo[idx]);
}

/* A tuple (or list) of the values from stack index `first` up. */
static mz_status collect(machine *m, vkind k, int64_t first)
{
    int64_t cnt = m->sp - first;
    val *t = new_val(m, k);
    if (!t || grow(m, t, cnt))
        return fail(m, MZ_ENOMEM, "out of memory");
    if (cnt)
        memcpy(t->v, m->stack + first, (size_t)cnt * sizeof *t->v);
    t->n = cnt;
    m->sp = first;
    return push(m, t);
}

static mz_status append_items(machine *m, val *list, int64_t first)
{
    if (list->k != V_LIST)
        return fail(m, MZ_EFORMAT, "appending to a %s, not a list", kind_names[list->k]);
    int64_t cnt = m->sp - first;
    if (cnt == 0) /* an empty APPENDS: list->v may still be NULL, and NULL + 0 is undefined */
        return MZ_OK;
    if (grow(m, list, list->n + cnt))
        return fail(m, MZ_ENOMEM, "out of memory");
    memcpy(list->v + list->n, m->stack + first, (size_t)cnt * sizeof *list->v);
    list->n += cnt;
    m->sp = first;
    return MZ_OK;
}

static mz_status set_items(machine *m, val *dict, int64_t first)
{
    if (dict->k != V_DICT)
        return fail(m, MZ_EFORMAT, "setting items of a %s, not a dict", kind_names[dict->k]);
    int64_t cnt = m->sp - first;
    if (cnt % 2)
        return fail(m, MZ_EFORMAT, "%lld values after the mark, not key-value pairs",
                    (long long)cnt);
    if (cnt == 0) /* an empty SETITEMS: dict->v may still be NULL, and NULL + 0 is undefined */
        return MZ_OK;
    if (grow(m, dict, 2 * dict->n + cnt))
        return fail(m, MZ_ENOMEM, "out of memory");
    memcpy(dict->v + 2 * dict->n, m->stack + first, (size_t)cnt * sizeof *dict->v);
    dict->n += cnt / 2;
    m->sp = first;
    return MZ_OK;
}

/* ---- persistent ids, tensors ---- */

static int key_ok(const char *k, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = k[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* ('storage', torch.<Type>Storage, key, location, numel) */
static mz_status persistent_load(machine *m)
{
    val *pid = NULL;
    mz_status st = pop(m, &pid);
    if (st)
        return st;
    if (pid->k != V_TUPLE || pid->n != 5 || pid->v[0]->k != V_STR ||
        strcmp(pid->v[0]->s, "storage") != 0)
        return fail(m, MZ_EFORMAT,
                    "a persistent id that is not ('storage', type, key, location, numel) (a %s "
                    "of %lld)",
                    kind_names[pid->k], (long long)pid->n);
    val *type = pid->v[1], *key = pid->v[2], *loc = pid->v[3], *numel = pid->v[4];
    if (type->k != V_GLOBAL || type->i < G_FIRST_STORAGE)
        return fail(m, MZ_EFORMAT, "the storage type is a %s, not torch.<Type>Storage",
                    type->k == V_GLOBAL ? allowed[type->i].name : kind_names[type->k]);
    if (key->k != V_STR || !key_ok(key->s, key->len))
        return fail(m, MZ_EFORMAT,
                    "the storage key is not a name of 1 to 64 letters, digits, '_' or '-'");
    if (loc->k != V_STR || loc->len > 64)
        return fail(m, MZ_EFORMAT, "storage %s: the location is not a short string", key->s);
    if (numel->k != V_INT || numel->i < 0)
        return fail(m, MZ_EFORMAT, "storage %s: its size is %s", key->s,
                    numel->k == V_INT ? "negative" : "not an integer");
    mz_dtype dt = allowed[type->i].dtype;
    int64_t bytes;
    if (mz_mul_overflow_i64(numel->i, (int64_t)mz_dtype_size(dt), &bytes) ||
        (uint64_t)bytes > m->lim.max_storage_bytes)
        return fail(m, MZ_ELIMIT,
                    "storage %s: %lld elements of %s, more than the limit of %llu "
                    "bytes",
                    key->s, (long long)numel->i, mz_dtype_name(dt),
                    (unsigned long long)m->lim.max_storage_bytes);
    int s;
    for (s = 0; s < m->n_storages; s++)
        if (!strcmp(m->storages[s].key, key->s))
            break;
    if (s < m->n_storages) {
        if (m->storages[s].dtype != dt || m->storages[s].numel != numel->i)
            return fail(m, MZ_EFORMAT,
                        "storage %s is named again as %lld elements of %s (first %lld of %s)",
                        key->s, (long long)numel->i, mz_dtype_name(dt),
                        (long long)m->storages[s].numel, mz_dtype_name(m->storages[s].dtype));
    } else {
        if (m->n_storages >= m->lim.max_tensors)
            return fail(m, MZ_ELIMIT, "more than %d storages", m->lim.max_tensors);
        if (m->n_storages == m->scap2) {
            int cap = m->scap2 ? 2 * m->scap2 : 16;
            mz_pkl_storage *ns = realloc(m->storages, (size_t)cap * sizeof *ns);
            if (!ns)
                return fail(m, MZ_ENOMEM, "out of memory");
            m->storages = ns;
            m->scap2 = cap;
        }
        mz_pkl_storage *ps = &m->storages[m->n_storages++];
        ps->key = key->s;
        ps->location = loc->s;
        ps->dtype = dt;
        ps->numel = numel->i;
    }
    val *v = new_val(m, V_STORAGE);
    if (v)
        v->i = s;
    return push(m, v);
}

static mz_status int_tuple(machine *m, const val *t, const char *what, int64_t *out, int *n)
{
    if (t->k != V_TUPLE)
        return fail(m, MZ_EFORMAT, "the %s is a %s, not a tuple", what, kind_names[t->k]);
    if (t->n > MZ_ARRAY_MAX_DIMS)
        return fail(m, MZ_ELIMIT, "the %s has %lld dimensions (at most %d are read)", what,
                    (long long)t->n, MZ_ARRAY_MAX_DIMS);
    for (int64_t d = 0; d < t->n; d++) {
        if (t->v[d]->k != V_INT || t->v[d]->i < 0)
            return fail(m, MZ_EFORMAT, "%s[%lld] is %s", what, (long long)d,
                        t->v[d]->k == V_INT ? "negative" : "not an integer");
        out[d] = t->v[d]->i;
    }
    *n = (int)t->n;
    return MZ_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
 * [, metadata]) */
static mz_status rebuild_tensor(machine *m, const val *a)
{
    if (a->n != 6 && a->n != 7)
        return fail(m, MZ_EFORMAT, "_rebuild_tensor_v2 takes 6 or 7 arguments, not %lld",
                    (long long)a->n);
    const val *sv = a->v[0], *off = a->v[1], *rg = a->v[4], *hooks = a->v[5];
    if (sv->k != V_STORAGE)
        return fail(m, MZ_EFORMAT, "_rebuild_tensor_v2: the first argument is a %s, not a storage",
                    kind_names[sv->k]);
    const mz_pkl_storage *s = &m->storages[sv->i];
    if (off->k != V_INT || off->i < 0)
        return fail(m, MZ_EFORMAT, "storage %s: the storage offset is %s", s->key,
                    off->k == V_INT ? "negative" : "not an integer");
    if (rg->k != V_BOOL)
        return fail(m, MZ_EFORMAT, "storage %s: requires_grad is a %s, not a bool", s->key,
                    kind_names[rg->k]);
    if (hooks->k != V_DICT || hooks->n != 0)
        return fail(m, MZ_EFORMAT, "storage %s: backward hooks (a %s of %lld) are not read", s->key,
                    kind_names[hooks->k], (long long)hooks->n);
    if (a->n == 7 && (a->v[6]->k != V_DICT || a->v[6]->n != 0))
        return fail(m, MZ_EFORMAT, "storage %s: tensor metadata (a %s of %lld) is not read", s->key,
                    kind_names[a->v[6]->k], (long long)a->v[6]->n);
    mz_pt_tensor t;
    memset(&t, 0, sizeof t);
    int nd = 0, ns = 0;
    mz_status st = int_tuple(m, a->v[2], "size", t.shape, &nd);
    if (!st)
        st = int_tuple(m, a->v[3], "stride", t.stride, &ns);
    if (st)
        return st;
    if (nd != ns)
        return fail(m, MZ_EFORMAT, "storage %s: %d sizes but %d strides", s->key, nd, ns);
    /* the elements reached: offset + sum (size[d] - 1) * stride[d] must lie in the storage */
    int64_t count = 1, last = off->i;
    for (int d = 0; d < nd; d++)
        if (mz_mul_overflow_i64(count, t.shape[d], &count))
            return fail(m, MZ_EFORMAT, "storage %s: the size overflows", s->key);
    if (count > 0) {
        for (int d = 0; d < nd; d++) {
            int64_t span;
            if (mz_mul_overflow_i64(t.shape[d] - 1, t.stride[d], &span) ||
                mz_add_overflow_i64(last, span, &last))
                return fail(m, MZ_EFORMAT, "storage %s: offset and strides overflow", s->key);
        }
        if (last >= s->numel)
            return fail(m, MZ_EFORMAT,
                        "storage %s: the tensor reads element %lld of a storage of %lld (offset "
                        "%lld)",
                        s->key, (long long)last, (long long)s->numel, (long long)off->i);
    } else if (off->i > s->numel) {
        return fail(m, MZ_EFORMAT, "storage %s: offset %lld is past its %lld elements", s->key,
                    (long long)off->i, (long long)s->numel);
    }
    t.dtype = s->dtype;
    t.ndim = nd;
    t.offset = off->i;
    t.count = count;
    t.storage = s->key;
    t.storage_numel = s->numel;
    t.location = s->location;
    t.requires_grad = (int)rg->i;
    if (m->n_tensors >= m->lim.max_tensors)
        return fail(m, MZ_ELIMIT, "more than %d tensors", m->lim.max_tensors);
    if (m->n_tensors == m->tcap) {
        int cap = m->tcap ? 2 * m->tcap : 16;
        mz_pt_tensor *nt = realloc(m->tensors, (size_t)cap * sizeof *nt);
        if (!nt)
            return fail(m, MZ_ENOMEM, "out of memory");
        m->tensors = nt;
        m->tcap = cap;
    }
    m->tensors[m->n_tensors] = t;
    val *v = new_val(m, V_TENSOR);
    if (v)
        v->i = m->n_tensors;
    m->n_tensors++;
    return push(m, v);
}

static mz_status reduce(machine *m)
{
    val *args = NULL, *fn = NULL;
    mz_status st = pop(m, &args);
    if (!st)
        st = pop(m, &fn);
    if (st)
        return st;
    if (fn->k != V_GLOBAL)
        return fail(m, MZ_EFORMAT, "calling a %s", kind_names[fn->k]);
    if (args->k != V_TUPLE)
        return fail(m, MZ_EFORMAT, "%s.%s: the arguments are a %s, not a tuple",
                    allowed[fn->i].module, allowed[fn->i].name, kind_names[args->k]);
    switch (fn->i) {
    case G_ORDERED_DICT: {
        if (args->n != 0)
            return fail(m, MZ_EFORMAT,
                        "collections.OrderedDict with %lld arguments (only the "
                        "empty call is read)",
                        (long long)args->n);
        val *d = new_val(m, V_DICT);
        if (d)
            d->ordered = 1;
        return push(m, d);
    }
    case G_REBUILD_TENSOR:
        return rebuild_tensor(m, args);
    case G_REBUILD_PARAMETER: {
        /* _rebuild_parameter(data, requires_grad, backward_hooks) */
        if (args->n != 3 || args->v[0]->k != V_TENSOR || args->v[1]->k != V_BOOL ||
            args->v[2]->k != V_DICT || args->v[2]->n != 0)
            return fail(m, MZ_EFORMAT,
                        "_rebuild_parameter takes (tensor, bool, {}), not these "
                        "%lld arguments",
                        (long long)args->n);
        m->tensors[args->v[0]->i].requires_grad = (int)args->v[1]->i;
        return push(m, args->v[0]);
    }
    default:
        return fail(m, MZ_EFORMAT, "torch.%s is a storage type, not something to call",
                    allowed[fn->i].name);
    }
}

/* ---- the loop ---- */

static mz_status step(machine *m, int *stop)
{
    mz_status st = MZ_OK;
    val *v = NULL, *w = NULL;
    int64_t first = 0;
    const unsigned char *a = m->p + m->pos;
    switch (m->op) {
    case 0x80: /* PROTO */
        if ((st = need(m, 1)))
            return st;
        if (a[0] < 2 || a[0] > 5)
            return fail(m, MZ_EFORMAT, "protocol %u (2 to 5 are read)", a[0]);
        m->pos += 1;
        return MZ_OK;
    case 0x95: /* FRAME: a length hint */
        if ((st = need(m, 8)))
            return st;
        if (le(a, 8) > m->n - m->pos - 8)
            return fail(m, MZ_EFORMAT, "a frame of %llu bytes runs past the end of the pickle",
                        (unsigned long long)le(a, 8));
        m->pos += 8;
        return MZ_OK;
    case 'c': { /* GLOBAL */
        char module[256], name[256];
        if ((st = read_line(m, module, sizeof module, "module")) ||
            (st = read_line(m, name, sizeof name, "name")))
            return st;
        return push_global(m, module, name);
    }
    case 0x93: /* STACK_GLOBAL */
        if ((st = pop(m, &w)) || (st = pop(m, &v)))
            return st;
        if (v->k != V_STR || w->k != V_STR)
            return fail(m, MZ_EFORMAT, "module and name are a %s and a %s, not strings",
                        kind_names[v->k], kind_names[w->k]);
        return push_global(m, v->s, w->s);
    case 'q':
        if ((st = need(m, 1)))
            return st;
        m->pos += 1;
        return memo_put(m, a[0]);
    case 'r':
        if ((st = need(m, 4)))
            return st;
        m->pos += 4;
        return memo_put(m, le(a, 4));
    case 0x94: /* MEMOIZE: the slot after the memo's entries, as len(memo) in Python */
        return memo_put(m, (uint64_t)m->memo_len);
    case 'h':
        if ((st = need(m, 1)))
            return st;
        m->pos += 1;
        return memo_get(m, a[0]);
    case 'j':
        if ((st = need(m, 4)))
            return st;
        m->pos += 4;
        return memo_get(m, le(a, 4));
    case '(':
        if (m->n_marks >= m->lim.max_depth)
            return fail(m, MZ_ELIMIT, "more than %d MARKs open (nesting limit)", m->lim.max_depth);
        m->marks[m->n_marks++] = m->sp;
        return MZ_OK;
    case ')':
        return collect(m, V_TUPLE, m->sp);
    case 't':
        if ((st = pop_mark(m, &first)))
            return st;
        return collect(m, V_TUPLE, first);
    case 0x85:
    case 0x86:
    case 0x87: {
        int64_t k = (int64_t)(m->op - 0x84);
        if (m->sp - floor_of(m) < k)
            return fail(m, MZ_EFORMAT, "fewer than %lld values on the stack", (long long)k);
        return collect(m, V_TUPLE, m->sp - k);
    }
    case ']':
        return push(m, new_val(m, V_LIST));
    case 'l':
        if ((st = pop_mark(m, &first)))
            return st;
        return collect(m, V_LIST, first);
    case 'a':
        if ((st = pop(m, &v)) || (st = top(m, &w)))
            return st;
        m->stack[m->sp++] = v; /* back, so append_items takes it from the stack */
        return append_items(m, w, m->sp - 1);
    case 'e':
        if ((st = pop_mark(m, &first)))
            return st;
        if (first <= floor_of(m))
            return fail(m, MZ_EFORMAT, "no list below the mark");
        return append_items(m, m->stack[first - 1], first);
    case '}':
        return push(m, new_val(m, V_DICT));
    case 'd':
        if ((st = pop_mark(m, &first)))
            return st;
        if ((st = push(m, new_val(m, V_DICT))))
            return st;
        /* move the new dict below the pairs */
        v = m->stack[--m->sp];
        if ((st = set_items(m, v, first)))
            return st;
        m->stack[m->sp++] = v;
        return MZ_OK;
    case 's':
        if (m->sp - floor_of(m) < 3)
            return fail(m, MZ_EFORMAT, "fewer than 3 values on the stack");
        return set_items(m, m->stack[m->sp - 3], m->sp - 2);
    case 'u':
        if ((st = pop_mark(m, &first)))
            return st;
        if (first <= floor_of(m))
            return fail(m, MZ_EFORMAT, "no dict below the mark");
        return set_items(m, m->stack[first - 1], first);
    case 'N':
        return push(m, new_val(m, V_NONE));
    case 0x88:
    case 0x89:
        v = new_val(m, V_BOOL);
        if (v)
            v->i = m->op == 0x88;
        return push(m, v);
    case 'K':
        if ((st = need(m, 1)))
            return st;
        m->pos += 1;
        return push_int(m, a[0]);
    case 'M':
        if ((st = need(m, 2)))
            return st;
        m->pos += 2;
        return push_int(m, (int64_t)le(a, 2));
    case 'J':
        if ((st = need(m, 4)))
            return st;
        m->pos += 4;
        return push_int(m, (int64_t)(int32_t)(uint32_t)le(a, 4));
    case 0x8a: { /* LONG1: n bytes, little-endian two's complement */
        if ((st = need(m, 1)))
            return st;
        unsigned k = a[0];
        if ((st = need(m, 1 + (size_t)k)))
            return st;
        if (k > 8)
            return fail(m, MZ_ELIMIT, "an integer of %u bytes (at most 8 are read)", k);
        uint64_t u = k ? le(a + 1, (int)k) : 0;
        if (k > 0 && k < 8 && (a[k] & 0x80))
            u |= ~(uint64_t)0 << (8 * k); /* sign extension */
        m->pos += 1 + k;
        return push_int(m, (int64_t)u);
    }
    case 'G': { /* BINFLOAT: big-endian IEEE 754 double */
        if ((st = need(m, 8)))
            return st;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = u << 8 | a[i];
        m->pos += 8;
        v = new_val(m, V_FLOAT);
        if (v)
            memcpy(&v->f, &u, sizeof v->f);
        return push(m, v);
    }
    case 'X':
        if ((st = need(m, 4)))
            return st;
        m->pos += 4;
        return push_str(m, (size_t)le(a, 4));
    case 0x8c:
        if ((st = need(m, 1)))
            return st;
        m->pos += 1;
        return push_str(m, a[0]);
    case 0x8d: {
        if ((st = need(m, 8)))
            return st;
        uint64_t len = le(a, 8);
        m->pos += 8;
        if (len > m->n)
            return fail(m, MZ_EFORMAT, "a string of %llu bytes in a pickle of %zu",
                        (unsigned long long)len, m->n);
        return push_str(m, (size_t)len);
    }
    case 'Q':
        return persistent_load(m);
    case 'R':
        return reduce(m);
    case 'b': /* BUILD: only an OrderedDict's own attributes (torch's _metadata) */
        if ((st = pop(m, &v)) || (st = top(m, &w)))
            return st;
        if (w->k != V_DICT || !w->ordered || (v->k != V_DICT && v->k != V_NONE))
            return fail(m, MZ_EFORMAT,
                        "setting the state of a %s from a %s (only an "
                        "OrderedDict's attributes are read)",
                        kind_names[w->k], kind_names[v->k]);
        return MZ_OK;
    case '.':
        *stop = 1;
        return MZ_OK;
    default:
        return fail(m, MZ_EFORMAT, "not an opcode of a state_dict pickle");
    }
}

static int cmp_names(const void *a, const void *b)
{
    const mz_pt_tensor *x = *(const mz_pt_tensor *const *)a, *y = *(const mz_pt_tensor *const *)b;
    return strcmp(x->name, y->name);
}

/* The value the pickle returned: {str: tensor}. Copies it into out. */
static mz_status take_result(machine *m, val *root, mz_pkl_result *out)
{
    m->at = m->n - 1;
    if (root->k != V_DICT)
        return fail(m, MZ_EFORMAT, "the pickle holds a %s, not a state_dict (a dict of tensors)",
                    kind_names[root->k]);
    if (root->n > m->lim.max_tensors)
        return fail(m, MZ_ELIMIT, "a state_dict of %lld entries (limit %d)", (long long)root->n,
                    m->lim.max_tensors);
    size_t strbytes = 1;
    for (int64_t i = 0; i < root->n; i++) {
        val *k = root->v[2 * i], *t = root->v[2 * i + 1];
        if (k->k != V_STR)
            return fail(m, MZ_EFORMAT, "state_dict entry %lld: the key is a %s, not a string",
                        (long long)i, kind_names[k->k]);
        if (t->k != V_TENSOR)
            return fail(m, MZ_EFORMAT, "state_dict entry '%s' is a %s, not a tensor", k->s,
                        kind_names[t->k]);
        strbytes += k->len + 1;
    }
    for (int s = 0; s < m->n_storages; s++)
        strbytes += strlen(m->storages[s].key) + strlen(m->storages[s].location) + 2;
    out->tensors = calloc((size_t)(root->n ? root->n : 1), sizeof *out->tensors);
    out->storages = calloc((size_t)(m->n_storages ? m->n_storages : 1), sizeof *out->storages);
    out->strings = malloc(strbytes);
    if (!out->tensors || !out->storages || !out->strings)
        return fail(m, MZ_ENOMEM, "out of memory");
    char *at = out->strings;
    for (int s = 0; s < m->n_storages; s++) {
        mz_pkl_storage *d = &out->storages[s];
        *d = m->storages[s];
        size_t kl = strlen(d->key) + 1, ll = strlen(d->location) + 1;
        memcpy(at, d->key, kl);
        d->key = at;
        at += kl;
        memcpy(at, d->location, ll);
        d->location = at;
        at += ll;
    }
    out->n_storages = m->n_storages;
    for (int64_t i = 0; i < root->n; i++) {
        val *k = root->v[2 * i], *t = root->v[2 * i + 1];
        mz_pt_tensor *d = &out->tensors[i];
        *d = m->tensors[t->i];
        memcpy(at, k->s, k->len + 1);
        d->name = at;
        at += k->len + 1;
        for (int s = 0; s < out->n_storages; s++)
            if (!strcmp(out->storages[s].key, d->storage)) {
                d->storage = out->storages[s].key;
                d->location = out->storages[s].location;
            }
    }
    out->n_tensors = (int)root->n;
    /* duplicate keys would make the state_dict ambiguous */
    const mz_pt_tensor **sorted = malloc((size_t)(root->n ? root->n : 1) * sizeof *sorted);
    if (!sorted)
        return fail(m, MZ_ENOMEM, "out of memory");
    for (int i = 0; i < out->n_tensors; i++)
        sorted[i] = &out->tensors[i];
    qsort(sorted, (size_t)out->n_tensors, sizeof *sorted, cmp_names);
    mz_status st = MZ_OK;
    for (int i = 1; i < out->n_tensors && !st; i++)
        if (!strcmp(sorted[i - 1]->name, sorted[i]->name))
            st = fail(m, MZ_EFORMAT, "the key '%s' appears twice in the state_dict",
                      sorted[i]->name);
    free(sorted);
    return st;
}

void mz_pkl_result_release(mz_pkl_result *r)
{
    if (!r)
        return;
    free(r->tensors);
    free(r->storages);
    free(r->strings);
    memset(r, 0, sizeof *r);
}

mz_status mz_pkl_state_dict(const unsigned char *p, size_t n, const char *origin,
                            const mz_pt_limits *lim, mz_pkl_result *out, mz_error *err)
{
    memset(out, 0, sizeof *out);
    machine m;
    memset(&m, 0, sizeof m);
    m.p = p;
    m.n = n;
    m.origin = origin;
    m.err = err;
    if (lim)
        m.lim = *lim;
    else
        mz_pt_limits_default(&m.lim);
    if (m.lim.max_depth < 1)
        m.lim.max_depth = 1;
    mz_error local;
    if (!m.err)
        m.err = &local; /* fail() reads the code back */
    mz_status st = MZ_OK;
    if (n > m.lim.max_pickle_bytes)
        return mz_fail(err, MZ_ELIMIT, "%s: %zu bytes, more than the limit of %llu", origin, n,
                       (unsigned long long)m.lim.max_pickle_bytes);
    m.marks = malloc((size_t)m.lim.max_depth * sizeof *m.marks);
    if (!m.marks)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", origin);
    int stop = 0;
    while (!st && !stop) {
        m.at = m.pos;
        if (m.pos >= m.n) {
            st = mz_fail(m.err, MZ_EFORMAT, "%s offset %zu: the pickle ends without STOP", origin,
                         m.pos);
            break;
        }
        m.op = m.p[m.pos++];
        st = step(&m, &stop);
    }
    if (!st && m.pos != m.n)
        st = mz_fail(m.err, MZ_EFORMAT, "%s offset %zu: %zu bytes after STOP", origin, m.pos,
                     m.n - m.pos);
    if (!st && (m.n_marks || m.sp != 1))
        st = mz_fail(m.err, MZ_EFORMAT,
                     "%s offset %zu: STOP with %d MARKs open and %lld values on the stack "
                     "(expected no mark and one value)",
                     origin, m.at, m.n_marks, (long long)m.sp);
    if (!st)
        st = take_result(&m, m.stack[0], out);
    if (st)
        mz_pkl_result_release(out);
    while (m.blocks) {
        block *b = m.blocks;
        m.blocks = b->next;
        free(b);
    }
    free(m.stack);
    free(m.marks);
    free(m.memo);
    free(m.tensors);
    free(m.storages);
    return st;
}
