/*
 * Architectures, syscall names and actions: parsing and resolution shared
 * by the module functions and the filter type.  Nothing here takes a
 * filter's lock, and the parsers may run Python code (reprs in messages,
 * the suggestion factory), so callers parse before they lock.
 */
#include "core.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#ifdef SECCOMPX_HEAP
#include "heap/heap.h"
#endif

/* Maximum length of a syscall name; the longest that libseccomp 2.5.4
 * knows, sched_rr_get_interval_time64, has 28 characters. */
#define SCX_MAX_SYSCALL_NAME 64

/* The action kinds of SECCOMP_RET_ACTION_FULL that libseccomp accepts. */
static int
known_action_kind(uint32_t kind)
{
    switch (kind) {
    case SCMP_ACT_KILL_PROCESS:
    case SCMP_ACT_KILL_THREAD:
    case SCMP_ACT_TRAP:
    case SCX_KIND_ERRNO:
    case SCMP_ACT_NOTIFY:
    case SCX_KIND_TRACE:
    case SCMP_ACT_LOG:
    case SCMP_ACT_ALLOW:
        return 1;
    default:
        return 0;
    }
}

/* Check that obj is an int and not a bool; raise TypeError otherwise. */
static int
check_int(PyObject *obj, const char *what)
{
    if (PyLong_Check(obj) && !PyBool_Check(obj))
        return 0;
    PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
                 Py_TYPE(obj)->tp_name);
    return -1;
}

/*
 * Parse an int in low..high.  Wrong types raise TypeError; values out of
 * range raise InvalidArgumentError naming the value and the range.
 */
int
scx_parse_bounded(scx_state *st, PyObject *obj, const char *what, long low,
                  long high, long *out)
{
    long value;
    int overflow;

    if (check_int(obj, what) < 0)
        return -1;
    value = PyLong_AsLongAndOverflow(obj, &overflow);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (overflow != 0 || value < low || value > high) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "%s %R is out of range: it must be between %ld and %ld",
                  what, obj, low, high);
        return -1;
    }
    *out = value;
    return 0;
}

static int
check_action_data(scx_state *st, uint32_t value)
{
    uint32_t kind = value & SCX_KIND_MASK;
    uint32_t data = value & 0xffffU;

    if (!known_action_kind(kind)) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "action 0x%08x has an unknown action kind; use ALLOW, "
                  "KILL_PROCESS, KILL_THREAD, TRAP, LOG, NOTIFY, ERRNO(n) "
                  "or TRACE(n)", (unsigned int)value);
        return -1;
    }
    if (kind == SCX_KIND_ERRNO && data > SCX_MAX_ERRNO) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "ERRNO(%u) is out of range: the errno must be between 0 "
                  "and %d", (unsigned int)data, SCX_MAX_ERRNO);
        return -1;
    }
    if (kind != SCX_KIND_ERRNO && kind != SCX_KIND_TRACE && data != 0) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "action 0x%08x carries data, but only ERRNO and TRACE "
                  "take a value", (unsigned int)value);
        return -1;
    }
    return 0;
}

/*
 * PyLong_AsUnsignedLongLong(), through PyLong_AsUnsignedLong() where
 * unsigned long is as wide.  CPython 3.11's PyLong_AsUnsignedLongLong()
 * converts every int of more than one 30-bit digit, such as most action
 * values, through _PyLong_AsByteArray(): two pages of code for a forked
 * child to fault in where one suffices.
 */
unsigned long long
scx_long_as_u64(PyObject *obj)
{
#if ULONG_MAX == ULLONG_MAX
    return PyLong_AsUnsignedLong(obj);
#else
    return PyLong_AsUnsignedLongLong(obj);
#endif
}

int
scx_check_action(scx_state *st, PyObject *obj, uint32_t *action)
{
    unsigned long long value;

    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "action must be a seccompx.Action or int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    value = scx_long_as_u64(obj);
    if (value == (unsigned long long)-1 && PyErr_Occurred())
        PyErr_Clear();
    else if (value <= 0xffffffffULL) {
        if (check_action_data(st, (uint32_t)value) < 0)
            return -1;
        *action = (uint32_t)value;
        return 0;
    }
    scx_raise(st->InvalidArgumentError, EINVAL,
              "action %R is not a 32-bit seccomp action value (0 to "
              "0xffffffff)", obj);
    return -1;
}

int
scx_parse_arch(scx_state *st, PyObject *obj, uint32_t *token)
{
    unsigned long value;

    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "architecture must be a seccompx.Arch, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    value = PyLong_AsUnsignedLong(obj);
    if (value == (unsigned long)-1 && PyErr_Occurred())
        PyErr_Clear();
    else if (value == SCMP_ARCH_NATIVE) {
        *token = seccomp_arch_native();
        return 0;
    }
    else if (value <= 0xffffffffUL
             && strcmp(scx_arch_name((uint32_t)value), "unknown") != 0) {
        *token = (uint32_t)value;
        return 0;
    }
    if (PyErr_Occurred() == NULL && value <= 0xffffffffUL) {
        scx_raise(st->ArchitectureError, EINVAL,
                  "architecture token 0x%x is unknown to the libseccomp "
                  "headers seccompx was built with (%d.%d.%d); use a member "
                  "of seccompx.Arch that this build supports",
                  (unsigned int)value, SCMP_VER_MAJOR, SCMP_VER_MINOR,
                  SCMP_VER_MICRO);
        return -1;
    }
    scx_raise(st->ArchitectureError, EINVAL,
              "unknown architecture token %R; use a member of seccompx.Arch",
              obj);
    return -1;
}

/* Raise UnknownSyscallError through the Python factory, which adds close
 * names as suggestions. */
static void
raise_unknown_syscall(scx_state *st, PyObject *name, uint32_t arch)
{
    PyObject *error;

    error = PyObject_CallFunction(st->unknown_syscall, "Os", name,
                                  scx_arch_name(arch));
    if (error == NULL)
        return;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
}

static int
resolve_number(scx_state *st, PyObject *obj, int *number)
{
    long value;
    int overflow;

    value = PyLong_AsLongAndOverflow(obj, &overflow);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (overflow == 0 && value >= 0 && value <= INT32_MAX) {
        *number = (int)value;
        return 0;
    }
    scx_raise(st->InvalidArgumentError, EINVAL,
              "syscall number %R is out of range: it must be between 0 "
              "and 2147483647", obj);
    return -1;
}

/* Return the UTF-8 of a syscall name, or raise naming what is wrong. */
static const char *
checked_name(scx_state *st, PyObject *obj, uint32_t arch)
{
    const char *name;
    Py_ssize_t size;

#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(obj) < 0)
        return NULL;
#endif
    if (!PyUnicode_IS_ASCII(obj)) {
        scx_raise_unknown_syscall(st, obj, arch,
                                  "syscall name %R contains non-ASCII "
                                  "characters; syscall names are ASCII",
                                  obj);
        return NULL;
    }
    name = PyUnicode_AsUTF8AndSize(obj, &size);
    if (name == NULL)
        return NULL;
    if (size == 0) {
        scx_raise_unknown_syscall(st, obj, arch, "syscall name is empty; "
                                  "give a name such as 'read'");
        return NULL;
    }
    if ((size_t)size != strlen(name)) {
        scx_raise_unknown_syscall(st, obj, arch,
                                  "syscall name %R contains a NUL "
                                  "character", obj);
        return NULL;
    }
    if (size > SCX_MAX_SYSCALL_NAME) {
        scx_raise_unknown_syscall(st, obj, arch,
                                  "syscall name of %zd characters is too "
                                  "long to be a syscall (at most %d)", size,
                                  SCX_MAX_SYSCALL_NAME);
        return NULL;
    }
    return name;
}

/*
 * Resolve a syscall given as a name or a number to the number libseccomp
 * expects in a rule.  For arch 0 (native) a name known only on other
 * architectures resolves to libseccomp's negative pseudo number; libseccomp
 * translates it for each architecture of the filter.
 */
int
scx_resolve_syscall(scx_state *st, PyObject *obj, uint32_t arch, int *number)
{
    uint32_t shown = arch ? arch : seccomp_arch_native();
    const char *name;
    int nr;

    if (PyLong_Check(obj) && !PyBool_Check(obj))
        return resolve_number(st, obj, number);
    if (PyBytes_Check(obj) || PyByteArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "syscall must be a name (str) or number (int), not "
                     "%.100s; decode it first, for example b'read'.decode()",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "syscall must be a name (str) or number (int), "
                     "not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    name = checked_name(st, obj, shown);
    if (name == NULL)
        return -1;

    if (arch == SCMP_ARCH_NATIVE)
        nr = seccomp_syscall_resolve_name(name);
    else
        nr = seccomp_syscall_resolve_name_arch(arch, name);
    if (nr == __NR_SCMP_ERROR) {
        raise_unknown_syscall(st, obj, shown);
        return -1;
    }
    *number = nr;
    return 0;
}

/* Module functions. */

static int
parse_optional_arch(scx_state *st, PyObject *arch_obj, uint32_t *arch)
{
    *arch = SCMP_ARCH_NATIVE;
    if (arch_obj == NULL)
        return 0;
    return scx_parse_arch(st, arch_obj, arch);
}

static PyObject *
resolve_name(PyObject *module, PyObject *args)
{
    scx_state *st = scx_get_state(module);
    PyObject *name, *arch_obj = NULL;
    uint32_t arch;
    int nr;

    if (!PyArg_ParseTuple(args, "O|O:resolve_name", &name, &arch_obj))
        return NULL;
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "syscall name must be str, not %.100s",
                     Py_TYPE(name)->tp_name);
        return NULL;
    }
    if (parse_optional_arch(st, arch_obj, &arch) < 0)
        return NULL;
    if (scx_resolve_syscall(st, name, arch, &nr) < 0)
        return NULL;
    return PyLong_FromLong(nr);
}

static PyObject *
resolve_number_function(PyObject *module, PyObject *args)
{
    scx_state *st = scx_get_state(module);
    PyObject *number_obj, *arch_obj = NULL, *result;
    uint32_t arch;
    char *name;
    long nr;

    if (!PyArg_ParseTuple(args, "O|O:resolve_number", &number_obj,
                          &arch_obj))
        return NULL;
    /* Negative numbers are libseccomp's pseudo numbers. */
    if (scx_parse_bounded(st, number_obj, "syscall number", INT32_MIN,
                          INT32_MAX, &nr) < 0)
        return NULL;
    if (parse_optional_arch(st, arch_obj, &arch) < 0)
        return NULL;

    name = seccomp_syscall_resolve_num_arch(arch, (int)nr);
    if (name == NULL)
        Py_RETURN_NONE;
    result = PyUnicode_FromString(name);
    free(name);
    return result;
}

static PyObject *
arch_native(PyObject *module, PyObject *unused)
{
    return PyLong_FromUnsignedLong(seccomp_arch_native());
}

static PyObject *
arch_resolve_name(PyObject *module, PyObject *arg)
{
    const char *name;
    Py_ssize_t size;

    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError,
                     "architecture name must be str, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    name = PyUnicode_AsUTF8AndSize(arg, &size);
    if (name == NULL)
        return NULL;
    if ((size_t)size != strlen(name))
        return PyLong_FromLong(0);
    return PyLong_FromUnsignedLong(seccomp_arch_resolve_name(name));
}

static PyObject *
runtime_version(PyObject *module, PyObject *unused)
{
    const struct scmp_version *v = seccomp_version();

    if (v == NULL)
        return scx_raise(scx_get_state(module)->SeccompError, EFAULT,
                         "seccomp_version() returned no version");
    return Py_BuildValue("(III)", v->major, v->minor, v->micro);
}

static PyObject *
api_get(PyObject *module, PyObject *unused)
{
    return PyLong_FromUnsignedLong(seccomp_api_get());
}

static PyObject *
api_set(PyObject *module, PyObject *arg)
{
    scx_state *st = scx_get_state(module);
    long level;
    int rc;

    if (scx_parse_bounded(st, arg, "API level", 1, 255, &level) < 0)
        return NULL;
    rc = seccomp_api_set((unsigned int)level);
    if (rc < 0)
        return scx_raise(st->InvalidArgumentError, -rc,
                         "libseccomp rejected API level %ld (%s); it "
                         "accepts the levels its version defines, 1 to 6 "
                         "in libseccomp 2.5", level, strerror(-rc));
    Py_RETURN_NONE;
}

static PyObject *
transactions_available(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(scx_transactions_available());
}

/* The counters of the allocator that a static build gives libseccomp, or
 * None in a build that uses the C library's. */
static PyObject *
heap_stats(PyObject *module, PyObject *unused)
{
#ifdef SECCOMPX_HEAP
    scx_heap_stats stats;

    scx_heap_get_stats(&stats);
    return Py_BuildValue("{s:n,s:n,s:n,s:n}",
                         "blocks", (Py_ssize_t)stats.blocks,
                         "bytes", (Py_ssize_t)stats.bytes,
                         "regions", (Py_ssize_t)stats.regions,
                         "fallbacks", (Py_ssize_t)stats.fallbacks);
#else
    Py_RETURN_NONE;
#endif
}

PyMethodDef scx_resolve_methods[] = {
    {"resolve_name", resolve_name, METH_VARARGS,
     "resolve_name(name, arch=0) -> int\n\nResolve a syscall name; 0 means "
     "the native architecture, where a name known only elsewhere gives a "
     "negative pseudo number."},
    {"resolve_number", resolve_number_function, METH_VARARGS,
     "resolve_number(number, arch=0) -> str | None"},
    {"arch_native", arch_native, METH_NOARGS,
     "arch_native() -> int\n\nThe native architecture token."},
    {"arch_resolve_name", arch_resolve_name, METH_O,
     "arch_resolve_name(name) -> int\n\nThe token for a libseccomp "
     "architecture name, or 0."},
    {"runtime_version", runtime_version, METH_NOARGS,
     "runtime_version() -> (major, minor, micro) of the running libseccomp"},
    {"api_get", api_get, METH_NOARGS, "api_get() -> int"},
    {"api_set", api_set, METH_O, "api_set(level)"},
    {"transactions_available", transactions_available, METH_NOARGS,
     "transactions_available() -> bool\n\nWhether the running libseccomp "
     "has seccomp_transaction_start() (2.6 and newer), which makes "
     "add_rules() all or nothing."},
    {"_heap_stats", heap_stats, METH_NOARGS,
     "_heap_stats() -> dict | None\n\nThe counters of the allocator that a "
     "static build gives libseccomp (blocks, bytes, regions, fallbacks), "
     "or None when libseccomp uses the C library's malloc."},
    {"_set_defaults", scx_set_defaults, METH_VARARGS,
     "_set_defaults(action_type, available, kinds, level, bad_arch, tsync, "
     "epoch)\n\nRecord the secure defaults of Filter(default) for its fast "
     "path, unless _forget_defaults() ran since _defaults_epoch() returned "
     "epoch."},
    {"_comparisons_intersect", scx_comparisons_intersect_py, METH_VARARGS,
     "_comparisons_intersect(first, second) -> int | None\n\nA value that "
     "both (arg, op, datum_a, datum_b) comparisons match, or None."},
    {"_enable_vectorcall", scx_enable_vectorcall, METH_O,
     "_enable_vectorcall(cls)\n\nLet calls of cls, a subclass of FilterBase, "
     "skip type.__call__."},
    {"_forget_defaults", scx_forget_defaults, METH_NOARGS,
     "_forget_defaults()\n\nDrop the recorded defaults, because "
     "actions_available() may return a new list."},
    {"_defaults_epoch", scx_get_defaults_epoch, METH_NOARGS,
     "_defaults_epoch() -> int\n\nThe count of _forget_defaults() calls."},
    {NULL, NULL, 0, NULL},
};
