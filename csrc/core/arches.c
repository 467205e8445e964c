/*
 * The architectures of a filter.
 *
 * libseccomp 2.5 gives an architecture added with seccomp_arch_add() none
 * of the rules already in the filter, so a deny rule added before the
 * architecture would not apply to it.  seccompx keeps every rule, builds
 * the new architecture's part in a scratch context with the same rules
 * and attributes, and merges it in.
 */
#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the rules already in the filter would do on a new architecture. */
typedef struct {
    int conflict;               /* merged rules that shadow each other */
    int untranslatable;         /* a rule's number has no native name */
    int missing;                /* rules whose syscall the arch lacks */
    int truncated;              /* rules that lose bits on a 32-bit arch */
    char missing_names[256];
    char rule_name[64];         /* first untranslatable or truncated rule */
} arch_check;

int
scx_find_arch(scx_filter *self, uint32_t token)
{
    int i;

    for (i = 0; i < self->narches; i++)
        if (self->arches[i] == token)
            return i;
    return -1;
}

static void
append_name(char *buffer, size_t size, int nr)
{
    char *name = seccomp_syscall_resolve_num_arch(seccomp_arch_native(), nr);
    size_t used = strlen(buffer);

    if (used < size)
        snprintf(buffer + used, size - used, "%s%s", used ? ", " : "",
                 name ? name : "?");
    free(name);
}

static void
describe_nr(char *buffer, size_t size, int nr)
{
    buffer[0] = '\0';
    append_name(buffer, size, nr);
    if (strcmp(buffer, "?") == 0)
        snprintf(buffer, size, "number %d", nr);
}

/* With the lock held: check the stored rules against a new arch. */
static void
check_stored_rules(scx_filter *self, uint32_t token, arch_check *check)
{
    Py_ssize_t i, j;
    int untranslatable;

    memset(check, 0, sizeof(*check));
    /* Rules of merged filters applied to disjoint architectures; on one
     * new architecture libseccomp would keep only one of two conflicting
     * rules. */
    if (self->mixed_rules) {
        Py_ssize_t other, index = scx_find_stored_conflict(self, &other);

        if (index >= 0) {
            check->conflict = 1;
            describe_nr(check->rule_name, sizeof(check->rule_name),
                        self->rules[index].nr);
            return;
        }
    }
    for (i = 0; i < self->nrules; i++) {
        const scx_rule *rule = &self->rules[i];
        int seen = 0;

        for (j = 0; j < i && !seen; j++)
            seen = self->rules[j].nr == rule->nr;
        if (!seen && scx_syscall_missing(token, rule->nr, &untranslatable)) {
            if (untranslatable) {
                check->untranslatable++;
                describe_nr(check->rule_name, sizeof(check->rule_name),
                            rule->nr);
                return;
            }
            check->missing++;
            append_name(check->missing_names, sizeof(check->missing_names),
                        rule->nr);
        }
        if (scx_arch_is_32bit(token) && scx_rule_is_wide(rule)
            && check->truncated++ == 0)
            describe_nr(check->rule_name, sizeof(check->rule_name),
                        rule->nr);
    }
}

static PyObject *
raise_arch_check(scx_state *st, uint32_t token, const arch_check *check)
{
    const char *arch = scx_arch_name(token);

    if (check->conflict)
        return scx_raise(st->ArchitectureError, EEXIST,
                         "cannot add %s: the filter was merged from filters "
                         "with conflicting rules for syscall %s, and one "
                         "architecture cannot take both; add %s to one of "
                         "the filters before merging", arch,
                         check->rule_name, arch);
    if (check->untranslatable)
        return scx_raise(st->ArchitectureError, EINVAL,
                         "cannot add %s: the filter has a rule for syscall "
                         "%s, which has no name on the native architecture, "
                         "so libseccomp cannot translate it to %s", arch,
                         check->rule_name, arch);
    if (check->missing)
        return scx_raise(st->UnknownSyscallError, EINVAL,
                         "cannot add %s: the filter has rules for syscalls "
                         "that do not exist there (%s), and they would "
                         "never match there", arch, check->missing_names);
    return scx_raise(st->InvalidArgumentError, EINVAL,
                     "cannot add %s: the filter has rules that compare "
                     "values above 32 bits (%d, the first for %s), and "
                     "libseccomp compares only the low 32 bits there", arch,
                     check->truncated, check->rule_name);
}

static int
warn_arch_check(scx_state *st, uint32_t token, const arch_check *check)
{
    const char *arch = scx_arch_name(token);

    if (check->missing
        && PyErr_WarnFormat(st->UnmatchableRuleWarning, 2,
                            "the filter has rules for syscalls that do not "
                            "exist on %s (%s); they never match there (pass "
                            "strict=True to raise instead)", arch,
                            check->missing_names) < 0)
        return -1;
    if (check->truncated
        && PyErr_WarnFormat(st->TruncatedValueWarning, 2,
                            "the filter has rules that compare values above "
                            "32 bits (%d, the first for %s), but libseccomp "
                            "compares only the low 32 bits on %s, so they "
                            "match other values there (pass strict=True to "
                            "raise instead)", check->truncated,
                            check->rule_name, arch) < 0)
        return -1;
    return 0;
}

/* Build a context for the new architecture alone, with the filter's
 * attributes, priorities and rules.  Returns NULL with *rc set. */
static scmp_filter_ctx
build_arch_part(scx_filter *self, uint32_t token, int *rc)
{
    uint32_t native = seccomp_arch_native(), action;
    scmp_filter_ctx part;
    Py_ssize_t i;

    *rc = seccomp_attr_get(self->ctx, SCMP_FLTATR_ACT_DEFAULT, &action);
    if (*rc < 0)
        return NULL;
    part = seccomp_init(action);
    if (part == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    *rc = scx_copy_attrs(self->ctx, part);
    if (*rc == 0 && token != native) {
        /* Remove the native arch first: libseccomp refuses to hold
         * architectures of both byte orders. */
        *rc = seccomp_arch_remove(part, native);
        if (*rc == 0)
            *rc = seccomp_arch_add(part, token);
    }
    for (i = 0; *rc == 0 && i < self->npriorities; i++)
        *rc = seccomp_syscall_priority(part, self->priorities[i].nr,
                                       self->priorities[i].priority);
    for (i = 0; *rc == 0 && i < self->nrules; i++) {
        const scx_rule *rule = &self->rules[i];

        if (rule->exact)
            *rc = seccomp_rule_add_exact_array(part, rule->action, rule->nr,
                                               rule->count, rule->cmps);
        else
            *rc = seccomp_rule_add_array(part, rule->action, rule->nr,
                                         rule->count, rule->cmps);
    }
    if (*rc < 0) {
        seccomp_release(part);
        return NULL;
    }
    return part;
}

/* With the lock held: add the architecture with the filter's rules. */
static int
add_arch_locked(scx_filter *self, uint32_t token)
{
    scmp_filter_ctx part;
    int rc;

    if (self->nrules == 0 && self->npriorities == 0)
        return seccomp_arch_add(self->ctx, token);
    part = build_arch_part(self, token, &rc);
    if (part == NULL)
        return rc;
    rc = seccomp_merge(self->ctx, part);
    if (rc < 0)
        seccomp_release(part);      /* merge frees it only on success */
    return rc;
}

static PyObject *
raise_add_failure(scx_state *st, uint32_t token, int rc)
{
    const char *arch = scx_arch_name(token);

    if (rc == -EEXIST)
        return scx_raise(st->ArchitectureError, EEXIST,
                         "architecture %s is already in the filter", arch);
    if (rc == -EDOM)
        return scx_raise(st->ArchitectureError, EDOM,
                         "architecture %s is %s-endian, unlike the filter's "
                         "other architectures; libseccomp cannot put both "
                         "byte orders in one filter", arch,
                         scx_arch_is_big_endian(token) ? "big" : "little");
    if (rc == -ENOMEM)
        return PyErr_NoMemory();
    return scx_raise(st->ArchitectureError, -rc,
                     "libseccomp cannot add architecture %s (%s); this "
                     "build of libseccomp may not support it", arch,
                     strerror(-rc));
}

/* With the lock held: refuse duplicates and overflow.  0 or an errno. */
static int
check_room(scx_filter *self, uint32_t token)
{
    if (scx_find_arch(self, token) >= 0)
        return EEXIST;
    if (self->narches >= SCX_MAX_ARCHES)
        return E2BIG;
    return 0;
}

/* Lock and check, warning with the lock released as enter_checked() in
 * rules.c does.  Returns with the lock held and 0, or without it and -1
 * with an exception set. */
static int
enter_for_arch(scx_filter *self, uint32_t token, int mode)
{
    scx_state *st = scx_filter_state(self);
    int warned = 0, room;
    arch_check check;

    for (;;) {
        if (scx_enter(self) < 0)
            return -1;
        room = check_room(self, token);
        if (room != 0) {
            scx_unlock(self);
            if (room == E2BIG)
                scx_raise(st->ArchitectureError, E2BIG,
                          "a filter holds at most %d architectures",
                          SCX_MAX_ARCHES);
            else
                raise_add_failure(st, token, -EEXIST);
            return -1;
        }
        check_stored_rules(self, token, &check);
        if (check.conflict || check.untranslatable
            || (mode == SCX_MISSING_RAISE
                && (check.missing || check.truncated))) {
            scx_unlock(self);
            raise_arch_check(st, token, &check);
            return -1;
        }
        if (mode != SCX_MISSING_WARN || (!check.missing && !check.truncated)
            || warned)
            return 0;
        scx_unlock(self);
        if (warn_arch_check(st, token, &check) < 0)
            return -1;
        warned = 1;
    }
}

PyObject *
scx_filter_add_arch(scx_filter *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"arch", "missing", NULL};
    scx_state *st = scx_filter_state(self);
    PyObject *arch_obj, *mode_obj = NULL;
    int mode, rc;
    uint32_t token;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:add_arch", keywords,
                                     &arch_obj, &mode_obj))
        return NULL;
    if (scx_parse_mode(st, mode_obj, &mode) < 0)
        return NULL;
    if (scx_parse_arch(st, arch_obj, &token) < 0)
        return NULL;
    if (enter_for_arch(self, token, mode) < 0)
        return NULL;
    rc = add_arch_locked(self, token);
    if (rc == 0) {
        self->arches[self->narches++] = token;
        self->generation++;
    }
    scx_unlock(self);

    if (rc < 0)
        return raise_add_failure(st, token, rc);
    Py_RETURN_NONE;
}

PyObject *
scx_filter_remove_arch(scx_filter *self, PyObject *arch_obj)
{
    scx_state *st = scx_filter_state(self);
    uint32_t token;
    int rc = 0, index, last;

    if (scx_parse_arch(st, arch_obj, &token) < 0)
        return NULL;
    if (scx_enter(self) < 0)
        return NULL;
    index = scx_find_arch(self, token);
    last = index >= 0 && self->narches == 1;
    if (index >= 0 && !last) {
        rc = seccomp_arch_remove(self->ctx, token);
        if (rc == 0) {
            memmove(&self->arches[index], &self->arches[index + 1],
                    (size_t)(self->narches - index - 1)
                        * sizeof(self->arches[0]));
            self->narches--;
            self->generation++;
        }
    }
    scx_unlock(self);

    if (index < 0)
        return scx_raise(st->ArchitectureError, ENOENT,
                         "architecture %s is not in the filter",
                         scx_arch_name(token));
    if (last)
        return scx_raise(st->ArchitectureError, EINVAL,
                         "cannot remove %s, the filter's last architecture; "
                         "add another one first", scx_arch_name(token));
    if (rc < 0)
        return scx_raise(st->ArchitectureError, -rc,
                         "libseccomp cannot remove architecture %s (%s)",
                         scx_arch_name(token), strerror(-rc));
    Py_RETURN_NONE;
}

PyObject *
scx_filter_has_arch(scx_filter *self, PyObject *arch_obj)
{
    scx_state *st = scx_filter_state(self);
    uint32_t token;
    int found;

    if (scx_parse_arch(st, arch_obj, &token) < 0)
        return NULL;
    if (scx_enter(self) < 0)
        return NULL;
    found = scx_find_arch(self, token) >= 0;
    scx_unlock(self);
    return PyBool_FromLong(found);
}

PyObject *
scx_filter_get_arches(scx_filter *self, void *closure)
{
    uint32_t arches[SCX_MAX_ARCHES];
    PyObject *result;
    int i, n;

    if (scx_enter(self) < 0)
        return NULL;
    n = self->narches;
    memcpy(arches, self->arches, sizeof(arches));
    scx_unlock(self);

    result = PyTuple_New(n);
    for (i = 0; result != NULL && i < n; i++) {
        PyObject *token = PyLong_FromUnsignedLong(arches[i]);

        if (token == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(result, i, token);
    }
    return result;
}
