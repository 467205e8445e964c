/*
 * Architectures, syscall names and actions: parsing and resolution shared
 * by the module functions and the filter type.
 */
#include "core.h"

#include <errno.h>
#include <string.h>

/* The action kinds of SECCOMP_RET_ACTION_FULL that libseccomp accepts. */
static int
known_action_kind(uint32_t kind)
{
    switch (kind) {
    case SCMP_ACT_KILL_PROCESS:
    case SCMP_ACT_KILL_THREAD:
    case SCMP_ACT_TRAP:
    case 0x00050000U:           /* SCMP_ACT_ERRNO(0) */
    case SCMP_ACT_NOTIFY:
    case 0x7ff00000U:           /* SCMP_ACT_TRACE(0) */
    case SCMP_ACT_LOG:
    case SCMP_ACT_ALLOW:
        return 1;
    default:
        return 0;
    }
}

int
scx_check_action(scx_state *st, PyObject *obj, uint32_t *action)
{
    unsigned long long value;
    uint32_t kind, data;

    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "action must be a seccompx.Action or int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    value = PyLong_AsUnsignedLongLong(obj);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "action %R is not a 32-bit seccomp action value", obj);
        return -1;
    }
    if (value > 0xffffffffULL) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "action %R is not a 32-bit seccomp action value", obj);
        return -1;
    }
    kind = (uint32_t)value & 0xffff0000U;
    data = (uint32_t)value & 0x0000ffffU;
    if (!known_action_kind(kind)) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "action 0x%08x has an unknown action kind; use ALLOW, "
                  "KILL_PROCESS, KILL_THREAD, TRAP, LOG, NOTIFY, ERRNO(n) "
                  "or TRACE(n)", (unsigned int)value);
        return -1;
    }
    if (kind == 0x00050000U && data > 4094) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "ERRNO(%u) is out of range: the errno must be between 0 "
                  "and 4094", (unsigned int)data);
        return -1;
    }
    if (kind != 0x00050000U && kind != 0x7ff00000U && data != 0) {
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "action 0x%08x carries data, but only ERRNO and TRACE "
                  "take a value", (unsigned int)value);
        return -1;
    }
    *action = (uint32_t)value;
    return 0;
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
    scx_raise(st->ArchitectureError, EINVAL,
              "unknown architecture token %R; use a member of seccompx.Arch",
              obj);
    return -1;
}

/* Raise UnknownSyscallError through the Python factory, which adds close
 * names as suggestions. */
static void
raise_unknown_syscall(PyObject *name, uint32_t arch)
{
    PyObject *errors, *error;

    errors = PyImport_ImportModule("seccompx._errors");
    if (errors == NULL)
        return;
    error = PyObject_CallMethod(errors, "unknown_syscall", "Os", name,
                                scx_arch_name(arch));
    Py_DECREF(errors);
    if (error == NULL)
        return;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
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
    const char *name;
    Py_ssize_t size;
    long value;
    int nr;

    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        value = PyLong_AsLong(obj);
        if (value == -1 && PyErr_Occurred())
            PyErr_Clear();
        else if (value >= 0 && value <= INT32_MAX) {
            *number = (int)value;
            return 0;
        }
        scx_raise(st->InvalidArgumentError, EINVAL,
                  "syscall number %R is out of range: it must be between 0 "
                  "and 2147483647", obj);
        return -1;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "syscall must be a name (str) or number (int), "
                     "not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    name = PyUnicode_AsUTF8AndSize(obj, &size);
    if (name == NULL)
        return -1;
    if ((size_t)size != strlen(name) || size == 0) {
        raise_unknown_syscall(obj, arch ? arch : seccomp_arch_native());
        return -1;
    }

    if (arch == SCMP_ARCH_NATIVE)
        nr = seccomp_syscall_resolve_name(name);
    else
        nr = seccomp_syscall_resolve_name_arch(arch, name);
    if (nr == __NR_SCMP_ERROR) {
        raise_unknown_syscall(obj, arch ? arch : seccomp_arch_native());
        return -1;
    }
    *number = nr;
    return 0;
}

/* Module functions. */

static PyObject *
resolve_name(PyObject *module, PyObject *args)
{
    scx_state *st = scx_get_state(module);
    PyObject *name, *arch_obj = NULL;
    uint32_t arch = SCMP_ARCH_NATIVE;
    int nr;

    if (!PyArg_ParseTuple(args, "U|O:resolve_name", &name, &arch_obj))
        return NULL;
    if (arch_obj != NULL && scx_parse_arch(st, arch_obj, &arch) < 0)
        return NULL;
    if (scx_resolve_syscall(st, name, arch, &nr) < 0)
        return NULL;
    return PyLong_FromLong(nr);
}

static PyObject *
resolve_number(PyObject *module, PyObject *args)
{
    scx_state *st = scx_get_state(module);
    PyObject *arch_obj = NULL, *result;
    uint32_t arch = SCMP_ARCH_NATIVE;
    char *name;
    int nr;

    if (!PyArg_ParseTuple(args, "i|O:resolve_number", &nr, &arch_obj))
        return NULL;
    if (arch_obj != NULL && scx_parse_arch(st, arch_obj, &arch) < 0)
        return NULL;

    name = seccomp_syscall_resolve_num_arch(arch, nr);
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
    unsigned long level;
    int rc;

    level = PyLong_AsUnsignedLong(arg);
    if (level == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (level < 1 || level > 100)
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "API level %R is out of range; libseccomp's levels "
                         "start at 1", arg);
    rc = seccomp_api_set((unsigned int)level);
    if (rc < 0)
        return scx_raise(st->InvalidArgumentError, -rc,
                         "libseccomp rejected API level %lu; the running "
                         "library supports up to %u", level, seccomp_api_get());
    Py_RETURN_NONE;
}

PyMethodDef scx_resolve_methods[] = {
    {"resolve_name", resolve_name, METH_VARARGS,
     "resolve_name(name, arch=0) -> int\n\nResolve a syscall name; 0 means "
     "the native architecture, where a name known only elsewhere gives a "
     "negative pseudo number."},
    {"resolve_number", resolve_number, METH_VARARGS,
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
    {NULL, NULL, 0, NULL},
};
