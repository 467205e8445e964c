/*
 * seccompx._core.Context: one libseccomp filter context.
 *
 * Every method takes the object's lock before touching ctx, so that a
 * filter shared between threads is never used by two libseccomp calls at
 * once, even on a free-threaded build.  No method releases the GIL while
 * holding the lock, so on GIL builds the lock is never contended.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "structmember.h"

#define SCX_LIBSECCOMP_2_6 \
    (SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6))

/* Modes for rules naming a syscall absent from some architecture. */
enum { MISSING_WARN = 0, MISSING_RAISE = 1, MISSING_IGNORE = 2 };

static scx_state *
filter_state(scx_filter *self)
{
    return scx_state_from_type(Py_TYPE(self));
}

/* Take the lock; fail with FilterStateError if the filter is closed. */
static int
filter_enter(scx_filter *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    if (self->ctx == NULL) {
        PyThread_release_lock(self->lock);
        scx_raise(filter_state(self)->FilterStateError, EBADF,
                  "the filter is closed; create a new seccompx.Filter");
        return -1;
    }
    return 0;
}

static void
filter_leave(scx_filter *self)
{
    PyThread_release_lock(self->lock);
}

static void
filter_reset_arches(scx_filter *self)
{
    self->arches[0] = seccomp_arch_native();
    self->narches = 1;
}

static PyObject *
filter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    scx_filter *self;

    self = (scx_filter *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->lock = PyThread_allocate_lock();
    if (self->lock == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static int
filter_init(scx_filter *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"default", NULL};
    scx_state *st = filter_state(self);
    PyObject *action_obj;
    uint32_t action;
    scmp_filter_ctx ctx;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Context", keywords,
                                     &action_obj))
        return -1;
    if (scx_check_action(st, action_obj, &action) < 0)
        return -1;
    if (self->ctx != NULL) {
        scx_raise(st->FilterStateError, EBUSY,
                  "the filter is already initialised; use reset()");
        return -1;
    }

    ctx = seccomp_init(action);
    if (ctx == NULL) {
        scx_raise(st->SeccompError, ENOMEM,
                  "seccomp_init(0x%08x) failed: libseccomp could not "
                  "allocate a filter context", (unsigned int)action);
        return -1;
    }
    self->ctx = ctx;
    filter_reset_arches(self);
    return 0;
}

static void
filter_release(scx_filter *self)
{
    if (self->ctx != NULL) {
        seccomp_release(self->ctx);
        self->ctx = NULL;
    }
}

static void
filter_dealloc(scx_filter *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    filter_release(self);
    if (self->lock != NULL)
        PyThread_free_lock(self->lock);
    type->tp_free(self);
    Py_DECREF(type);
}

static int
filter_traverse(scx_filter *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static PyObject *
filter_close(scx_filter *self, PyObject *unused)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    filter_release(self);
    PyThread_release_lock(self->lock);
    Py_RETURN_NONE;
}

static PyObject *
filter_reset(scx_filter *self, PyObject *action_obj)
{
    scx_state *st = filter_state(self);
    uint32_t action;
    int rc;

    if (scx_check_action(st, action_obj, &action) < 0)
        return NULL;
    if (filter_enter(self) < 0)
        return NULL;
    rc = seccomp_reset(self->ctx, action);
    if (rc == 0) {
        filter_reset_arches(self);
        self->nrules = 0;
        self->loaded = 0;
        self->exported = 0;
        self->broken = 0;
    }
    filter_leave(self);

    if (rc < 0)
        return scx_raise_libseccomp(st, rc, "seccomp_reset()");
    Py_RETURN_NONE;
}

/* Rules ------------------------------------------------------------------ */

static const char *
op_symbol(int op)
{
    switch (op) {
    case SCMP_CMP_NE: return "!=";
    case SCMP_CMP_LT: return "<";
    case SCMP_CMP_LE: return "<=";
    case SCMP_CMP_EQ: return "==";
    case SCMP_CMP_GE: return ">=";
    case SCMP_CMP_GT: return ">";
    case SCMP_CMP_MASKED_EQ: return "masked_eq";
    default: return "?";
    }
}

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
    value = PyLong_AsUnsignedLongLong(obj);
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

/* Parse one (arg, op, datum_a, datum_b) tuple. */
static int
parse_comparison(scx_state *st, PyObject *item, struct scmp_arg_cmp *cmp)
{
    long arg, op;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4) {
        PyErr_Format(PyExc_TypeError,
                     "a comparison must be a seccompx.Comparison such as "
                     "Arg(0) == 1, not %.100s", Py_TYPE(item)->tp_name);
        return -1;
    }
    arg = PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
    if (arg == -1 && PyErr_Occurred())
        return -1;
    if (arg < 0 || arg > 5) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "argument index %ld is out of range: syscalls have "
                  "arguments 0 to 5", arg);
        return -1;
    }
    op = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
    if (op == -1 && PyErr_Occurred())
        return -1;
    if (op < SCMP_CMP_NE || op > SCMP_CMP_MASKED_EQ) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "comparison operator %ld on argument %ld is unknown; use "
                  "a member of seccompx.Op", op, arg);
        return -1;
    }
    cmp->arg = (unsigned int)arg;
    cmp->op = (enum scmp_compare)op;
    if (parse_u64(st, PyTuple_GET_ITEM(item, 2), cmp->arg,
                  op == SCMP_CMP_MASKED_EQ ? "mask" : "value",
                  &cmp->datum_a) < 0)
        return -1;
    if (parse_u64(st, PyTuple_GET_ITEM(item, 3), cmp->arg, "masked value",
                  &cmp->datum_b) < 0)
        return -1;

    if (op == SCMP_CMP_MASKED_EQ && (cmp->datum_b & ~cmp->datum_a) != 0) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "masked_eq on argument %u can never match: value 0x%llx "
                  "has bits outside mask 0x%llx", cmp->arg,
                  (unsigned long long)cmp->datum_b,
                  (unsigned long long)cmp->datum_a);
        return -1;
    }
    if (op != SCMP_CMP_MASKED_EQ && cmp->datum_b != 0) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "comparison %s on argument %u takes one value, but a "
                  "second (0x%llx) was given", op_symbol((int)op), cmp->arg,
                  (unsigned long long)cmp->datum_b);
        return -1;
    }
    return 0;
}

/* Parse up to six comparisons, each on a different argument. */
static int
parse_comparisons(scx_state *st, PyObject *seq, struct scmp_arg_cmp *cmps,
                  unsigned int *count)
{
    PyObject *fast;
    Py_ssize_t n, i;
    unsigned int seen = 0;

    fast = PySequence_Fast(seq, "comparisons must be a sequence");
    if (fast == NULL)
        return -1;
    n = PySequence_Fast_GET_SIZE(fast);
    if (n > 6) {
        Py_DECREF(fast);
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "a rule takes at most 6 comparisons, one per syscall "
                  "argument, but %zd were given", n);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (parse_comparison(st, PySequence_Fast_GET_ITEM(fast, i),
                             &cmps[i]) < 0)
            goto error;
        if (seen & (1u << cmps[i].arg)) {
            scx_raise(st->InvalidArgumentError, EINVAL,
                      "argument %u is compared twice in one rule; "
                      "libseccomp allows one comparison per argument, so "
                      "add a second rule to match either value",
                      cmps[i].arg);
            goto error;
        }
        seen |= 1u << cmps[i].arg;
    }
    Py_DECREF(fast);
    *count = (unsigned int)n;
    return 0;

error:
    Py_DECREF(fast);
    return -1;
}

/*
 * For a syscall given by name, find the architectures of the filter that
 * do not have it; a rule there would never match.  Warn or raise as the
 * mode asks.
 */
static int
check_missing_arches(scx_filter *self, PyObject *syscall, int mode)
{
    scx_state *st = filter_state(self);
    char missing[256];
    size_t used = 0;
    int i, nmissing = 0;
    const char *name;

    if (mode == MISSING_IGNORE || !PyUnicode_Check(syscall))
        return 0;
    name = PyUnicode_AsUTF8(syscall);
    if (name == NULL)
        return -1;

    missing[0] = '\0';
    for (i = 0; i < self->narches; i++) {
        if (seccomp_syscall_resolve_name_arch(self->arches[i], name) >= 0)
            continue;
        nmissing++;
        used += snprintf(missing + used, sizeof(missing) - used, "%s%s",
                         used ? ", " : "", scx_arch_name(self->arches[i]));
        if (used >= sizeof(missing))
            used = sizeof(missing) - 1;
    }
    if (nmissing == 0)
        return 0;

    if (mode == MISSING_RAISE) {
        scx_raise(st->UnknownSyscallError, EINVAL,
                  "syscall '%s' does not exist on %s, so a rule for it "
                  "would never match there", name, missing);
        return -1;
    }
    return PyErr_WarnFormat(st->UnmatchableRuleWarning, 2,
                            "syscall '%s' does not exist on %s; the rule "
                            "never matches there (pass strict=True to "
                            "raise instead)", name, missing);
}

static PyObject *
raise_rule_error(scx_state *st, int rc, uint32_t action, PyObject *syscall)
{
    switch (-rc) {
    case EACCES:
        return scx_raise(st->InvalidArgumentError, EACCES,
                         "rule for %R has action 0x%08x, which is the "
                         "filter's default action; libseccomp rejects "
                         "rules that change nothing", syscall,
                         (unsigned int)action);
    case EEXIST:
        return scx_raise(st->InvalidArgumentError, EEXIST,
                         "rule for %R conflicts with an existing rule for "
                         "the same syscall and arguments with another "
                         "action", syscall);
    case EOPNOTSUPP:
        return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                         "rule for %R cannot be expressed exactly on every "
                         "architecture of the filter (EOPNOTSUPP); use "
                         "add_rule() instead of add_rule_exact()", syscall);
    case EINVAL:
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "libseccomp rejected the rule for %R as invalid "
                         "(EINVAL)", syscall);
    default:
        return scx_raise_libseccomp(st, rc, "seccomp_rule_add()");
    }
}

/* Add one rule with the lock held.  Returns 0, or -1 with an exception. */
static int
add_one_rule(scx_filter *self, PyObject *action_obj, PyObject *syscall,
             PyObject *comparisons, int exact, int mode)
{
    scx_state *st = filter_state(self);
    struct scmp_arg_cmp cmps[6];
    unsigned int count = 0;
    uint32_t action;
    int nr, rc;

    if (scx_check_action(st, action_obj, &action) < 0)
        return -1;
    if (scx_resolve_syscall(st, syscall, SCMP_ARCH_NATIVE, &nr) < 0)
        return -1;
    if (comparisons != NULL && comparisons != Py_None
        && parse_comparisons(st, comparisons, cmps, &count) < 0)
        return -1;
    if (check_missing_arches(self, syscall, mode) < 0)
        return -1;

    if (exact)
        rc = seccomp_rule_add_exact_array(self->ctx, action, nr, count, cmps);
    else
        rc = seccomp_rule_add_array(self->ctx, action, nr, count, cmps);
    if (rc < 0) {
        raise_rule_error(st, rc, action, syscall);
        return -1;
    }
    self->nrules++;
    return 0;
}

static PyObject *
filter_add_rule(scx_filter *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"action", "syscall", "comparisons", "exact",
                               "missing", NULL};
    PyObject *action, *syscall, *comparisons = NULL;
    int exact = 0, mode = MISSING_WARN, rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|Opi:add_rule",
                                     keywords, &action, &syscall,
                                     &comparisons, &exact, &mode))
        return NULL;
    if (filter_enter(self) < 0)
        return NULL;
    rc = add_one_rule(self, action, syscall, comparisons, exact, mode);
    filter_leave(self);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Replace the pending exception with a FilterStateError caused by it. */
static void
raise_batch_failure(scx_state *st, Py_ssize_t index, Py_ssize_t added)
{
    PyObject *type, *cause, *traceback;
    PyObject *new_type, *error, *new_traceback;

    PyErr_Fetch(&type, &cause, &traceback);
    PyErr_NormalizeException(&type, &cause, &traceback);
    if (traceback != NULL && cause != NULL)
        PyException_SetTraceback(cause, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);

    scx_raise(st->FilterStateError, EINVAL,
              "rules[%zd] failed after %zd rules were added, so the filter "
              "holds only part of the batch; reset() it before loading "
              "(cause: %S)", index, added, cause ? cause : Py_None);
    PyErr_Fetch(&new_type, &error, &new_traceback);
    PyErr_NormalizeException(&new_type, &error, &new_traceback);
    if (error != NULL && cause != NULL)
        PyException_SetCause(error, cause);     /* steals cause */
    else
        Py_XDECREF(cause);
    PyErr_Restore(new_type, error, new_traceback);
}

/*
 * Add many rules in one call: an iterable of (action, syscall,
 * comparisons) tuples.  libseccomp 2.5 has no way to undo rules, so when
 * one fails after others were added the filter is marked broken, and
 * load and export refuse it until reset().
 */
static PyObject *
filter_add_rules(scx_filter *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"rules", "exact", "missing", NULL};
    PyObject *rules, *fast, *item;
    Py_ssize_t i, n, added = 0;
    int exact = 0, mode = MISSING_WARN;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|pi:add_rules",
                                     keywords, &rules, &exact, &mode))
        return NULL;
    fast = PySequence_Fast(rules, "rules must be a sequence of "
                           "(action, syscall, comparisons) tuples");
    if (fast == NULL)
        return NULL;
    if (filter_enter(self) < 0) {
        Py_DECREF(fast);
        return NULL;
    }

    n = PySequence_Fast_GET_SIZE(fast);
    for (i = 0; i < n; i++) {
        item = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 2
            || PyTuple_GET_SIZE(item) > 3) {
            PyErr_Format(PyExc_TypeError,
                         "rules[%zd] must be an (action, syscall, "
                         "comparisons) tuple, not %.100s", i,
                         Py_TYPE(item)->tp_name);
            goto error;
        }
        if (add_one_rule(self, PyTuple_GET_ITEM(item, 0),
                         PyTuple_GET_ITEM(item, 1),
                         PyTuple_GET_SIZE(item) == 3
                             ? PyTuple_GET_ITEM(item, 2) : NULL,
                         exact, mode) < 0)
            goto error;
        added++;
    }
    filter_leave(self);
    Py_DECREF(fast);
    return PyLong_FromSsize_t(added);

error:
    if (added > 0)
        self->broken = 1;
    filter_leave(self);
    Py_DECREF(fast);
    if (added > 0)
        raise_batch_failure(filter_state(self), i, added);
    return NULL;
}

/* Architectures ---------------------------------------------------------- */

static int
find_arch(scx_filter *self, uint32_t token)
{
    int i;

    for (i = 0; i < self->narches; i++)
        if (self->arches[i] == token)
            return i;
    return -1;
}

static PyObject *
filter_add_arch(scx_filter *self, PyObject *arch_obj)
{
    scx_state *st = filter_state(self);
    uint32_t token;
    int rc;

    if (scx_parse_arch(st, arch_obj, &token) < 0)
        return NULL;
    if (filter_enter(self) < 0)
        return NULL;
    if (find_arch(self, token) >= 0) {
        filter_leave(self);
        return scx_raise(st->ArchitectureError, EEXIST,
                         "architecture %s is already in the filter",
                         scx_arch_name(token));
    }
    if (self->narches >= SCX_MAX_ARCHES) {
        filter_leave(self);
        return scx_raise(st->ArchitectureError, E2BIG,
                         "a filter holds at most %d architectures",
                         SCX_MAX_ARCHES);
    }
    rc = seccomp_arch_add(self->ctx, token);
    if (rc == 0)
        self->arches[self->narches++] = token;
    filter_leave(self);

    if (rc == -EEXIST)
        return scx_raise(st->ArchitectureError, EEXIST,
                         "architecture %s is already in the filter",
                         scx_arch_name(token));
    if (rc < 0)
        return scx_raise(st->ArchitectureError, -rc,
                         "libseccomp cannot add architecture %s (%s); this "
                         "build may not support it", scx_arch_name(token),
                         strerror(-rc));
    Py_RETURN_NONE;
}

static PyObject *
filter_remove_arch(scx_filter *self, PyObject *arch_obj)
{
    scx_state *st = filter_state(self);
    uint32_t token;
    int rc, index;

    if (scx_parse_arch(st, arch_obj, &token) < 0)
        return NULL;
    if (filter_enter(self) < 0)
        return NULL;
    index = find_arch(self, token);
    if (index < 0) {
        filter_leave(self);
        return scx_raise(st->ArchitectureError, ENOENT,
                         "architecture %s is not in the filter",
                         scx_arch_name(token));
    }
    if (self->narches == 1) {
        filter_leave(self);
        return scx_raise(st->ArchitectureError, EINVAL,
                         "cannot remove %s, the filter's last architecture; "
                         "add another one first", scx_arch_name(token));
    }
    rc = seccomp_arch_remove(self->ctx, token);
    if (rc == 0) {
        memmove(&self->arches[index], &self->arches[index + 1],
                (self->narches - index - 1) * sizeof(self->arches[0]));
        self->narches--;
    }
    filter_leave(self);

    if (rc < 0)
        return scx_raise(st->ArchitectureError, -rc,
                         "libseccomp cannot remove architecture %s (%s)",
                         scx_arch_name(token), strerror(-rc));
    Py_RETURN_NONE;
}

static PyObject *
filter_has_arch(scx_filter *self, PyObject *arch_obj)
{
    scx_state *st = filter_state(self);
    uint32_t token;
    int rc;

    if (scx_parse_arch(st, arch_obj, &token) < 0)
        return NULL;
    if (filter_enter(self) < 0)
        return NULL;
    rc = seccomp_arch_exist(self->ctx, token);
    filter_leave(self);

    if (rc == 0)
        Py_RETURN_TRUE;
    if (rc == -EEXIST)
        Py_RETURN_FALSE;
    return scx_raise_libseccomp(st, rc, "seccomp_arch_exist()");
}

static PyObject *
filter_get_arches(scx_filter *self, void *closure)
{
    PyObject *result;
    int i;

    if (filter_enter(self) < 0)
        return NULL;
    result = PyTuple_New(self->narches);
    for (i = 0; result != NULL && i < self->narches; i++) {
        PyObject *token = PyLong_FromUnsignedLong(self->arches[i]);
        if (token == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(result, i, token);
    }
    filter_leave(self);
    return result;
}

/* Attributes ------------------------------------------------------------- */

static int
parse_attr(scx_state *st, PyObject *obj, enum scmp_filter_attr *attr)
{
    long value = PyLong_AsLong(obj);

    if (value == -1 && PyErr_Occurred())
        return -1;
    if (value <= _SCMP_FLTATR_MIN || value >= _SCMP_FLTATR_MAX) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "filter attribute %ld is unknown to this libseccomp; use "
                  "a member of seccompx.Attr", value);
        return -1;
    }
    *attr = (enum scmp_filter_attr)value;
    return 0;
}

static PyObject *
filter_get_attr(scx_filter *self, PyObject *attr_obj)
{
    scx_state *st = filter_state(self);
    enum scmp_filter_attr attr;
    uint32_t value = 0;
    int rc;

    if (parse_attr(st, attr_obj, &attr) < 0)
        return NULL;
    if (filter_enter(self) < 0)
        return NULL;
    rc = seccomp_attr_get(self->ctx, attr, &value);
    filter_leave(self);

    if (rc == -EOPNOTSUPP || rc == -EINVAL)
        return scx_raise(st->UnsupportedError, -rc,
                         "attribute %d is not supported by the running "
                         "libseccomp at API level %u", (int)attr,
                         seccomp_api_get());
    if (rc < 0)
        return scx_raise_libseccomp(st, rc, "seccomp_attr_get()");
    return PyLong_FromUnsignedLong(value);
}

static PyObject *
filter_set_attr(scx_filter *self, PyObject *args)
{
    scx_state *st = filter_state(self);
    PyObject *attr_obj, *value_obj;
    enum scmp_filter_attr attr;
    unsigned long value;
    int rc;

    if (!PyArg_ParseTuple(args, "OO:set_attr", &attr_obj, &value_obj))
        return NULL;
    if (parse_attr(st, attr_obj, &attr) < 0)
        return NULL;
    value = PyLong_AsUnsignedLong(value_obj);
    if ((value == (unsigned long)-1 && PyErr_Occurred())
        || value > 0xffffffffUL) {
        PyErr_Clear();
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "attribute %d value %R is not a 32-bit unsigned "
                         "integer", (int)attr, value_obj);
    }
    if (filter_enter(self) < 0)
        return NULL;
    rc = seccomp_attr_set(self->ctx, attr, (uint32_t)value);
    filter_leave(self);

    if (rc == -EOPNOTSUPP)
        return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                         "attribute %d is not supported by the running "
                         "libseccomp and kernel (API level %u)", (int)attr,
                         seccomp_api_get());
    if (rc == -EACCES)
        return scx_raise(st->InvalidArgumentError, EACCES,
                         "attribute %d value %lu conflicts with the "
                         "filter's rules or default action", (int)attr,
                         value);
    if (rc < 0)
        return scx_raise(st->InvalidArgumentError, -rc,
                         "libseccomp rejected value %lu for attribute %d "
                         "(%s)", value, (int)attr, strerror(-rc));
    Py_RETURN_NONE;
}

static PyObject *
filter_syscall_priority(scx_filter *self, PyObject *args)
{
    scx_state *st = filter_state(self);
    PyObject *syscall;
    int priority, nr, rc;

    if (!PyArg_ParseTuple(args, "Oi:syscall_priority", &syscall, &priority))
        return NULL;
    if (priority < 0 || priority > 255)
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "priority %d is out of range: libseccomp takes "
                         "0 to 255", priority);
    if (scx_resolve_syscall(st, syscall, SCMP_ARCH_NATIVE, &nr) < 0)
        return NULL;
    if (filter_enter(self) < 0)
        return NULL;
    rc = seccomp_syscall_priority(self->ctx, nr, (uint8_t)priority);
    filter_leave(self);

    if (rc < 0)
        return scx_raise_libseccomp(st, rc, "seccomp_syscall_priority()");
    Py_RETURN_NONE;
}

/* Merge, load and export ------------------------------------------------- */

static PyObject *
filter_merge(scx_filter *self, PyObject *other_obj)
{
    scx_state *st = filter_state(self);
    scx_filter *other;
    int i, rc;

    if (!PyObject_TypeCheck(other_obj, st->filter_type)) {
        PyErr_Format(PyExc_TypeError, "can only merge a seccompx.Filter, "
                     "not %.100s", Py_TYPE(other_obj)->tp_name);
        return NULL;
    }
    other = (scx_filter *)other_obj;
    if (other == self)
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "cannot merge a filter into itself");
    if (filter_enter(self) < 0)
        return NULL;
    if (filter_enter(other) < 0) {
        filter_leave(self);
        return NULL;
    }
    for (i = 0; i < other->narches; i++) {
        if (find_arch(self, other->arches[i]) >= 0) {
            filter_leave(other);
            filter_leave(self);
            return scx_raise(st->ArchitectureError, EEXIST,
                             "cannot merge: both filters contain "
                             "architecture %s; remove it from one of them",
                             scx_arch_name(other->arches[i]));
        }
    }
    if (self->narches + other->narches > SCX_MAX_ARCHES) {
        filter_leave(other);
        filter_leave(self);
        return scx_raise(st->ArchitectureError, E2BIG,
                         "the merged filter would hold more than %d "
                         "architectures", SCX_MAX_ARCHES);
    }

    rc = seccomp_merge(self->ctx, other->ctx);
    if (rc == 0) {
        /* libseccomp has released the source context. */
        memcpy(&self->arches[self->narches], other->arches,
               other->narches * sizeof(other->arches[0]));
        self->narches += other->narches;
        self->nrules += other->nrules;
        self->broken |= other->broken;
        other->ctx = NULL;
    }
    filter_leave(other);
    filter_leave(self);

    if (rc == -EINVAL)
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "cannot merge filters whose attributes differ "
                         "(default action, bad-architecture action or "
                         "flags); make them equal first");
    if (rc < 0)
        return scx_raise_libseccomp(st, rc, "seccomp_merge()");
    Py_RETURN_NONE;
}

static int
check_usable(scx_filter *self, const char *what)
{
    if (self->broken) {
        scx_raise(filter_state(self)->FilterStateError, EINVAL,
                  "cannot %s: an earlier add_rules() call failed part way, "
                  "so the filter holds only some of its rules; reset() it "
                  "and add the rules again", what);
        return -1;
    }
    return 0;
}

static PyObject *
filter_load(scx_filter *self, PyObject *unused)
{
    scx_state *st = filter_state(self);
    int rc, saved_errno;

    if (filter_enter(self) < 0)
        return NULL;
    if (check_usable(self, "load") < 0) {
        filter_leave(self);
        return NULL;
    }
    if (self->loaded) {
        filter_leave(self);
        return scx_raise(st->FilterStateError, EBUSY,
                         "the filter is already loaded in this process; "
                         "loading it again would stack a second copy");
    }
    errno = 0;
    rc = seccomp_load(self->ctx);
    saved_errno = errno;
    if (rc == 0)
        self->loaded = 1;
    filter_leave(self);

    if (rc == 0)
        Py_RETURN_NONE;
    /* Without the raw-return-code attribute libseccomp folds kernel
     * failures into -ECANCELED; errno still holds the kernel's code. */
    if (rc == -ECANCELED && saved_errno != 0)
        rc = -saved_errno;
    return Py_BuildValue("i", -rc);
}

/* Export into a memory file and read it back. */
static PyObject *
export_to_memory(scx_filter *self, int pfc)
{
    scx_state *st = filter_state(self);
    PyObject *result = NULL;
    struct stat info;
    char *buffer = NULL;
    ssize_t got;
    off_t done = 0;
    int fd, rc;

    fd = memfd_create("seccompx-export", MFD_CLOEXEC);
    if (fd < 0)
        return PyErr_SetFromErrno(PyExc_OSError);

    rc = pfc ? seccomp_export_pfc(self->ctx, fd)
             : seccomp_export_bpf(self->ctx, fd);
    if (rc < 0) {
        scx_raise_libseccomp(st, rc, pfc ? "seccomp_export_pfc()"
                                         : "seccomp_export_bpf()");
        goto done;
    }
    if (fstat(fd, &info) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    buffer = PyMem_Malloc(info.st_size ? (size_t)info.st_size : 1);
    if (buffer == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    while (done < info.st_size) {
        got = read(fd, buffer + done, (size_t)(info.st_size - done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            goto done;
        }
        done += got;
    }
    if (pfc)
        result = PyUnicode_DecodeUTF8(buffer, done, "replace");
    else
        result = PyBytes_FromStringAndSize(buffer, done);

done:
    PyMem_Free(buffer);
    close(fd);
    return result;
}

static PyObject *
filter_export(scx_filter *self, int pfc)
{
    PyObject *result;

    if (filter_enter(self) < 0)
        return NULL;
    if (check_usable(self, "export") < 0) {
        filter_leave(self);
        return NULL;
    }
    result = export_to_memory(self, pfc);
    if (result != NULL)
        self->exported = 1;
    filter_leave(self);
    return result;
}

static PyObject *
filter_export_pfc(scx_filter *self, PyObject *unused)
{
    return filter_export(self, 1);
}

static PyObject *
filter_export_bpf(scx_filter *self, PyObject *unused)
{
    return filter_export(self, 0);
}

static PyObject *
filter_export_fd(scx_filter *self, PyObject *args)
{
    scx_state *st = filter_state(self);
    int fd, pfc, rc;

    if (!PyArg_ParseTuple(args, "ip:export_fd", &fd, &pfc))
        return NULL;
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return scx_raise(st->FilterStateError, EBADF,
                         "cannot export to file descriptor %d: it is not "
                         "open", fd);
    if (filter_enter(self) < 0)
        return NULL;
    if (check_usable(self, "export") < 0) {
        filter_leave(self);
        return NULL;
    }
    rc = pfc ? seccomp_export_pfc(self->ctx, fd)
             : seccomp_export_bpf(self->ctx, fd);
    if (rc == 0)
        self->exported = 1;
    filter_leave(self);

    if (rc < 0)
        return scx_raise(st->SeccompError, rc == -ECANCELED ? EIO : -rc,
                         "writing the filter to file descriptor %d failed "
                         "(%s)", fd, strerror(rc == -ECANCELED ? EIO : -rc));
    Py_RETURN_NONE;
}

static PyObject *
filter_notify_fd(scx_filter *self, PyObject *unused)
{
    scx_state *st = filter_state(self);
    int fd;

    if (filter_enter(self) < 0)
        return NULL;
    fd = seccomp_notify_fd(self->ctx);
    filter_leave(self);

    if (fd < 0)
        return scx_raise(st->SeccompError, fd == -EFAULT ? ENOENT : -fd,
                         "the filter has no notification descriptor; load "
                         "a filter with a NOTIFY rule first");
    return PyLong_FromLong(fd);
}

/* Getters ---------------------------------------------------------------- */

static PyObject *
filter_get_closed(scx_filter *self, void *closure)
{
    return PyBool_FromLong(self->ctx == NULL);
}

static PyObject *
filter_get_loaded(scx_filter *self, void *closure)
{
    return PyBool_FromLong(self->loaded);
}

static PyObject *
filter_get_exported(scx_filter *self, void *closure)
{
    return PyBool_FromLong(self->exported);
}

static PyObject *
filter_get_rule_count(scx_filter *self, void *closure)
{
    return PyLong_FromSsize_t(self->nrules);
}

static PyMethodDef filter_methods[] = {
    {"close", (PyCFunction)filter_close, METH_NOARGS,
     "Release the libseccomp context.  Safe to call more than once."},
    {"_reset", (PyCFunction)filter_reset, METH_O, NULL},
    {"_add_rule", (PyCFunction)(void (*)(void))filter_add_rule,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_add_rules", (PyCFunction)(void (*)(void))filter_add_rules,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_add_arch", (PyCFunction)filter_add_arch, METH_O, NULL},
    {"_remove_arch", (PyCFunction)filter_remove_arch, METH_O, NULL},
    {"_has_arch", (PyCFunction)filter_has_arch, METH_O, NULL},
    {"_get_attr", (PyCFunction)filter_get_attr, METH_O, NULL},
    {"_set_attr", (PyCFunction)filter_set_attr, METH_VARARGS, NULL},
    {"_syscall_priority", (PyCFunction)filter_syscall_priority,
     METH_VARARGS, NULL},
    {"_merge", (PyCFunction)filter_merge, METH_O, NULL},
    {"_load", (PyCFunction)filter_load, METH_NOARGS,
     "Load the filter; return None or the positive errno of the failure."},
    {"_export_pfc", (PyCFunction)filter_export_pfc, METH_NOARGS, NULL},
    {"_export_bpf", (PyCFunction)filter_export_bpf, METH_NOARGS, NULL},
    {"_export_fd", (PyCFunction)filter_export_fd, METH_VARARGS, NULL},
    {"_notify_fd", (PyCFunction)filter_notify_fd, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef filter_getset[] = {
    {"closed", (getter)filter_get_closed, NULL,
     "True once the libseccomp context is released.", NULL},
    {"loaded", (getter)filter_get_loaded, NULL,
     "True once the filter is loaded into this process.", NULL},
    {"exported", (getter)filter_get_exported, NULL,
     "True once the filter was exported or compiled.", NULL},
    {"rule_count", (getter)filter_get_rule_count, NULL,
     "Rules added since the filter was created or reset.", NULL},
    {"_arch_tokens", (getter)filter_get_arches, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef filter_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(scx_filter, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot filter_slots[] = {
    {Py_tp_new, filter_new},
    {Py_tp_init, filter_init},
    {Py_tp_dealloc, filter_dealloc},
    {Py_tp_traverse, filter_traverse},
    {Py_tp_methods, filter_methods},
    {Py_tp_getset, filter_getset},
    {Py_tp_members, filter_members},
    {Py_tp_doc, "Context(default)\n\nA libseccomp filter context.  Use "
                "seccompx.Filter, which builds on this type."},
    {0, NULL},
};

PyType_Spec scx_filter_spec = {
    .name = "seccompx._core.Context",
    .basicsize = sizeof(scx_filter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = filter_slots,
};
