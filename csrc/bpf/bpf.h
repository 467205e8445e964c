/*
 * Shared declarations of the seccompx._bpf extension module.
 *
 * _bpf works on raw seccomp programs without libseccomp: it checks them
 * with the kernel's rules, runs them on a struct seccomp_data, installs
 * them with seccomp(2) and reads the filters of other processes with
 * ptrace(2).  All state lives in the per-module struct (PEP 489).
 */
#ifndef SECCOMPX_BPF_H
#define SECCOMPX_BPF_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The kernel's limit on the instructions of one program (BPF_MAXINSNS). */
#define SCX_BPF_MAX_INSNS 4096
/* The number of scratch memory words, M[0] to M[15] (BPF_MEMWORDS). */
#define SCX_BPF_MEMWORDS 16

typedef struct {
    /* Exception classes from seccompx._errors. */
    PyObject *ProgramError;
    PyObject *InvalidArgumentError;
    PyObject *SeccompError;
    PyTypeObject *program_type;     /* ProgramBase */
} scx_bpf_state;

/* The C part of seccompx.Program: its bytes. */
typedef struct {
    PyObject_HEAD
    PyObject *data;                 /* bytes, set by Program.__init__ */
    int valid;                      /* whether data passes the kernel's
                                     * checks (scx_bpf_check) */
} scx_bpf_program;

/* Why a program fails the kernel's checks. */
typedef struct {
    Py_ssize_t index;       /* the instruction at fault, or -1 */
    char message[200];
} scx_bpf_error;

scx_bpf_state *scx_bpf_get_state(PyObject *module);

/* Read instruction i of a program stored in a bytes object. */
static inline struct sock_filter
scx_bpf_insn(const char *program, size_t i)
{
    struct sock_filter insn;

    /* memcpy: the bytes need not be aligned for struct sock_filter. */
    memcpy(&insn, program + i * sizeof(insn), sizeof(insn));
    return insn;
}

/* check.c */
int scx_bpf_check(const char *program, size_t count, scx_bpf_error *error);
int scx_bpf_program_arg(scx_bpf_state *st, PyObject *obj,
                        const char **program, size_t *count);
PyObject *scx_bpf_raise_check(scx_bpf_state *st, const scx_bpf_error *error);
PyObject *scx_bpf_check_py(PyObject *module, PyObject *arg);

/* run.c */
uint32_t scx_bpf_run(const char *program, const struct seccomp_data *data,
                     size_t *return_index);
PyObject *scx_bpf_run_py(PyObject *module, PyObject *const *args,
                         Py_ssize_t nargs);

/* load.c */
PyObject *scx_bpf_load_py(PyObject *module, PyObject *const *args,
                          Py_ssize_t nargs);
PyObject *scx_bpf_install(PyObject *program, unsigned long flags,
                          int no_new_privs, int valid);
extern PyType_Spec scx_bpf_program_spec;

/* dump.c */
PyObject *scx_bpf_get_filters_py(PyObject *module, PyObject *arg);

#endif
