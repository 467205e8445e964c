/*
 * Installing a program: prctl(PR_SET_NO_NEW_PRIVS) and seccomp(2).
 *
 * This is the fast path of seccompx.Program.load().  Between parsing the
 * arguments and building the result it makes only the two system calls:
 * no allocation, no Python API, no libseccomp.  Failures are turned into
 * LoadError by seccompx.program._load_error(), which has the messages.
 */
#include "bpf.h"

#include <errno.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

/* Stages, as in the module's STAGE_* constants. */
enum { STAGE_NO_NEW_PRIVS = 1, STAGE_SECCOMP = 2, STAGE_TSYNC = 3 };

/* Call seccompx.program._load_error(stage, errno, thread, program, flags)
 * and raise what it returns.  Returns NULL. */
static PyObject *
raise_load_error(int stage, int err, long thread, PyObject *program,
                 unsigned long flags)
{
    PyObject *factory_module, *exc;

    factory_module = PyImport_ImportModule("seccompx.program");
    if (factory_module == NULL)
        return NULL;
    exc = PyObject_CallMethod(factory_module, "_load_error", "iilOk", stage,
                              err, thread, program, flags);
    Py_DECREF(factory_module);
    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

static int
flags_arg(PyObject *obj, unsigned long *flags)
{
    unsigned long value = PyLong_AsUnsignedLong(obj);

    if (value == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    *flags = value;
    return 0;
}

PyObject *
scx_bpf_load_py(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    scx_bpf_state *st = scx_bpf_get_state(module);
    const char *program;
    unsigned long flags;
    size_t count;
    int no_new_privs;

    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError,
                     "load() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    if (scx_bpf_program_arg(st, args[0], &program, &count) < 0
        || flags_arg(args[1], &flags) < 0)
        return NULL;
    /* Only a bool, as Program.load() checks: truth testing would take
     * None or "" as false and load without no_new_privs. */
    if (args[2] != Py_True && args[2] != Py_False) {
        PyErr_Format(PyExc_TypeError,
                     "no_new_privs must be True or False, not %R", args[2]);
        return NULL;
    }
    no_new_privs = args[2] == Py_True;
    /* The kernel alone checks the program here, so that tests can compare
     * its verdicts with scx_bpf_check()'s. */
    return scx_bpf_install(args[0], flags, no_new_privs, 1);
}

/*
 * Install a program held in a bytes object whose length is a multiple of
 * 8: set PR_SET_NO_NEW_PRIVS if asked, then call seccomp(2).  A program
 * that is not valid (scx_bpf_check() failed) is rejected before either
 * call, because no_new_privs cannot be unset once set.  Returns
 * seccomp(2)'s result as an int, or NULL with LoadError set.
 */
PyObject *
scx_bpf_install(PyObject *program, unsigned long flags, int no_new_privs,
                int valid)
{
    struct sock_fprog fprog;
    size_t count = (size_t)PyBytes_GET_SIZE(program) / sizeof(struct sock_filter);
    long rc;
    int err;

    /* sock_fprog.len is an unsigned short: a longer program would reach
     * the kernel truncated, so reject it here. */
    if (!valid || count > USHRT_MAX)
        return raise_load_error(STAGE_SECCOMP, EINVAL, 0, program, flags);
    fprog.len = (unsigned short)count;
    fprog.filter = (struct sock_filter *)PyBytes_AS_STRING(program);

    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        err = errno;
        return raise_load_error(STAGE_NO_NEW_PRIVS, err, 0, program, flags);
    }
    rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
    err = errno;

    if (rc < 0)
        return raise_load_error(STAGE_SECCOMP, err, 0, program, flags);
    /* With TSYNC alone, a positive result is the id of a thread that could
     * not be synchronised, and nothing was installed. */
    if (rc > 0 && (flags & SECCOMP_FILTER_FLAG_TSYNC)
        && !(flags & (SECCOMP_FILTER_FLAG_TSYNC_ESRCH
                      | SECCOMP_FILTER_FLAG_NEW_LISTENER)))
        return raise_load_error(STAGE_TSYNC, ESRCH, rc, program, flags);
    return PyLong_FromLong(rc);
}
