/*
 * Rules: parsing, the checks libseccomp does not make, and adding.
 *
 * A rule goes through three steps.  Parsing turns the Python objects into
 * an scx_rule without the lock, because it may run Python code.  Checking,
 * with the lock held, finds what libseccomp would accept but not enforce
 * as written:
 *
 * - a syscall absent from an architecture of the filter, which libseccomp
 *   gives a pseudo number that no real syscall has;
 * - a comparison value above 32 bits on a 32-bit architecture, where
 *   libseccomp compares only the low 32 bits;
 * - two rules for one syscall with different actions where one rule's
 *   comparisons are a subset of the other's, of which libseccomp keeps
 *   only one, without an error in most cases;
 * - two rules for one syscall with different actions that some call
 *   matches both, where libseccomp's order decides the action;
 * - two rules for one syscall that order-compare (<, <=, >, >=) the same
 *   argument with values whose high 32 bits differ, which libseccomp
 *   2.5.4 compiles to code that matches other values than written;
 * - a rule whose action is the default action (libseccomp's EACCES).
 *
 * Adding calls libseccomp and records the rule in the filter's store.
 */
#include "core.h"
#include "heap/heap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Outcome of checking one rule of a batch. */
enum check_kind {
    CHECK_OK = 0,
    CHECK_DEFAULT,              /* action equals the default action */
    CHECK_CONFLICT,             /* shadowed by or shadows another rule */
    CHECK_OVERLAP,              /* shares calls with a rule of another
                                 * action */
    CHECK_MISCOMPILED,          /* ranges libseccomp compiles wrongly */
    CHECK_NOT_EQUAL,            /* !=, <, > beside a rule on one argument */
    CHECK_UNTRANSLATABLE,       /* number unknown on the native arch */
    CHECK_MISSING,              /* strict: syscall absent on an arch */
    CHECK_TRUNCATED,            /* strict: value wider than 32 bits */
};

/* A rule of a batch, parsed but not added yet. */
typedef struct {
    PyObject *syscall;          /* borrowed; the caller keeps it alive */
    scx_rule rule;
    uint32_t missing;           /* bit i: arch i lacks the syscall */
    uint32_t truncated;         /* bit i: arch i drops the high bits */
} pending_rule;

typedef struct {
    int kind;
    Py_ssize_t index;           /* the rule at fault */
    Py_ssize_t other_index;     /* conflicting rule in the batch, or -1 */
    scx_rule other;             /* the conflicting rule */
    uint32_t default_action;
    uint32_t arches[SCX_MAX_ARCHES];
    int narches;
    int warnings;               /* pending rules with missing/truncated */
} check_result;

/* Parse the optional "missing" argument: 0 warn, 1 raise, 2 ignore. */
int
scx_parse_mode(scx_state *st, PyObject *obj, int *mode)
{
    long value;

    *mode = SCX_MISSING_WARN;
    if (obj == NULL)
        return 0;
    if (scx_parse_bounded(st, obj, "missing mode (0 warn, 1 raise, 2 "
                          "ignore)", SCX_MISSING_WARN, SCX_MISSING_IGNORE,
                          &value) < 0)
        return -1;
    *mode = (int)value;
    return 0;
}

/* Parsing ---------------------------------------------------------------- */

static int
parse_u64(scx_state *st, PyObject *obj, unsigned int arg, const char *what,
          uint64_t *out)
{
    unsigned long long value;

    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "argument %u %s must be an int, not %.100s",
                     arg, what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    value = scx_long_as_u64(obj);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "argument %u %s %R is outside 0..2**64-1; seccomp compares "
                  "arguments as unsigned 64-bit values, so write a negative "
                  "number in two's complement or compare with "
                  "seccompx.Arg(%u, width=32)", arg, what, obj, arg);
        return -1;
    }
    *out = (uint64_t)value;
    return 0;
}

/* Write a comparison's value as hex for a message, because
 * PyUnicode_FromFormat() has no %llx.  Only the error branches call it:
 * snprintf() is code that a forked child would otherwise fault in for
 * every comparison. */
static void
format_datum(uint64_t datum, char *buffer, size_t size)
{
    snprintf(buffer, size, "0x%llx", (unsigned long long)datum);
}

static int
check_comparison_values(scx_state *st, const struct scmp_arg_cmp *cmp)
{
    char mask[24], value[24];

    if (cmp->op == SCMP_CMP_MASKED_EQ
        && (cmp->datum_b & ~cmp->datum_a) != 0) {
        format_datum(cmp->datum_a, mask, sizeof(mask));
        format_datum(cmp->datum_b, value, sizeof(value));
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "masked_eq on argument %u can never match: value %s has "
                  "bits outside mask %s", cmp->arg, value, mask);
        return -1;
    }
    if ((cmp->op == SCMP_CMP_LT && cmp->datum_a == 0)
        || (cmp->op == SCMP_CMP_GT && cmp->datum_a == UINT64_MAX)) {
        format_datum(cmp->datum_a, mask, sizeof(mask));
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "comparison %d on argument %u with value %s can never "
                  "match: arguments are unsigned 64-bit values", (int)cmp->op,
                  cmp->arg, mask);
        return -1;
    }
    if (cmp->op != SCMP_CMP_MASKED_EQ && cmp->datum_b != 0) {
        format_datum(cmp->datum_b, value, sizeof(value));
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "comparison %d on argument %u takes one value, but a "
                  "second (%s) was given; only masked_eq takes two",
                  (int)cmp->op, cmp->arg, value);
        return -1;
    }
    return 0;
}

/* Parse one (arg, op, datum_a, datum_b) tuple. */
static int
parse_comparison(scx_state *st, PyObject *item, struct scmp_arg_cmp *cmp)
{
    long arg, op;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4) {
        PyErr_Format(PyExc_TypeError,
                     "a comparison must be a seccompx.Comparison such as "
                     "Arg(0) == 1, not %.100s %.80R", Py_TYPE(item)->tp_name,
                     item);
        return -1;
    }
    if (scx_parse_bounded(st, PyTuple_GET_ITEM(item, 0), "argument index",
                          0, SCX_MAX_ARGS - 1, &arg) < 0)
        return -1;
    if (scx_parse_bounded(st, PyTuple_GET_ITEM(item, 1),
                          "comparison operator", SCMP_CMP_NE,
                          SCMP_CMP_MASKED_EQ, &op) < 0)
        return -1;
    cmp->arg = (unsigned int)arg;
    cmp->op = (enum scmp_compare)op;
    if (parse_u64(st, PyTuple_GET_ITEM(item, 2), cmp->arg,
                  op == SCMP_CMP_MASKED_EQ ? "mask" : "value",
                  &cmp->datum_a) < 0)
        return -1;
    if (parse_u64(st, PyTuple_GET_ITEM(item, 3), cmp->arg,
                  op == SCMP_CMP_MASKED_EQ ? "value" : "second value",
                  &cmp->datum_b) < 0)
        return -1;
    return check_comparison_values(st, cmp);
}

/* Sort at most six comparisons, each on a different argument, by
 * argument index.  An insertion sort, because qsort() is one more page of
 * the C library for a forked child to fault in. */
static void
sort_by_arg(struct scmp_arg_cmp *cmps, unsigned int count)
{
    unsigned int i, j;

    for (i = 1; i < count; i++) {
        struct scmp_arg_cmp item = cmps[i];

        for (j = i; j > 0 && cmps[j - 1].arg > item.arg; j--)
            cmps[j] = cmps[j - 1];
        cmps[j] = item;
    }
}

/*
 * Parse up to six comparisons, each on a different argument, from any
 * iterable.  It is copied to a tuple first: a list could change under us
 * while an item's conversion runs Python code.
 */
static int
parse_comparisons(scx_state *st, PyObject *iterable, scx_rule *rule)
{
    PyObject *items;
    Py_ssize_t n, i;
    unsigned int seen = 0;

    items = PySequence_Tuple(iterable);
    if (items == NULL)
        return -1;
    n = PyTuple_GET_SIZE(items);
    if (n > SCX_MAX_ARGS) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "a rule takes at most 6 comparisons, one per syscall "
                  "argument, but %zd were given", n);
        goto error;
    }
    for (i = 0; i < n; i++) {
        struct scmp_arg_cmp *cmp = &rule->cmps[i];

        if (parse_comparison(st, PyTuple_GET_ITEM(items, i), cmp) < 0)
            goto error;
        if (seen & (1u << cmp->arg)) {
            scx_raise(st->InvalidArgumentError, EINVAL,
                      "argument %u is compared twice in one rule; "
                      "libseccomp allows one comparison per argument, so "
                      "add a second rule to match either value", cmp->arg);
            goto error;
        }
        seen |= 1u << cmp->arg;
    }
    Py_DECREF(items);
    rule->count = (unsigned int)n;
    sort_by_arg(rule->cmps, rule->count);
    return 0;

error:
    Py_DECREF(items);
    return -1;
}

static int
parse_rule(scx_state *st, PyObject *action, PyObject *syscall,
           PyObject *comparisons, int exact, pending_rule *out)
{
    memset(out, 0, sizeof(*out));
    out->syscall = syscall;
    out->rule.exact = exact;
    if (scx_check_action(st, action, &out->rule.action) < 0)
        return -1;
    if (scx_resolve_syscall(st, syscall, SCMP_ARCH_NATIVE, &out->rule.nr) < 0)
        return -1;
    if (comparisons != NULL && comparisons != Py_None
        && parse_comparisons(st, comparisons, &out->rule) < 0)
        return -1;
    return 0;
}

/* Checks ----------------------------------------------------------------- */

/* libseccomp's pseudo numbers for the calls multiplexed by socketcall(2)
 * and ipc(2) (seccomp-syscalls.h: __PNR_socket is -101, __PNR_semop
 * -201). */
static int
is_multiplexed(uint32_t arch, int nr)
{
    if (nr <= -101 && nr >= -199)
        return seccomp_syscall_resolve_name_arch(arch, "socketcall") >= 0;
    if (nr <= -201 && nr >= -299)
        return seccomp_syscall_resolve_name_arch(arch, "ipc") >= 0;
    return 0;
}

/*
 * Whether a rule for native syscall nr never matches on arch.  libseccomp
 * translates a rule's number to another architecture through its name on
 * the native one; *untranslatable is set when nr has no native name.
 * For syscalls that socketcall or ipc multiplex, libseccomp rewrites the
 * rule, so those count as present.
 */
int
scx_syscall_missing(uint32_t arch, int nr, int *untranslatable)
{
    uint32_t native = seccomp_arch_native();
    char *name;
    int number;

    *untranslatable = 0;
    if (arch == native)
        number = nr;
    else {
        name = seccomp_syscall_resolve_num_arch(native, nr);
        if (name == NULL) {
            *untranslatable = 1;
            return 1;
        }
        number = seccomp_syscall_resolve_name_arch(arch, name);
        free(name);
    }
    return number < 0 && !is_multiplexed(arch, number);
}

/* Whether libseccomp would drop bits of a comparison on a 32-bit arch.
 * A mask's high bits do not count: the high word of a 32-bit argument is
 * zero, so they compare equal anyway. */
int
scx_rule_is_wide(const scx_rule *rule)
{
    unsigned int i;

    for (i = 0; i < rule->count; i++) {
        const struct scmp_arg_cmp *cmp = &rule->cmps[i];
        uint64_t value = cmp->op == SCMP_CMP_MASKED_EQ ? cmp->datum_b
                                                       : cmp->datum_a;

        if (value > 0xffffffffULL)
            return 1;
    }
    return 0;
}

/* Whether every comparison of a is also one of b (both sorted by arg). */
static int
comparisons_subset(const scx_rule *a, const scx_rule *b)
{
    unsigned int i, j = 0;

    for (i = 0; i < a->count; i++) {
        const struct scmp_arg_cmp *x = &a->cmps[i];

        while (j < b->count && b->cmps[j].arg < x->arg)
            j++;
        if (j == b->count || b->cmps[j].arg != x->arg
            || b->cmps[j].op != x->op || b->cmps[j].datum_a != x->datum_a
            || b->cmps[j].datum_b != x->datum_b)
            return 0;
    }
    return 1;
}

static int
rules_conflict(const scx_rule *a, const scx_rule *b)
{
    if (a->nr != b->nr || a->action == b->action)
        return 0;
    return comparisons_subset(a, b) || comparisons_subset(b, a);
}

static int
same_comparison(const struct scmp_arg_cmp *x, const struct scmp_arg_cmp *y)
{
    return x->op == y->op && x->datum_a == y->datum_a
           && x->datum_b == y->datum_b;
}

static const struct scmp_arg_cmp *
comparison_of(const scx_rule *rule, unsigned int arg)
{
    unsigned int i;

    for (i = 0; i < rule->count; i++) {
        if (rule->cmps[i].arg == arg)
            return &rule->cmps[i];
    }
    return NULL;
}

/*
 * Whether some call matches both rule a and rule b: for every argument
 * both compare, some value satisfies both comparisons (values.c).  An
 * argument that one rule alone compares takes a value its comparison
 * matches.  libseccomp gives a call that two rules of different actions
 * match the action of the rule it tests first, which depends on the order
 * they were added and on the arguments they compare:
 * {Arg(0).masked_eq(0xff, 1)} then {Arg(0) == 0x101} never applies the
 * second rule's action, {Arg(0) != 2} beside {Arg(0) == 1} never applies
 * the == rule's, and {Arg(0) == 1} beside {Arg(2) == 0} applies the rule
 * on argument 2 to calls that match both.
 */
static int
rules_overlap(const scx_rule *a, const scx_rule *b)
{
    unsigned int i;
    uint64_t witness;

    for (i = 0; i < a->count; i++) {
        const struct scmp_arg_cmp *y = comparison_of(b, a->cmps[i].arg);

        if (y != NULL && !same_comparison(&a->cmps[i], y)
            && !scx_comparisons_intersect(&a->cmps[i], y, &witness))
            return 0;
    }
    return 1;
}

static int
is_ordering(int op)
{
    return op == SCMP_CMP_LT || op == SCMP_CMP_LE || op == SCMP_CMP_GT
           || op == SCMP_CMP_GE;
}

/*
 * Whether libseccomp 2.5.4 would miscompile the pair: both order-compare
 * one argument, with values whose high 32 bits differ.  The kernel then
 * matches values neither rule names and misses values one rule names;
 * tests/test_hardening_load.py shows it with libseccomp called directly.
 * NOTE: libseccomp 2.6 was not tested, so the check applies to every
 * version.
 */
static int
rules_miscompile(const scx_rule *a, const scx_rule *b)
{
    unsigned int i, j;

    if (a->nr != b->nr)
        return 0;
    for (i = 0; i < a->count; i++) {
        const struct scmp_arg_cmp *x = &a->cmps[i];

        if (!is_ordering(x->op))
            continue;
        for (j = 0; j < b->count; j++) {
            const struct scmp_arg_cmp *y = &b->cmps[j];

            if (y->arg == x->arg && is_ordering(y->op)
                && (y->datum_a >> 32) != (x->datum_a >> 32))
                return 1;
        }
    }
    return 0;
}

/* Whether a tests an argument with !=, <, <=, > or >= that b compares
 * too. */
static int
inexact_beside(const scx_rule *a, const scx_rule *b)
{
    unsigned int i, j;

    for (i = 0; i < a->count; i++) {
        if (a->cmps[i].op != SCMP_CMP_NE && !is_ordering(a->cmps[i].op))
            continue;
        for (j = 0; j < b->count; j++)
            if (b->cmps[j].arg == a->cmps[i].arg)
                return 1;
    }
    return 0;
}

/*
 * libseccomp 2.5.4 mishandles !=, <, <=, > and >= when another rule for
 * the same syscall compares the same argument: {a2 != 2, a3 > 2} followed
 * by {a2 != 2, a3 == 1} makes seccomp_rule_add() loop forever, {a2 == 0}
 * beside {a3 > 4, a2 != 2} compiles to a filter that misses a2 == 0, and
 * {a2 > 1} beside {a3 == 1, a2 < 3} misses calls as well
 * (tests/test_core.py has the first two).  Such pairs are rejected when either
 * rule has more than one comparison; == and masked equality on a shared
 * argument compile correctly.
 * NOTE: found by comparing compiled filters with a model on small values;
 * libseccomp 2.6 was not tested.
 */
static int
rules_inexact_clash(const scx_rule *a, const scx_rule *b)
{
    /* Pairs of one comparison each compile correctly, apart from the
     * ranges rules_miscompile() rejects. */
    if (a->nr != b->nr || (a->count < 2 && b->count < 2))
        return 0;
    return inexact_beside(a, b) || inexact_beside(b, a);
}

/* The kind of clash between two rules: CHECK_CONFLICT, CHECK_MISCOMPILED,
 * CHECK_NOT_EQUAL or CHECK_OK. */
static int
rules_clash(const scx_rule *a, const scx_rule *b)
{
    if (rules_conflict(a, b))
        return CHECK_CONFLICT;
    if (rules_miscompile(a, b))
        return CHECK_MISCOMPILED;
    if (rules_inexact_clash(a, b))
        return CHECK_NOT_EQUAL;
    if (a->nr == b->nr && a->action != b->action && rules_overlap(a, b))
        return CHECK_OVERLAP;
    return CHECK_OK;
}

static const scx_rule *
find_conflict(const scx_rule *rules, Py_ssize_t n, const scx_rule *rule,
              Py_ssize_t *index, int *kind)
{
    Py_ssize_t i;

    for (i = 0; i < n; i++) {
        *kind = rules_clash(&rules[i], rule);
        if (*kind != CHECK_OK) {
            *index = i;
            return &rules[i];
        }
    }
    return NULL;
}

/* With the lock held: find two stored rules that conflict, as rules of two
 * merged filters may.  Returns the later one's index, or -1. */
Py_ssize_t
scx_find_stored_conflict(scx_filter *self, Py_ssize_t *other)
{
    Py_ssize_t i;
    int kind;

    for (i = 1; i < self->nrules; i++) {
        if (find_conflict(self->rules, i, &self->rules[i], other,
                          &kind) != NULL)
            return i;
    }
    return -1;
}

/* Set the missing and truncated masks of one pending rule. */
static int
check_arches(scx_filter *self, pending_rule *p)
{
    int i, wide = scx_rule_is_wide(&p->rule), untranslatable;

    p->missing = 0;
    p->truncated = 0;
    for (i = 0; i < self->narches; i++) {
        uint32_t arch = self->arches[i];

        if (scx_syscall_missing(arch, p->rule.nr, &untranslatable)) {
            if (untranslatable)
                return CHECK_UNTRANSLATABLE;
            p->missing |= 1u << i;
        }
        if (wide && scx_arch_is_32bit(arch))
            p->truncated |= 1u << i;
    }
    return CHECK_OK;
}

/*
 * A bitmap of the syscall numbers already in a filter or earlier in a
 * batch, hashed to SEEN_BITS bits.  Only rules for the same number can
 * clash, so a rule whose bit is clear needs no pairwise scan.  A batch of
 * n rules for different syscalls is then checked in O(n), not O(n^2).
 * A hash collision only costs a scan.
 */
#define SEEN_BITS 4096

typedef struct {
    uint64_t words[SEEN_BITS / 64];
} seen_numbers;

static unsigned int
seen_slot(int nr)
{
    return (uint32_t)nr % SEEN_BITS;
}

static int
seen_test(const seen_numbers *seen, int nr)
{
    unsigned int slot = seen_slot(nr);

    return (seen->words[slot / 64] >> (slot % 64)) & 1;
}

static void
seen_add(seen_numbers *seen, int nr)
{
    unsigned int slot = seen_slot(nr);

    seen->words[slot / 64] |= (uint64_t)1 << (slot % 64);
}

static int
check_one(scx_filter *self, pending_rule *batch, Py_ssize_t index,
          int mode, check_result *result, seen_numbers *seen)
{
    pending_rule *p = &batch[index];
    const scx_rule *other = NULL;
    Py_ssize_t other_index;
    int kind;

    if (p->rule.action == result->default_action)
        return CHECK_DEFAULT;
    if (!seen_test(seen, p->rule.nr)) {
        seen_add(seen, p->rule.nr);
        goto arches;
    }
    other = find_conflict(self->rules, self->nrules, &p->rule, &other_index,
                          &kind);
    if (other != NULL) {
        result->other = *other;
        result->other_index = -1;
        return kind;
    }
    for (other_index = 0; other_index < index; other_index++) {
        kind = rules_clash(&batch[other_index].rule, &p->rule);
        if (kind != CHECK_OK) {
            result->other = batch[other_index].rule;
            result->other_index = other_index;
            return kind;
        }
    }

arches:
    kind = check_arches(self, p);
    if (kind != CHECK_OK)
        return kind;
    if (mode == SCX_MISSING_RAISE && p->missing)
        return CHECK_MISSING;
    if (mode == SCX_MISSING_RAISE && p->truncated)
        return CHECK_TRUNCATED;
    if (mode == SCX_MISSING_WARN && (p->missing || p->truncated))
        result->warnings++;
    return CHECK_OK;
}

/* With the lock held: check every rule of a batch, stopping at the first
 * that cannot be added.  Pure C, so it cannot re-enter the filter. */
static int
check_batch(scx_filter *self, pending_rule *batch, Py_ssize_t n, int mode,
            check_result *result)
{
    seen_numbers seen;
    Py_ssize_t i;

    memset(&seen, 0, sizeof(seen));
    for (i = 0; i < self->nrules; i++)
        seen_add(&seen, self->rules[i].nr);
    memset(result, 0, sizeof(*result));
    memcpy(result->arches, self->arches, sizeof(self->arches));
    result->narches = self->narches;
    if (seccomp_attr_get(self->ctx, SCMP_FLTATR_ACT_DEFAULT,
                         &result->default_action) < 0)
        result->default_action = 0xffffffffU;   /* no valid action */
    for (i = 0; i < n; i++) {
        result->kind = check_one(self, batch, i, mode, result, &seen);
        if (result->kind != CHECK_OK) {
            result->index = i;
            return -1;
        }
    }
    return 0;
}

/* Messages --------------------------------------------------------------- */

static void
format_arches(const check_result *result, uint32_t mask, char *buffer,
              size_t size)
{
    size_t used = 0;
    int i;

    buffer[0] = '\0';
    for (i = 0; i < result->narches && used < size; i++) {
        int written;

        if (!(mask & (1u << i)))
            continue;
        written = snprintf(buffer + used, size - used, "%s%s",
                           used ? ", " : "", scx_arch_name(result->arches[i]));
        if (written < 0)
            break;
        used += (size_t)written;
    }
}

static uint32_t
first_arch(const check_result *result, uint32_t mask)
{
    int i;

    for (i = 0; i < result->narches; i++)
        if (mask & (1u << i))
            return result->arches[i];
    return seccomp_arch_native();
}

static PyObject *
raise_miscompiled(scx_state *st, const pending_rule *p,
                  const check_result *result, const char *mine,
                  const char *theirs, const char *where)
{
    return scx_raise(st->InvalidArgumentError, EINVAL,
                     "rule for %R (%s) and %s for the same syscall (%s) "
                     "compare one argument with <, <=, > or >= against "
                     "values whose high 32 bits differ; libseccomp 2.5 "
                     "compiles such rules to a filter that matches other "
                     "values than written, so keep the bounds of ranges on "
                     "one argument within one 2**32-aligned block or use "
                     "== comparisons", p->syscall, mine, where, theirs);
}

/* Write the argument values of a call that both rules match, for two
 * rules that rules_overlap() accepts: "argument 0 equal to 0x11 and
 * argument 1 equal to 0x22".  Every argument either rule compares is
 * named, because a call must satisfy all of them. */
static void
format_shared_call(const scx_rule *a, const scx_rule *b, char *buffer,
                   size_t size)
{
    unsigned int arg, named = 0, total = 0;
    size_t used = 0;

    for (arg = 0; arg < SCX_MAX_ARGS; arg++)
        total += comparison_of(a, arg) != NULL || comparison_of(b, arg) != NULL;
    buffer[0] = '\0';
    for (arg = 0; arg < SCX_MAX_ARGS && used < size; arg++) {
        const struct scmp_arg_cmp *x = comparison_of(a, arg);
        const struct scmp_arg_cmp *y = comparison_of(b, arg);
        uint64_t value = 0;
        const char *separator;

        if (x == NULL && y == NULL)
            continue;
        if (x != NULL && y != NULL)
            scx_comparisons_intersect(x, y, &value);
        else
            value = scx_value_matching(x != NULL ? x : y);
        if (named == 0)
            separator = "";
        else if (named + 1 == total)
            separator = " and ";
        else
            separator = ", ";
        used += (size_t)snprintf(buffer + used, size - used,
                                 "%sargument %u equal to 0x%llx", separator,
                                 arg, (unsigned long long)value);
        named++;
    }
}

/* Raise the error for two rules that rules_overlap() found, naming the
 * arguments of a call that both match. */
static PyObject *
raise_overlap(scx_state *st, const pending_rule *p,
              const check_result *result, const char *mine,
              const char *theirs, const char *where)
{
    char call[256];

    format_shared_call(&p->rule, &result->other, call, sizeof(call));
    return scx_raise(st->InvalidArgumentError, EEXIST,
                     "rule for %R (%s) and %s for the same syscall (%s) "
                     "have different actions but both match calls with "
                     "%s; libseccomp gives such calls the action of the "
                     "rule added first, so make the comparisons exclude "
                     "each other or give the rules one action",
                     p->syscall, mine, where, theirs, call);
}

static PyObject *
raise_conflict(scx_state *st, const pending_rule *p,
               const check_result *result)
{
    char mine[256], theirs[256], where[48];

    scx_format_rule(&p->rule, mine, sizeof(mine));
    scx_format_rule(&result->other, theirs, sizeof(theirs));
    if (result->other_index >= 0)
        snprintf(where, sizeof(where), "rules[%zd]", result->other_index);
    else
        snprintf(where, sizeof(where), "an earlier rule");
    if (result->kind == CHECK_MISCOMPILED)
        return raise_miscompiled(st, p, result, mine, theirs, where);
    if (result->kind == CHECK_OVERLAP)
        return raise_overlap(st, p, result, mine, theirs, where);
    if (result->kind == CHECK_NOT_EQUAL)
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "rule for %R (%s) and %s for the same syscall (%s) "
                         "both compare an argument that one of them tests "
                         "with !=, <, <=, > or >=; libseccomp 2.5 can hang "
                         "or compile such rules to a filter that misses "
                         "calls, so compare that argument in one rule only, "
                         "or with == and masked_eq",
                         p->syscall, mine, where, theirs);
    if (result->other_index >= 0)
        return scx_raise(st->InvalidArgumentError, EEXIST,
                         "rule for %R (%s) conflicts with rules[%zd] for the "
                         "same syscall (%s): one matches every call the other "
                         "matches, and libseccomp would keep only one of "
                         "them; use the same action or comparisons that do "
                         "not contain each other", p->syscall, mine,
                         result->other_index, theirs);
    return scx_raise(st->InvalidArgumentError, EEXIST,
                     "rule for %R (%s) conflicts with an earlier rule for "
                     "the same syscall (%s): one matches every call the "
                     "other matches, and libseccomp would keep only one of "
                     "them; use the same action or comparisons that do not "
                     "contain each other", p->syscall, mine, theirs);
}

static PyObject *
raise_check_failure(scx_state *st, pending_rule *batch,
                    const check_result *result)
{
    const pending_rule *p = &batch[result->index];
    char action[32], arches[256];

    scx_format_action(p->rule.action, action, sizeof(action));
    switch (result->kind) {
    case CHECK_DEFAULT:
        return scx_raise(st->InvalidArgumentError, EACCES,
                         "rule for %R has action %s, which is the filter's "
                         "default action; libseccomp rejects rules that "
                         "change nothing", p->syscall, action);
    case CHECK_CONFLICT:
    case CHECK_OVERLAP:
    case CHECK_MISCOMPILED:
    case CHECK_NOT_EQUAL:
        return raise_conflict(st, p, result);
    case CHECK_UNTRANSLATABLE:
        return scx_raise_unknown_syscall(
            st, p->syscall, seccomp_arch_native(),
            "syscall number %R has no name on %s, the native architecture, "
            "so libseccomp cannot translate it for the other architectures "
            "of the filter; give the syscall by name", p->syscall,
            scx_arch_name(seccomp_arch_native()));
    case CHECK_MISSING:
        format_arches(result, p->missing, arches, sizeof(arches));
        return scx_raise_unknown_syscall(
            st, p->syscall, first_arch(result, p->missing),
            "syscall %R does not exist on %s, so a rule for it would never "
            "match there", p->syscall, arches);
    default:
        format_arches(result, p->truncated, arches, sizeof(arches));
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "rule for %R compares a value above 32 bits, but "
                         "libseccomp compares only the low 32 bits on %s, "
                         "so the rule would match other values there; use "
                         "values below 2**32 or remove those architectures",
                         p->syscall, arches);
    }
}

/* Warn, without the lock, about rules that do not hold everywhere. */
static int
emit_warnings(scx_state *st, pending_rule *batch, Py_ssize_t n,
              const check_result *result)
{
    char arches[256];
    Py_ssize_t i;

    for (i = 0; i < n; i++) {
        pending_rule *p = &batch[i];

        if (p->missing) {
            format_arches(result, p->missing, arches, sizeof(arches));
            if (PyErr_WarnFormat(st->UnmatchableRuleWarning, 2,
                                 "syscall %R does not exist on %s; the rule "
                                 "never matches there (pass strict=True to "
                                 "raise instead)", p->syscall, arches) < 0)
                return -1;
        }
        if (p->truncated) {
            format_arches(result, p->truncated, arches, sizeof(arches));
            if (PyErr_WarnFormat(st->TruncatedValueWarning, 2,
                                 "rule for %R compares a value above 32 "
                                 "bits, but libseccomp compares only the "
                                 "low 32 bits on %s, so the rule matches "
                                 "other values there (pass strict=True to "
                                 "raise instead)", p->syscall, arches) < 0)
                return -1;
        }
    }
    return 0;
}

/* Explain a libseccomp failure to add a rule; the checks above leave few. */
static PyObject *
raise_rule_error(scx_state *st, int rc, const pending_rule *p)
{
    char action[32];

    scx_format_action(p->rule.action, action, sizeof(action));
    switch (-rc) {
    case EEXIST:
        return scx_raise(st->InvalidArgumentError, EEXIST,
                         "rule for %R conflicts with an existing rule for "
                         "the same syscall and arguments with another "
                         "action", p->syscall);
    case EOPNOTSUPP:
    case EDOM:
        return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                         "rule for %R cannot be expressed exactly on every "
                         "architecture of the filter (%s); use add_rule() "
                         "instead of add_rule_exact()", p->syscall,
                         strerror(-rc));
    case EINVAL:
        if (scx_action_api_level(p->rule.action) > seccomp_api_get())
            return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                             "action %s needs libseccomp API level %u, but "
                             "the level is %u: the kernel lacks the action "
                             "or seccompx.set_api_level() lowered the level",
                             action, scx_action_api_level(p->rule.action),
                             seccomp_api_get());
        if ((p->rule.action & SCX_KIND_MASK) == SCMP_ACT_NOTIFY)
            return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                             "a NOTIFY rule for %R cannot be combined with "
                             "tsync at libseccomp API level %u; the kernel "
                             "must support SECCOMP_FILTER_FLAG_TSYNC_ESRCH "
                             "(API level 6), or set tsync=False", p->syscall,
                             seccomp_api_get());
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "libseccomp rejected the rule for %R (%s) as "
                         "invalid (EINVAL)", p->syscall, action);
    default:
        return scx_raise_libseccomp(st, rc, "seccomp_rule_add()");
    }
}

/* Whether a and b become the same rule on an architecture that compares
 * only the low 32 bits of each value (both sorted by arg). */
static int
same_in_low_words(const scx_rule *a, const scx_rule *b)
{
    unsigned int i;

    if (a->nr != b->nr || a->count != b->count)
        return 0;
    for (i = 0; i < a->count; i++) {
        const struct scmp_arg_cmp *x = &a->cmps[i], *y = &b->cmps[i];

        if (x->arg != y->arg || x->op != y->op
            || (uint32_t)x->datum_a != (uint32_t)y->datum_a
            || (uint32_t)x->datum_b != (uint32_t)y->datum_b)
            return 0;
    }
    return 1;
}

/* Details of a rule that libseccomp rejected with EEXIST because it equals
 * another rule, with another action, on a 32-bit architecture. */
typedef struct {
    uint32_t arch;              /* 0 when no such rule was found */
    Py_ssize_t other_index;     /* index in the batch, or -1 when stored */
    scx_rule other;
} truncation_clash;

/* Whether rules a and b have different actions but become the same rule
 * on a 32-bit architecture, which needs a value above 32 bits in one. */
static int
clash_in_low_words(const scx_rule *a, const scx_rule *b)
{
    return a->action != b->action
           && (scx_rule_is_wide(a) || scx_rule_is_wide(b))
           && same_in_low_words(a, b);
}

/* With the lock held, after libseccomp rejected batch[failed] with EEXIST:
 * look for the rule it equals on a 32-bit architecture of the filter,
 * earlier in the batch or stored.  The checks before adding compare all
 * 64 bits, so only libseccomp detects this clash. */
static void
find_truncation_clash(scx_filter *self, const pending_rule *batch,
                      Py_ssize_t failed, truncation_clash *clash)
{
    const scx_rule *rule = &batch[failed].rule;
    Py_ssize_t index;
    int i;

    clash->arch = 0;
    for (i = 0; i < self->narches; i++) {
        if (scx_arch_is_32bit(self->arches[i])) {
            clash->arch = self->arches[i];
            break;
        }
    }
    if (clash->arch == 0)
        return;
    for (index = 0; index < failed; index++) {
        if (clash_in_low_words(&batch[index].rule, rule)) {
            clash->other_index = index;
            clash->other = batch[index].rule;
            return;
        }
    }
    for (index = 0; index < self->nrules; index++) {
        if (clash_in_low_words(&self->rules[index], rule)) {
            clash->other_index = -1;
            clash->other = self->rules[index];
            return;
        }
    }
    clash->arch = 0;
}

static PyObject *
raise_truncation_clash(scx_state *st, const pending_rule *p,
                       const truncation_clash *clash)
{
    char mine[256], theirs[256], where[48];
    const char *arch = scx_arch_name(clash->arch);

    scx_format_rule(&p->rule, mine, sizeof(mine));
    scx_format_rule(&clash->other, theirs, sizeof(theirs));
    if (clash->other_index >= 0)
        snprintf(where, sizeof(where), "rules[%zd]", clash->other_index);
    else
        snprintf(where, sizeof(where), "an earlier rule");
    return scx_raise(st->InvalidArgumentError, EEXIST,
                     "rule for %R (%s) and %s for the same syscall (%s) "
                     "have different actions, but libseccomp compares only "
                     "the low 32 bits of each value on %s, where the two "
                     "rules are the same, so it cannot add both; use values "
                     "below 2**32, give the rules one action, or leave %s "
                     "out of the filter's arches",
                     p->syscall, mine, where, theirs, arch, arch);
}

/* Adding ----------------------------------------------------------------- */

/* The maximum number of rules in a block of SCX_HEAP_MAX_BLOCK bytes. */
#define RULES_PER_LARGEST_BLOCK \
    ((Py_ssize_t)(SCX_HEAP_MAX_BLOCK / sizeof(scx_rule)))

int
scx_reserve_rules(scx_filter *self, Py_ssize_t extra)
{
    Py_ssize_t wanted = self->nrules + extra, capacity;
    scx_rule *rules;

    if (wanted <= self->rules_capacity)
        return 0;
    if (wanted > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(scx_rule))
        return -1;
    /* The first store has room for twice the first batch, so that a
     * second, smaller batch (add_rules() after allow(), say) does not
     * copy the store.  Pages of the room that no rule reaches are never
     * written, so they cost no page faults.  Later stores double. */
    capacity = self->rules_capacity ? self->rules_capacity : 2 * wanted;
    while (capacity < wanted) {
        if (capacity > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(scx_rule))
            return -1;
        capacity *= 2;
    }
    /* Stay within the largest block of a static build's allocator while
     * the rules fit: beyond it the store moves to the C library's heap,
     * and the copy writes every page again.  A 376-name allowlist and 10
     * more rules doubled 60 KiB to 120 KiB that way. */
    if (capacity > RULES_PER_LARGEST_BLOCK && wanted <= RULES_PER_LARGEST_BLOCK)
        capacity = RULES_PER_LARGEST_BLOCK;
    rules = realloc(self->rules, (size_t)capacity * sizeof(scx_rule));
    if (rules == NULL)
        return -1;
    self->rules = rules;
    self->rules_capacity = capacity;
    return 0;
}

static int
add_to_context(scmp_filter_ctx ctx, const scx_rule *rule)
{
    if (rule->exact)
        return seccomp_rule_add_exact_array(ctx, rule->action, rule->nr,
                                            rule->count, rule->cmps);
    return seccomp_rule_add_array(ctx, rule->action, rule->nr, rule->count,
                                  rule->cmps);
}

static void
store_rules(scx_filter *self, const pending_rule *batch, Py_ssize_t count)
{
    Py_ssize_t i;

    for (i = 0; i < count; i++)
        self->rules[self->nrules++] = batch[i].rule;
    if (count > 0)
        self->generation++;
}

/*
 * With the lock held and the batch checked: add every rule.  Returns the
 * number of rules added; *rc is 0 or the error of rule *failed (-1 for a
 * failed commit).  With transactions (libseccomp 2.6) a failure adds
 * nothing.  Without them the rules before the failure stay, and the
 * filter is marked broken.  A single rule is all or nothing either way,
 * because libseccomp undoes a rule that fails on one architecture.
 */
static Py_ssize_t
add_checked(scx_filter *self, const pending_rule *batch, Py_ssize_t n,
            int *rc, Py_ssize_t *failed)
{
    int transaction = n > 1 && scx_transactions_available()
                      && scx_transaction_start(self->ctx) == 0;
    Py_ssize_t i;

    *rc = 0;
    *failed = -1;
    for (i = 0; i < n; i++) {
        *rc = add_to_context(self->ctx, &batch[i].rule);
        if (*rc < 0) {
            *failed = i;
            break;
        }
    }
    if (!transaction) {
        store_rules(self, batch, i);
        if (*rc < 0 && i > 0)
            self->broken = 1;
        return i;
    }
    if (*rc < 0) {
        scx_transaction_reject(self->ctx);
        return 0;
    }
    *rc = scx_transaction_commit(self->ctx);
    if (*rc < 0) {
        /* NOTE: libseccomp 2.6 documents no state after a failed commit,
         * so treat the batch as partial and make load() refuse it. */
        self->broken = 1;
        return 0;
    }
    store_rules(self, batch, n);
    return n;
}

/*
 * Check the batch, warning with the lock released.  Returns with the lock
 * held and 0, or without it and -1 with an exception set.
 *
 * Warnings come before anything is added, so that a warning turned into an
 * error adds nothing.  The batch is checked again after warning, because
 * the warning machinery (or another thread) may have changed the filter;
 * that second check can still fail, but it warns no more, so a handler
 * that changes the filter every time cannot make the call loop.
 */
static int
enter_checked(scx_filter *self, pending_rule *batch, Py_ssize_t n, int mode)
{
    scx_state *st = scx_filter_state(self);
    check_result result;
    int warned = 0;

    for (;;) {
        if (scx_enter(self) < 0)
            return -1;
        if (check_batch(self, batch, n, mode, &result) < 0) {
            scx_unlock(self);
            raise_check_failure(st, batch, &result);
            return -1;
        }
        if (result.warnings == 0 || warned)
            return 0;
        scx_unlock(self);
        if (emit_warnings(st, batch, n, &result) < 0)
            return -1;
        warned = 1;
    }
}

/* Check and add a parsed batch.  Returns the number of rules added, or -1
 * with an exception set. */
static Py_ssize_t
add_batch(scx_filter *self, pending_rule *batch, Py_ssize_t n, int mode)
{
    scx_state *st = scx_filter_state(self);
    Py_ssize_t added, failed;
    truncation_clash clash;
    int rc, broken;

    if (enter_checked(self, batch, n, mode) < 0)
        return -1;
    if (scx_reserve_rules(self, n) < 0) {
        scx_unlock(self);
        PyErr_NoMemory();
        return -1;
    }
    added = add_checked(self, batch, n, &rc, &failed);
    broken = self->broken;
    clash.arch = 0;
    if (rc == -EEXIST && failed >= 0)
        find_truncation_clash(self, batch, failed, &clash);
    scx_unlock(self);

    if (rc == 0)
        return added;
    if (clash.arch != 0)
        raise_truncation_clash(st, &batch[failed], &clash);
    else if (failed >= 0)
        raise_rule_error(st, rc, &batch[failed]);
    else
        scx_raise_libseccomp(st, rc, "seccomp_transaction_commit()");
    if (broken)
        scx_chain_error(st->FilterStateError, EINVAL,
                        "rules[%zd] failed after %zd rules were added, so "
                        "the filter holds only part of the batch; reset() "
                        "it before loading", failed, added);
    return -1;
}

PyObject *
scx_filter_add_rule(scx_filter *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"action", "syscall", "comparisons", "exact",
                               "missing", NULL};
    scx_state *st = scx_filter_state(self);
    PyObject *action, *syscall, *comparisons = NULL, *mode_obj = NULL;
    int exact = 0, mode;
    pending_rule rule;
    Py_ssize_t added;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|OpO:add_rule",
                                     keywords, &action, &syscall,
                                     &comparisons, &exact, &mode_obj))
        return NULL;
    if (scx_parse_mode(st, mode_obj, &mode) < 0)
        return NULL;
    if (parse_rule(st, action, syscall, comparisons, exact, &rule) < 0)
        return NULL;
    /* Messages and warnings use the syscall object after Python code
     * ran; keep it alive whatever that code does. */
    Py_INCREF(syscall);
    added = add_batch(self, &rule, 1, mode);
    Py_DECREF(syscall);
    if (added < 0)
        return NULL;
    Py_RETURN_NONE;
}

/*
 * Put "rules[index]: " in front of the message of a parse error that is an
 * InvalidArgumentError or a TypeError, because those name a bad comparison
 * or value but not the rule.  Other errors, such as UnknownSyscallError,
 * name the syscall, so they keep their message and attributes.
 */
static void
prefix_rule_error(scx_state *st, Py_ssize_t index)
{
    PyObject *type, *value, *traceback, *text, *message, *error;
    int err = EINVAL;

    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (value == NULL
        || (type != st->InvalidArgumentError && type != PyExc_TypeError)) {
        PyErr_Restore(type, value, traceback);
        return;
    }
    text = NULL;
    if (type == st->InvalidArgumentError) {
        PyObject *number = PyObject_GetAttrString(value, "errno");

        if (number != NULL && PyLong_Check(number))
            err = (int)PyLong_AsLong(number);
        Py_XDECREF(number);
        PyErr_Clear();
        text = PyObject_GetAttrString(value, "message");
        if (text == NULL || !PyUnicode_Check(text)) {
            PyErr_Clear();
            Py_CLEAR(text);
        }
    }
    if (text == NULL)
        text = PyObject_Str(value);
    if (text == NULL) {
        PyErr_Clear();
        PyErr_Restore(type, value, traceback);
        return;
    }
    message = PyUnicode_FromFormat("rules[%zd]: %U", index, text);
    Py_DECREF(text);
    if (message == NULL) {
        PyErr_Clear();
        PyErr_Restore(type, value, traceback);
        return;
    }
    error = type == PyExc_TypeError
            ? PyObject_CallOneArg(type, message)
            : PyObject_CallFunction(type, "Oi", message, err);
    Py_DECREF(message);
    if (error == NULL) {
        PyErr_Clear();
        PyErr_Restore(type, value, traceback);
        return;
    }
    Py_DECREF(value);
    Py_XDECREF(traceback);
    PyErr_SetObject(type, error);
    Py_DECREF(error);
    Py_DECREF(type);
}

static int
parse_batch_item(scx_state *st, PyObject *item, Py_ssize_t index,
                 int exact, pending_rule *out)
{
    Py_ssize_t size;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 2
        || PyTuple_GET_SIZE(item) > 3) {
        PyErr_Format(PyExc_TypeError,
                     "rules[%zd] must be an (action, syscall[, "
                     "comparisons]) tuple, not %.100s", index,
                     Py_TYPE(item)->tp_name);
        return -1;
    }
    size = PyTuple_GET_SIZE(item);
    return parse_rule(st, PyTuple_GET_ITEM(item, 0),
                      PyTuple_GET_ITEM(item, 1),
                      size == 3 ? PyTuple_GET_ITEM(item, 2) : NULL, exact,
                      out);
}

/*
 * Add many rules in one call: an iterable of (action, syscall[,
 * comparisons]) tuples.  Every rule is parsed and checked before the
 * first is added, so bad input adds nothing.
 */
PyObject *
scx_filter_add_rules(scx_filter *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"rules", "exact", "missing", NULL};
    scx_state *st = scx_filter_state(self);
    PyObject *rules, *items, *mode_obj = NULL;
    pending_rule *batch = NULL;
    Py_ssize_t i, n, added = -1;
    int exact = 0, mode;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|pO:add_rules",
                                     keywords, &rules, &exact, &mode_obj))
        return NULL;
    if (scx_parse_mode(st, mode_obj, &mode) < 0)
        return NULL;
    /* A tuple copy: the items stay alive and in place while Python code
     * runs during parsing and warnings. */
    items = PySequence_Tuple(rules);
    if (items == NULL)
        return NULL;
    n = PyTuple_GET_SIZE(items);
    batch = calloc(n ? (size_t)n : 1, sizeof(pending_rule));
    if (batch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (parse_batch_item(st, PyTuple_GET_ITEM(items, i), i, exact,
                             &batch[i]) < 0) {
            prefix_rule_error(st, i);
            goto done;
        }
    }
    added = add_batch(self, batch, n, mode);

done:
    free(batch);
    Py_DECREF(items);
    if (added < 0)
        return NULL;
    return PyLong_FromSsize_t(added);
}

/* Shared by the one-call paths ----------------------------------------- */

/* Set *mode from strict, or from the filter's own strict when it is None.
 * Returns -1 with an exception set, a TypeError for a strict other than
 * True, False or None, as the package's general path raises. */
static int
plain_mode(scx_filter *self, PyObject *strict, int *mode)
{
    int truth;

    if (strict == Py_None) {
        strict = scx_get_member(self, &self->strict);
        truth = strict == NULL ? 0 : PyObject_IsTrue(strict);
        Py_XDECREF(strict);
    }
    else if (strict == Py_True || strict == Py_False)
        truth = strict == Py_True;
    else {
        PyErr_Format(PyExc_TypeError,
                     "strict must be True, False or None (the filter's "
                     "setting), not %R", strict);
        return -1;
    }
    if (truth < 0)
        return -1;
    *mode = truth ? SCX_MISSING_RAISE : SCX_MISSING_WARN;
    return 0;
}

static int
filter_is_loaded(scx_filter *self)
{
    int loaded;

    scx_lock(self);
    loaded = self->loaded;
    scx_unlock(self);
    return loaded;
}

/* Whether recorded is still the filter's record of its rules: warnings
 * run Python code, which may have replaced it. */
static int
still_recorded(scx_filter *self, PyObject *recorded)
{
    PyObject *current = scx_get_member(self, &self->recorded);

    Py_XDECREF(current);
    return recorded != NULL && current == recorded;
}

/* Record an added batch in the rules as given, unless that record is off
 * (None).  The entry is (action, syscalls), one rule per name in the
 * tuple. */
static int
record_same(scx_filter *self, PyObject *recorded, PyObject *action,
            PyObject *syscalls)
{
    PyObject *entry;
    int rc;

    /* Record only in the list that is still the filter's, so that code
     * replacing _rules cannot make this fail. */
    if (!still_recorded(self, recorded))
        return 0;
    entry = PyTuple_Pack(2, action, syscalls);
    if (entry == NULL)
        return -1;
    rc = PyList_Append(recorded, entry);
    Py_DECREF(entry);
    return rc;
}

/*
 * _add_same(action, syscalls, strict) -> int: add one rule without
 * comparisons per syscall name in the tuple, all with the same action, and
 * record the batch; strict None means the filter's own setting.  Returns
 * NotImplemented, adding nothing, when the filter is loaded, when it
 * records its rules somewhere other than a list, or when a syscall is not
 * a name: the package's general path handles those with its own checks
 * and messages.
 */
PyObject *
scx_filter_add_same(scx_filter *self, PyObject *const *args, Py_ssize_t nargs)
{
    scx_state *st = scx_filter_state(self);
    PyObject *action, *syscalls, *recorded;
    pending_rule *batch = NULL;
    Py_ssize_t i, n, added = -1;
    int mode;

    if (nargs != 3 || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "_add_same() takes an action, a tuple of syscalls "
                        "and strict");
        return NULL;
    }
    action = args[0];
    syscalls = args[1];
    n = PyTuple_GET_SIZE(syscalls);
    for (i = 0; i < n; i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(syscalls, i)))
            Py_RETURN_NOTIMPLEMENTED;
    }
    recorded = scx_get_member(self, &self->recorded);
    if (recorded == Py_None)
        Py_CLEAR(recorded);
    if (recorded != NULL && !PyList_CheckExact(recorded)) {
        Py_DECREF(recorded);
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (filter_is_loaded(self)) {
        Py_XDECREF(recorded);
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (plain_mode(self, args[2], &mode) < 0)
        goto done;

    batch = calloc(n ? (size_t)n : 1, sizeof(pending_rule));
    if (batch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (parse_rule(st, action, PyTuple_GET_ITEM(syscalls, i), NULL, 0,
                       &batch[i]) < 0)
            goto done;
    }
    added = add_batch(self, batch, n, mode);
    if (added > 0 && record_same(self, recorded, action, syscalls) < 0)
        added = -1;

done:
    free(batch);
    Py_XDECREF(recorded);
    if (added < 0)
        return NULL;
    return PyLong_FromSsize_t(added);
}

/* Whether an architecture of the filter reaches some syscalls through
 * socketcall(2) or ipc(2), where the package checks argument rules
 * itself. */
static int
has_multiplexer_arch(scx_filter *self)
{
    int i, found = 0;

    scx_lock(self);
    for (i = 0; i < self->narches && !found; i++) {
        found = seccomp_syscall_resolve_name_arch(self->arches[i],
                                                  "socketcall") >= 0
                || seccomp_syscall_resolve_name_arch(self->arches[i],
                                                     "ipc") >= 0;
    }
    scx_unlock(self);
    return found;
}

/* The value of a seccompx.Action the kernel lists, as a new reference, or
 * NULL without an exception for anything else. */
static PyObject *
plain_action(scx_state *st, const scx_defaults *d, PyObject *action)
{
    PyObject *value;
    unsigned long raw;

    if ((PyObject *)Py_TYPE(action) != d->action_type)
        return NULL;
    value = scx_peek_action_value(d, action);
    if (value != NULL)
        Py_INCREF(value);
    else
        value = PyObject_GetAttr(action, st->str_value);
    if (value == NULL || !PyLong_Check(value)) {
        PyErr_Clear();
        Py_XDECREF(value);
        return NULL;
    }
    raw = PyLong_AsUnsignedLong(value);
    if ((raw == (unsigned long)-1 && PyErr_Occurred()) || raw > 0xffffffffUL
        || !scx_kind_listed(d, (uint32_t)raw)) {
        PyErr_Clear();
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

/*
 * add_rules() in one call for the common case: a list or tuple of
 * (Action, name[, comparisons]) tuples, with actions the kernel lists, on
 * a filter of architectures without socketcall(2) or ipc(2).  available
 * is the package's current actions_available(), which must be the list
 * the defaults were recorded for, or NULL to trust the record, which
 * _forget_defaults() drops when that list may change.  Returns
 * NotImplemented, adding nothing, for anything else, which the package's
 * general path checks and reports.  A list of comparisons is recorded as
 * a tuple, so that later changes to the caller's list do not reach
 * to_profile().
 */
PyObject *
scx_add_rules_plain(scx_filter *self, PyObject *rules, PyObject *strict,
                    PyObject *available)
{
    scx_state *st = scx_filter_state(self);
    PyObject *items, **values = NULL, *entries = NULL, *recorded;
    pending_rule *batch = NULL;
    scx_defaults d;
    Py_ssize_t i, n, added = -1;
    int mode, comparisons = 0;

    if (!PyList_CheckExact(rules) && !PyTuple_CheckExact(rules))
        Py_RETURN_NOTIMPLEMENTED;
    if (filter_is_loaded(self))
        Py_RETURN_NOTIMPLEMENTED;
    scx_get_defaults(st, &d);
    if (!d.ready || (available != NULL && d.available != available))
        Py_RETURN_NOTIMPLEMENTED;
    if (plain_mode(self, strict, &mode) < 0)
        return NULL;
    /* The list the rules are recorded in, held so that Python code run by
     * warnings cannot free it. */
    recorded = scx_get_member(self, &self->recorded);
    if (recorded == NULL || !PyList_CheckExact(recorded)) {
        Py_XDECREF(recorded);
        Py_RETURN_NOTIMPLEMENTED;
    }

    /* A tuple copy, so that the items stay in place while Python code runs
     * during parsing and warnings. */
    items = PySequence_Tuple(rules);
    if (items == NULL) {
        Py_DECREF(recorded);
        return NULL;
    }
    n = PyTuple_GET_SIZE(items);
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);

        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) < 2
            || PyTuple_GET_SIZE(item) > 3
            || !PyUnicode_Check(PyTuple_GET_ITEM(item, 1)))
            goto general;
        if (PyTuple_GET_SIZE(item) == 3) {
            PyObject *cmps = PyTuple_GET_ITEM(item, 2);

            if (PyTuple_CheckExact(cmps))
                comparisons |= PyTuple_GET_SIZE(cmps) > 0;
            else if (PyList_CheckExact(cmps))
                comparisons |= PyList_GET_SIZE(cmps) > 0;
            else if (cmps != Py_None)
                goto general;
        }
    }
    if (comparisons && has_multiplexer_arch(self))
        goto general;

    values = calloc(n ? (size_t)n : 1, sizeof(PyObject *));
    entries = PyTuple_New(n);
    batch = calloc(n ? (size_t)n : 1, sizeof(pending_rule));
    if (values == NULL || entries == NULL || batch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i), *entry;

        values[i] = plain_action(st, &d, PyTuple_GET_ITEM(item, 0));
        if (values[i] == NULL)
            goto general;
        if (PyTuple_GET_SIZE(item) == 3) {
            PyObject *cmps = PyTuple_GET_ITEM(item, 2);

            if (PyList_CheckExact(cmps)) {
                cmps = PyList_AsTuple(cmps);
                if (cmps == NULL)
                    goto done;
            }
            else
                Py_INCREF(cmps);
            entry = PyTuple_Pack(3, values[i], PyTuple_GET_ITEM(item, 1),
                                 cmps);
            Py_DECREF(cmps);
        }
        else
            entry = PyTuple_Pack(2, values[i], PyTuple_GET_ITEM(item, 1));
        if (entry == NULL)
            goto done;
        PyTuple_SET_ITEM(entries, i, entry);
    }
    for (i = 0; i < n; i++) {
        /* The recorded copy, so that the filter and the record agree. */
        PyObject *entry = PyTuple_GET_ITEM(entries, i);

        if (parse_rule(st, values[i], PyTuple_GET_ITEM(entry, 1),
                       PyTuple_GET_SIZE(entry) == 3 ? PyTuple_GET_ITEM(entry, 2)
                                                    : NULL,
                       0, &batch[i]) < 0) {
            prefix_rule_error(st, i);
            goto done;
        }
    }
    added = add_batch(self, batch, n, mode);
    if (added >= 0 && still_recorded(self, recorded)) {
        Py_ssize_t end = PyList_GET_SIZE(recorded);

        if (PyList_SetSlice(recorded, end, end, entries) < 0)
            added = -1;
    }
    goto done;

general:
    added = -2;

done:
    if (values != NULL) {
        for (i = 0; i < n; i++)
            Py_XDECREF(values[i]);
        free(values);
    }
    Py_XDECREF(entries);
    free(batch);
    Py_DECREF(items);
    Py_DECREF(recorded);
    if (added == -2)
        Py_RETURN_NOTIMPLEMENTED;
    if (added < 0)
        return NULL;
    return PyLong_FromSsize_t(added);
}

/* _add_rules_plain(rules, strict, available) -> int: scx_add_rules_plain()
 * for Python. */
PyObject *
scx_filter_add_rules_plain(scx_filter *self, PyObject *const *args,
                           Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "_add_rules_plain() takes rules, strict and the "
                        "value of actions_available()");
        return NULL;
    }
    return scx_add_rules_plain(self, args[0], args[1], args[2]);
}

/* Priorities ------------------------------------------------------------- */

static int
reserve_priority(scx_filter *self)
{
    Py_ssize_t capacity;
    scx_priority *priorities;

    if (self->npriorities < self->priorities_capacity)
        return 0;
    capacity = self->priorities_capacity ? self->priorities_capacity * 2 : 8;
    priorities = realloc(self->priorities,
                         (size_t)capacity * sizeof(scx_priority));
    if (priorities == NULL)
        return -1;
    self->priorities = priorities;
    self->priorities_capacity = capacity;
    return 0;
}

static void
store_priority(scx_filter *self, int nr, uint8_t priority)
{
    Py_ssize_t i;

    for (i = 0; i < self->npriorities; i++) {
        if (self->priorities[i].nr == nr) {
            self->priorities[i].priority = priority;
            return;
        }
    }
    self->priorities[self->npriorities].nr = nr;
    self->priorities[self->npriorities].priority = priority;
    self->npriorities++;
}

PyObject *
scx_filter_syscall_priority(scx_filter *self, PyObject *args)
{
    scx_state *st = scx_filter_state(self);
    PyObject *syscall, *priority_obj;
    long priority;
    int nr, rc;

    if (!PyArg_ParseTuple(args, "OO:syscall_priority", &syscall,
                          &priority_obj))
        return NULL;
    if (scx_resolve_syscall(st, syscall, SCMP_ARCH_NATIVE, &nr) < 0)
        return NULL;
    if (scx_parse_bounded(st, priority_obj, "priority", 0, 255,
                          &priority) < 0)
        return NULL;
    if (scx_enter(self) < 0)
        return NULL;
    if (reserve_priority(self) < 0) {
        scx_unlock(self);
        return PyErr_NoMemory();
    }
    rc = seccomp_syscall_priority(self->ctx, nr, (uint8_t)priority);
    if (rc == 0)
        store_priority(self, nr, (uint8_t)priority);
    scx_unlock(self);

    if (rc == -EFAULT || rc == -EDOM)
        return scx_raise_unknown_syscall(
            st, syscall, seccomp_arch_native(),
            "cannot set a priority for syscall %R: libseccomp cannot "
            "translate it to every architecture of the filter (%s)",
            syscall, strerror(-rc));
    if (rc < 0)
        return scx_raise_libseccomp(st, rc, "seccomp_syscall_priority()");
    Py_RETURN_NONE;
}
