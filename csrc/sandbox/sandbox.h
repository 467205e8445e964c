/*
 * Shared declarations of the seccompx._sandbox extension module.
 *
 * This module never links libseccomp.  Its code runs in children between
 * fork and exec, and inside a SIGSYS handler, so it uses raw system calls
 * and the kernel's headers only.
 */
#ifndef SECCOMPX_SANDBOX_H
#define SECCOMPX_SANDBOX_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>

typedef struct {
    PyTypeObject *reporter_type;
    /* Exception classes from seccompx._errors. */
    PyObject *ProgramError;
    PyObject *LoadError;
} sbx_state;

/* si_code of a SIGSYS sent by a seccomp filter; glibc 2.36 lacks it. */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

/* States of sbx_page.state, the handshake between signal handler and
 * parent. */
#define SBX_RECORD_EMPTY 0
#define SBX_RECORD_WRITING 1
#define SBX_RECORD_DONE 2

/* Exit status of a child whose SIGSYS handler ran. */
#define SBX_EXIT_VIOLATION 159

/*
 * What the SIGSYS handler stores about one trapped syscall.  The layout is
 * fixed: the parent reads it back with Reporter.record().
 */
struct sbx_record {
    int32_t nr;             /* si_syscall */
    uint32_t arch;          /* si_arch, an AUDIT_ARCH_* value */
    int32_t si_code;        /* SYS_SECCOMP (1) when the filter trapped */
    int32_t si_errno;       /* the SECCOMP_RET_DATA bits of the action */
    uint32_t stage;         /* sbx_page.stage when the signal arrived */
    uint32_t nargs;         /* 6, or 0 when this build cannot read them */
    uint64_t args[6];
    uint64_t ip;            /* si_call_addr: the address of the syscall */
};

/*
 * One shared anonymous page per sandboxed child.  It is mapped MAP_SHARED
 * before fork, so stores in the child are visible to the parent without
 * any syscall, even after the child is killed.
 */
struct sbx_page {
    uint32_t stage;         /* set by the child with Reporter.set_stage() */
    uint32_t state;         /* SBX_RECORD_* */
    uint32_t count;         /* SIGSYS signals the handler received */
    uint32_t reserved;
    struct sbx_record record;
};

sbx_state *sbx_get_state(PyObject *module);
sbx_state *sbx_state_from_type(PyTypeObject *type);

/* program.c: checking and evaluating classic BPF seccomp programs. */
int sbx_get_program(PyObject *module, Py_buffer *view,
                    struct sock_fprog *prog);
int sbx_evaluate(const struct sock_fprog *prog,
                 const struct seccomp_data *data, uint32_t *result,
                 size_t *bad_index);
extern PyMethodDef sbx_program_methods[];

/* report.c */
extern PyType_Spec sbx_reporter_spec;

/* spawn.c */
extern PyMethodDef sbx_spawn_methods[];
int sbx_add_spawn_constants(PyObject *module);

#endif
