/*
 * Reading the filters of another process with ptrace(2).
 *
 * PTRACE_SECCOMP_GET_FILTER needs a tracee in a ptrace-stop and a tracer
 * with CAP_SYS_ADMIN that is not itself under seccomp.  The tracee is
 * attached with PTRACE_SEIZE and stopped with PTRACE_INTERRUPT, which
 * (unlike PTRACE_ATTACH) sends it no SIGSTOP, and detached afterwards.
 * Every ptrace call runs on the calling thread, because the kernel ties
 * a tracee to the thread that attached it.
 */
#include "bpf.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

static PyObject *
raise_ptrace(int err, const char *request)
{
    errno = err;
    return PyErr_SetFromErrnoWithFilename(PyExc_OSError, request);
}

/* Wait for the tracee to stop.  Returns the signal to hand back when
 * detaching (0 for none), or -1 with errno set; ESRCH if it exited. */
static int
wait_for_stop(pid_t pid)
{
    int status, err;
    pid_t rc;

    do {
        Py_BEGIN_ALLOW_THREADS
        rc = waitpid(pid, &status, __WALL);
        err = errno;
        Py_END_ALLOW_THREADS
    } while (rc < 0 && err == EINTR);
    if (rc < 0) {
        errno = err;
        return -1;
    }
    if (!WIFSTOPPED(status)) {
        errno = ESRCH;
        return -1;
    }
    /* A signal-delivery-stop reached us before the interrupt: the signal
     * would be lost unless PTRACE_DETACH delivers it. */
    if ((status >> 16) == 0 && WSTOPSIG(status) != SIGTRAP)
        return WSTOPSIG(status);
    return 0;
}

/* Append filter number index to list.  Returns 1 when it was appended,
 * 0 when there is no such filter, or -1 with an exception set. */
static int
append_filter(pid_t pid, long index, struct sock_filter *buffer,
              PyObject *list)
{
    PyObject *program;
    long count;
    int err, rc;

    count = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)index, NULL);
    err = errno;
    /* ENOENT: no filter at this index; EINVAL: the tracee is not in
     * filter mode (no filters, or strict mode).  A kernel without the
     * request (no CONFIG_CHECKPOINT_RESTORE) fails with EIO instead. */
    if (count < 0 && (err == ENOENT || err == EINVAL))
        return 0;
    if (count < 0 || count > SCX_BPF_MAX_INSNS) {
        raise_ptrace(count < 0 ? err : EOVERFLOW,
                     "PTRACE_SECCOMP_GET_FILTER");
        return -1;
    }
    /* The buffer has room for the largest program, because another
     * thread of the tracee may replace the filter chain between the two
     * calls. */
    count = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)index, buffer);
    err = errno;
    if (count < 0) {
        if (err == ENOENT)
            return 0;
        raise_ptrace(err, "PTRACE_SECCOMP_GET_FILTER");
        return -1;
    }
    program = PyBytes_FromStringAndSize((const char *)buffer,
                                        count * sizeof(*buffer));
    if (program == NULL)
        return -1;
    rc = PyList_Append(list, program);
    Py_DECREF(program);
    return rc < 0 ? -1 : 1;
}

static PyObject *
read_filters(pid_t pid)
{
    struct sock_filter *buffer;
    PyObject *list;
    long index;
    int rc = 1;

    buffer = PyMem_Malloc(SCX_BPF_MAX_INSNS * sizeof(*buffer));
    if (buffer == NULL)
        return PyErr_NoMemory();
    list = PyList_New(0);
    if (list == NULL)
        goto error;
    for (index = 0; rc == 1; index++) {
        rc = append_filter(pid, index, buffer, list);
        if (rc < 0)
            goto error;
    }
    PyMem_Free(buffer);
    return list;

error:
    Py_XDECREF(list);
    PyMem_Free(buffer);
    return NULL;
}

PyObject *
scx_bpf_get_filters_py(PyObject *module, PyObject *arg)
{
    PyObject *filters;
    int pass_signal, err;
    long value;
    pid_t pid;

    value = PyLong_AsLong(arg);
    if (value == -1 && PyErr_Occurred())
        return NULL;
    if (value <= 0 || value > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "pid %ld is out of range", value);
        return NULL;
    }
    pid = (pid_t)value;

    if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0)
        return raise_ptrace(errno, "PTRACE_SEIZE");
    if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0) {
        err = errno;
        ptrace(PTRACE_DETACH, pid, NULL, NULL);
        return raise_ptrace(err, "PTRACE_INTERRUPT");
    }
    pass_signal = wait_for_stop(pid);
    if (pass_signal < 0) {
        err = errno;
        ptrace(PTRACE_DETACH, pid, NULL, NULL);
        return raise_ptrace(err, "waitpid");
    }

    filters = read_filters(pid);
    if (ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)pass_signal) < 0
        && filters != NULL) {
        err = errno;
        Py_DECREF(filters);
        return raise_ptrace(err, "PTRACE_DETACH");
    }
    return filters;
}
