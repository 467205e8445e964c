/*
 * Shared declarations of the seccompx._core extension module.
 *
 * The module keeps all of its state in a per-module struct (PEP 489
 * multi-phase init, PEP 573 heap types); there are no mutable globals.
 */
#ifndef SECCOMPX_CORE_H
#define SECCOMPX_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <seccomp.h>
#include <stdint.h>

/* Largest number of architectures one filter may hold.  libseccomp knows
 * fewer than 30, so this never limits a real filter. */
#define SCX_MAX_ARCHES 32

typedef struct {
    PyTypeObject *filter_type;
    /* Exception classes from seccompx._errors. */
    PyObject *SeccompError;
    PyObject *InvalidArgumentError;
    PyObject *UnknownSyscallError;
    PyObject *ArchitectureError;
    PyObject *UnsupportedError;
    PyObject *FilterStateError;
    PyObject *LoadError;
    PyObject *UnmatchableRuleWarning;
} scx_state;

typedef struct {
    PyObject_HEAD
    scmp_filter_ctx ctx;        /* NULL once closed or merged away */
    PyThread_type_lock lock;    /* serialises every use of ctx */
    uint32_t arches[SCX_MAX_ARCHES];
    int narches;
    Py_ssize_t nrules;          /* rules added since creation or reset */
    int loaded;                 /* seccomp_load succeeded */
    int exported;               /* exported or compiled at least once */
    int broken;                 /* a batch of rules failed part way */
    PyObject *weakreflist;
} scx_filter;

scx_state *scx_get_state(PyObject *module);
scx_state *scx_state_from_type(PyTypeObject *type);

/* errors.c */
PyObject *scx_raise(PyObject *cls, int err, const char *format, ...);
PyObject *scx_raise_libseccomp(scx_state *st, int rc, const char *what);
const char *scx_arch_name(uint32_t token);

/* filter.c */
extern PyType_Spec scx_filter_spec;

/* resolve.c */
int scx_parse_arch(scx_state *st, PyObject *obj, uint32_t *token);
int scx_resolve_syscall(scx_state *st, PyObject *obj, uint32_t arch,
                        int *number);
int scx_check_action(scx_state *st, PyObject *obj, uint32_t *action);
extern PyMethodDef scx_resolve_methods[];

#endif
