/*
 * xnrcount: a QEMU TCG plugin that counts the guest instructions executed
 * inside a set of functions (the null scheduler's code in Xen) and how often
 * each function is entered.
 *
 * Arguments (QEMU 7.2 syntax: -plugin ./libxnrcount.so,ranges=FILE,out=FILE):
 *   ranges=FILE  one function per line, "F <start> <end> <name>" (hex virtual
 *                addresses, end exclusive), then one line per scheduler hook,
 *                "H <addr> <slot>": the function starting at <addr> fills the
 *                `struct scheduler` slot <slot>.
 *   out=FILE     written at QEMU exit:
 *                "func <name> <entries> <insns>"   exclusive, per function
 *                "hook <slot> <entries> <insns>"   inclusive, per hook
 *                "nohook - 0 <insns>"              counted before any hook ran
 *                "insn <addr> <count>"             per instruction executed,
 *                                                  for annotated disassembly
 *
 * Attribution: every counted instruction is charged to its own function
 * (exclusive) and to the hook most recently entered on the same vCPU
 * (inclusive).  Hooks do not nest, so out-of-line helpers called by a hook
 * are charged to it.  Code outside the ranges (e.g. Xen's _spin_lock) is not
 * seen at all.  An "entry" is an execution of a function's first
 * instruction.
 *
 * Plugin API version 1 (QEMU 7.2) has no register access, so everything is
 * decided from the instruction address.  Callbacks are registered at
 * translation time for each tracked instruction and run every time that
 * instruction executes, so a translation block executed a million times
 * counts a million times.  Counters use relaxed atomics and per-vCPU state
 * is indexed by vcpu_index, so counts stay exact under MTTCG too; the driver
 * still runs -accel tcg,thread=single.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

struct func {
    uint64_t start, end;
    char *name;
    int hook;               /* index into hooks[], or -1 */
    uint64_t entries, insns;
};

struct hook {
    char *slot;
    int func;
    uint64_t entries, insns;
};

static struct func *funcs;
static int nfuncs;
static struct hook *hooks;
static int nhooks;
static uint64_t nohook_insns;
/* Per vCPU: index of the hook last entered, -1 before the first. */
static int *cur_hook;
static unsigned int max_vcpus;
static char *out_path;

/* userdata of an instruction callback: one per tracked guest address,
 * shared by every translation of it (a block may be translated again). */
struct insn {
    uint64_t va;
    int func;
    bool entry;             /* the function's first instruction */
    uint64_t count;
};

/* va -> struct insn; only touched at translation time, which QEMU
 * serialises (and -accel tcg,thread=single runs one vCPU at a time). */
static GHashTable *insns;

static void insn_exec(unsigned int vcpu, void *udata)
{
    struct insn *in = udata;
    struct func *f = &funcs[in->func];
    int h;

    if (vcpu >= max_vcpus)
        vcpu = max_vcpus - 1;   /* cannot happen: max_vcpus is QEMU's */
    __atomic_fetch_add(&in->count, 1, __ATOMIC_RELAXED);
    if (in->entry) {
        __atomic_fetch_add(&f->entries, 1, __ATOMIC_RELAXED);
        if (f->hook >= 0) {
            cur_hook[vcpu] = f->hook;
            __atomic_fetch_add(&hooks[f->hook].entries, 1, __ATOMIC_RELAXED);
        }
    }
    __atomic_fetch_add(&f->insns, 1, __ATOMIC_RELAXED);
    h = cur_hook[vcpu];
    if (h >= 0)
        __atomic_fetch_add(&hooks[h].insns, 1, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&nohook_insns, 1, __ATOMIC_RELAXED);
}

/* Function containing addr, or -1; funcs[] is sorted and disjoint. */
static int find_func(uint64_t addr)
{
    int lo = 0, hi = nfuncs - 1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;

        if (addr < funcs[mid].start)
            hi = mid - 1;
        else if (addr >= funcs[mid].end)
            lo = mid + 1;
        else
            return mid;
    }
    return -1;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);

    /* Cheap reject: the whole block lies outside every range. */
    if (n == 0)
        return;
    if (qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, n - 1)) < funcs[0].start ||
        qemu_plugin_tb_vaddr(tb) >= funcs[nfuncs - 1].end)
        return;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t va = qemu_plugin_insn_vaddr(insn);
        int f = find_func(va);
        struct insn *in;

        if (f < 0)
            continue;
        in = g_hash_table_lookup(insns, &va);
        if (!in) {
            in = g_new0(struct insn, 1);
            in->va = va;
            in->func = f;
            in->entry = va == funcs[f].start;
            g_hash_table_insert(insns, &in->va, in);
        }
        qemu_plugin_register_vcpu_insn_exec_cb(insn, insn_exec,
                                               QEMU_PLUGIN_CB_NO_REGS, in);
    }
}

static void write_out(qemu_plugin_id_t id, void *p)
{
    FILE *f = fopen(out_path, "w");

    if (!f) {
        g_autofree char *msg = g_strdup_printf("xnrcount: cannot write %s\n", out_path);
        qemu_plugin_outs(msg);
        return;
    }
    for (int i = 0; i < nfuncs; i++)
        fprintf(f, "func %s %" PRIu64 " %" PRIu64 "\n", funcs[i].name,
                funcs[i].entries, funcs[i].insns);
    for (int i = 0; i < nhooks; i++)
        fprintf(f, "hook %s %" PRIu64 " %" PRIu64 "\n", hooks[i].slot,
                hooks[i].entries, hooks[i].insns);
    fprintf(f, "nohook - 0 %" PRIu64 "\n", nohook_insns);
    {
        GHashTableIter it;
        gpointer key, val;

        g_hash_table_iter_init(&it, insns);
        while (g_hash_table_iter_next(&it, &key, &val)) {
            const struct insn *in = val;

            if (in->count)
                fprintf(f, "insn %" PRIx64 " %" PRIu64 "\n", in->va, in->count);
        }
    }
    fclose(f);
}

static int by_start(const void *a, const void *b)
{
    const struct func *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static int read_ranges(const char *path)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GArray *fa = g_array_new(FALSE, TRUE, sizeof(struct func));
    GArray *ha = g_array_new(FALSE, TRUE, sizeof(struct hook));
    GArray *hook_addr = g_array_new(FALSE, TRUE, sizeof(uint64_t));

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        fprintf(stderr, "xnrcount: cannot read %s\n", path);
        return -1;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char name[512];
        uint64_t a, b;

        if (sscanf(*l, "F %" SCNx64 " %" SCNx64 " %511s", &a, &b, name) == 3) {
            struct func f = { .start = a, .end = b, .name = g_strdup(name), .hook = -1 };

            g_array_append_val(fa, f);
        } else if (sscanf(*l, "H %" SCNx64 " %511s", &a, name) == 2) {
            struct hook h = { .slot = g_strdup(name), .func = -1 };

            g_array_append_val(ha, h);
            g_array_append_val(hook_addr, a);
        } else if (**l && **l != '#') {
            fprintf(stderr, "xnrcount: %s: bad line: %s\n", path, *l);
            return -1;
        }
    }
    nfuncs = fa->len;
    funcs = (struct func *)g_array_free(fa, FALSE);
    nhooks = ha->len;
    hooks = (struct hook *)g_array_free(ha, FALSE);
    if (nfuncs == 0) {
        fprintf(stderr, "xnrcount: %s: no functions\n", path);
        return -1;
    }
    qsort(funcs, nfuncs, sizeof(*funcs), by_start);
    for (int i = 1; i < nfuncs; i++) {
        if (funcs[i].start < funcs[i - 1].end) {
            fprintf(stderr, "xnrcount: %s overlaps %s\n", funcs[i].name,
                    funcs[i - 1].name);
            return -1;
        }
    }
    for (int i = 0; i < nhooks; i++) {
        uint64_t a = g_array_index(hook_addr, uint64_t, i);
        int f = find_func(a);

        if (f < 0 || funcs[f].start != a) {
            fprintf(stderr, "xnrcount: hook %s: no function starts at %" PRIx64 "\n",
                    hooks[i].slot, a);
            return -1;
        }
        /* Several slots may share one function; the first one wins. */
        if (funcs[f].hook < 0)
            funcs[f].hook = i;
        hooks[i].func = f;
    }
    g_array_free(hook_addr, TRUE);
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *ranges = NULL;

    for (int i = 0; i < argc; i++) {
        if (g_str_has_prefix(argv[i], "ranges="))
            ranges = argv[i] + strlen("ranges=");
        else if (g_str_has_prefix(argv[i], "out="))
            out_path = g_strdup(argv[i] + strlen("out="));
        else {
            fprintf(stderr, "xnrcount: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if (!ranges || !out_path) {
        fprintf(stderr, "xnrcount: need ranges=FILE and out=FILE\n");
        return -1;
    }
    if (!info->system_emulation) {
        fprintf(stderr, "xnrcount: system emulation only\n");
        return -1;
    }
    if (read_ranges(ranges))
        return -1;
    max_vcpus = info->system.max_vcpus > 0 ? info->system.max_vcpus : 1;
    cur_hook = g_new(int, max_vcpus);
    for (unsigned int i = 0; i < max_vcpus; i++)
        cur_hook[i] = -1;

    insns = g_hash_table_new(g_int64_hash, g_int64_equal);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, write_out, NULL);
    return 0;
}
