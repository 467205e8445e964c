/*
 * spawn(): start a program under a seccomp filter, loaded just before
 * execve.
 *
 * The child is made with vfork(), so it shares the parent's memory until
 * it calls execve or _exit.  Between vfork and exec the child calls only
 * async-signal-safe functions on memory the parent prepared: no malloc, no
 * Python, no libseccomp.  That makes it safe in a process with threads,
 * where another thread may hold any lock at the moment of the fork.
 *
 * The child reports a failure by storing the stage and errno in a struct
 * on the parent's stack, which it shares.  This needs no pipe and no
 * syscall, so it works even when the filter forbids write(2).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* Stages of the child, reported with the errno of a failed step. */
enum {
    STAGE_NONE = 0,
    STAGE_SIGNALS = 1,
    STAGE_SESSION = 2,
    STAGE_STDIO = 3,
    STAGE_CLOSE_FDS = 4,
    STAGE_CWD = 5,
    STAGE_NO_NEW_PRIVS = 6,
    STAGE_LOAD = 7,
    STAGE_EXEC = 8,
    /* Not a child stage: the filter forbids execve, so no child ran. */
    STAGE_EXEC_FORBIDDEN = 9,
    STAGE_PASS_FDS = 10,
};

/* Everything the child needs, prepared by the parent before vfork. */
struct spawn_plan {
    char **executables;         /* candidate paths, NULL-terminated */
    char **argv;
    char **envp;
    const char *cwd;            /* NULL: keep the parent's */
    int stdio[3];               /* -1: inherit */
    int *keep_fds;              /* sorted, all >= 3 */
    Py_ssize_t nkeep;
    int close_fds;
    int new_session;
    int has_program;
    struct sock_fprog program;
    unsigned int flags;
    int no_new_privs;
    int max_fd;                 /* for the close() loop without close_range */
    sigset_t old_mask;
};

/* Written by the child, read by the parent after vfork returns. */
struct spawn_report {
    volatile int stage;
    volatile int err;
};

static void
child_fail(struct spawn_report *report, int stage, int err)
{
    report->stage = stage;
    report->err = err;
    _exit(127);
}

/*
 * Give every signal with a handler its default action, and undo Python's
 * SIG_IGN for SIGPIPE and SIGXFSZ, then restore the signal mask.  Until
 * then all signals are blocked, so no parent handler runs in the child.
 */
static int
reset_signals(const sigset_t *old_mask)
{
    struct sigaction current, dfl;
    int signo;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (signo = 1; signo < _NSIG; signo++) {
        if (signo == SIGKILL || signo == SIGSTOP)
            continue;
        /* Fails for the signals glibc reserves; nothing to reset there. */
        if (sigaction(signo, NULL, &current) != 0)
            continue;
        if (current.sa_handler == SIG_DFL)
            continue;
        if (current.sa_handler == SIG_IGN && signo != SIGPIPE
            && signo != SIGXFSZ)
            continue;
        if (sigaction(signo, &dfl, NULL) != 0)
            return -1;
    }
    return pthread_sigmask(SIG_SETMASK, old_mask, NULL) == 0 ? 0 : -1;
}

static int
clear_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags < 0)
        return -1;
    if (!(flags & FD_CLOEXEC))
        return 0;
    return fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

static int
setup_stdio(const int requested[3])
{
    int fds[3] = {requested[0], requested[1], requested[2]};
    int i;

    /* dup2 onto 0 and 1 must not replace a descriptor still to be used
     * for a higher slot: move such a descriptor above 2 first. */
    if (fds[1] == 0 && (fds[1] = fcntl(fds[1], F_DUPFD_CLOEXEC, 3)) < 0)
        return -1;
    if ((fds[2] == 0 || fds[2] == 1)
        && (fds[2] = fcntl(fds[2], F_DUPFD_CLOEXEC, 3)) < 0)
        return -1;
    for (i = 0; i < 3; i++) {
        if (fds[i] < 0)
            continue;
        if (fds[i] == i) {
            if (clear_cloexec(i) < 0)
                return -1;
        }
        else if (dup2(fds[i], i) < 0)
            return -1;
    }
    return 0;
}

static int
close_fd_range(unsigned int first, unsigned int last, int max_fd)
{
    unsigned int fd;

#ifdef SYS_close_range
    if (syscall(SYS_close_range, first, last, 0) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
#endif
    /* Kernels before 5.9: close one at a time, up to the fd limit. */
    for (fd = first; fd <= last && fd < (unsigned int)max_fd; fd++)
        close((int)fd);
    return 0;
}

/* Close every descriptor from 3 up, except the kept ones. */
static int
close_other_fds(const struct spawn_plan *plan)
{
    unsigned int first = 3;
    Py_ssize_t i;

    for (i = 0; i < plan->nkeep; i++) {
        unsigned int keep = (unsigned int)plan->keep_fds[i];

        if (keep > first
            && close_fd_range(first, keep - 1, plan->max_fd) < 0)
            return -1;
        first = keep + 1;
    }
    return close_fd_range(first, ~0U, plan->max_fd);
}

static int
keep_fds_open(const struct spawn_plan *plan)
{
    Py_ssize_t i;

    for (i = 0; i < plan->nkeep; i++) {
        if (clear_cloexec(plan->keep_fds[i]) < 0)
            return -1;
    }
    return 0;
}

/* Try each candidate path; report the most telling errno, as execvp. */
static void
exec_program(const struct spawn_plan *plan, struct spawn_report *report)
{
    char **path;
    int err = ENOENT, first_other = 0;

    for (path = plan->executables; *path != NULL; path++) {
        execve(*path, plan->argv, plan->envp);
        err = errno;
        if (err != ENOENT && err != ENOTDIR && first_other == 0)
            first_other = err;
    }
    child_fail(report, STAGE_EXEC, first_other ? first_other : err);
}

/* The child after vfork.  Never returns. */
static void
run_child(const struct spawn_plan *plan, struct spawn_report *report)
{
    if (reset_signals(&plan->old_mask) < 0)
        child_fail(report, STAGE_SIGNALS, errno);
    if (plan->new_session && setsid() < 0)
        child_fail(report, STAGE_SESSION, errno);
    if (setup_stdio(plan->stdio) < 0)
        child_fail(report, STAGE_STDIO, errno);
    if (keep_fds_open(plan) < 0)
        child_fail(report, STAGE_PASS_FDS, errno);
    if (plan->close_fds && close_other_fds(plan) < 0)
        child_fail(report, STAGE_CLOSE_FDS, errno);
    if (plan->cwd != NULL && chdir(plan->cwd) < 0)
        child_fail(report, STAGE_CWD, errno);
    if (plan->has_program) {
        if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            child_fail(report, STAGE_NO_NEW_PRIVS, errno);
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan->flags,
                    &plan->program) != 0)
            child_fail(report, STAGE_LOAD, errno);
    }
    exec_program(plan, report);
}

/*
 * vfork and run the child.  Returns the pid, or -1 with errno set.  All
 * signals stay blocked in this thread across vfork, so that no handler of
 * the parent runs in the child while it shares the parent's memory.
 */
static pid_t
start_child(struct spawn_plan *plan, struct spawn_report *report)
{
    sigset_t all;
    pid_t pid;
    int err;

    sigfillset(&all);
    err = pthread_sigmask(SIG_SETMASK, &all, &plan->old_mask);
    if (err != 0) {
        errno = err;
        return -1;
    }
    pid = vfork();
    if (pid == 0)
        run_child(plan, report);
    err = errno;
    pthread_sigmask(SIG_SETMASK, &plan->old_mask, NULL);
    errno = err;
    return pid;
}

/* Fill a NULL-terminated array with the strings of a tuple of bytes. */
static char **
string_array(PyObject *tuple, const char *what)
{
    Py_ssize_t i, n = PyTuple_GET_SIZE(tuple);
    char **array = PyMem_Calloc((size_t)n + 1, sizeof(char *));

    if (array == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);

        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s items must be bytes, not %s",
                         what, Py_TYPE(item)->tp_name);
            goto error;
        }
        if (strlen(PyBytes_AS_STRING(item))
            != (size_t)PyBytes_GET_SIZE(item)) {
            PyErr_Format(PyExc_ValueError, "%s item %zd contains a null "
                         "byte", what, i);
            goto error;
        }
        array[i] = PyBytes_AS_STRING(item);
    }
    return array;

error:
    PyMem_Free(array);
    return NULL;
}

static int
parse_keep_fds(PyObject *tuple, struct spawn_plan *plan)
{
    Py_ssize_t i, n = PyTuple_GET_SIZE(tuple);

    plan->keep_fds = PyMem_Calloc((size_t)n + 1, sizeof(int));
    if (plan->keep_fds == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < n; i++) {
        long fd = PyLong_AsLong(PyTuple_GET_ITEM(tuple, i));

        if (fd == -1 && PyErr_Occurred())
            return -1;
        if (fd < 3 || fd > INT_MAX || (i > 0 && fd <= plan->keep_fds[i - 1])) {
            PyErr_SetString(PyExc_ValueError,
                            "keep_fds must be sorted, distinct and >= 3");
            return -1;
        }
        plan->keep_fds[i] = (int)fd;
    }
    plan->nkeep = n;
    return 0;
}

static int
max_fd_limit(void)
{
    struct rlimit limit;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0
        || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 1048576)
        return 1048576;
    return (int)limit.rlim_cur;
}

/*
 * The action the filter takes on this very execve call.  The child shares
 * the parent's memory, so the pointer arguments are the ones it will
 * pass.
 */
static int
check_exec(PyObject *module, const struct spawn_plan *plan, int nr,
           unsigned int arch, uint32_t *action)
{
    struct seccomp_data data;
    size_t bad;

    memset(&data, 0, sizeof(data));
    data.nr = nr;
    data.arch = arch;
    data.args[0] = (uint64_t)(uintptr_t)plan->executables[0];
    data.args[1] = (uint64_t)(uintptr_t)plan->argv;
    data.args[2] = (uint64_t)(uintptr_t)plan->envp;
    if (sbx_evaluate(&plan->program, &data, action, &bad) < 0) {
        sbx_state *st = sbx_get_state(module);

        PyErr_Format(st->ProgramError, "instruction %zd of the program is "
                     "not valid in a seccomp filter", (Py_ssize_t)bad);
        return -1;
    }
    return 0;
}

/* Whether an action lets the syscall run (ALLOW, LOG, TRACE, USER_NOTIF
 * may; KILL, TRAP and ERRNO do not). */
static int
action_may_run(uint32_t action)
{
    switch (action & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_ALLOW:
    case SECCOMP_RET_LOG:
    case SECCOMP_RET_TRACE:
    case SECCOMP_RET_USER_NOTIF:
        return 1;
    default:
        return 0;
    }
}

static void
release_plan(struct spawn_plan *plan)
{
    PyMem_Free(plan->executables);
    PyMem_Free(plan->argv);
    if (plan->envp != environ)
        PyMem_Free(plan->envp);
    PyMem_Free(plan->keep_fds);
}

static int
fill_plan(PyObject *executables, PyObject *argv, PyObject *envp,
          PyObject *keep_fds, struct spawn_plan *plan)
{
    if (PyTuple_GET_SIZE(executables) == 0 || PyTuple_GET_SIZE(argv) == 0) {
        PyErr_SetString(PyExc_ValueError,
                        "executables and argv must not be empty");
        return -1;
    }
    if ((plan->executables = string_array(executables, "executables"))
            == NULL
        || (plan->argv = string_array(argv, "argv")) == NULL)
        return -1;
    if (envp == Py_None)
        plan->envp = environ;
    else if ((plan->envp = string_array(envp, "env")) == NULL)
        return -1;
    if (parse_keep_fds(keep_fds, plan) < 0)
        return -1;
    plan->max_fd = max_fd_limit();
    return 0;
}

PyDoc_STRVAR(spawn_doc,
"spawn(executables, argv, env, cwd, stdio, keep_fds, close_fds,\n"
"      new_session, program, flags, no_new_privs, exec_check)\n"
"-> (pid, stage, errno, action)\n\n"
"Start a program under a BPF filter loaded just before execve.\n\n"
"executables, argv and env (or None to inherit) are tuples of bytes; cwd\n"
"is bytes or None; stdio holds three descriptors (-1: inherit); keep_fds\n"
"is a sorted tuple of descriptors to leave open.  program is the BPF\n"
"bytes or None for no filter.  exec_check is (nr, arch) of execve: when\n"
"the filter would not run that call, no child starts and the result is\n"
"(0, STAGE_EXEC_FORBIDDEN, 0, action).  When a step in the child fails,\n"
"the child has exited and the caller must reap pid; stage names the\n"
"step and errno its error.  Success is (pid, 0, 0, 0).");

/* The Python arguments of one spawn() call. */
struct spawn_call {
    PyObject *executables;
    PyObject *argv;
    PyObject *envp;
    PyObject *cwd;
    PyObject *keep_fds;
    PyObject *program;
    PyObject *exec_check;
    int check_nr;
    unsigned int check_arch;
};

static int
parse_call(PyObject *args, struct spawn_call *call, struct spawn_plan *plan)
{
    if (!PyArg_ParseTuple(args, "O!O!OO(iii)O!ppOIpO:spawn",
                          &PyTuple_Type, &call->executables,
                          &PyTuple_Type, &call->argv, &call->envp,
                          &call->cwd, &plan->stdio[0], &plan->stdio[1],
                          &plan->stdio[2], &PyTuple_Type, &call->keep_fds,
                          &plan->close_fds, &plan->new_session,
                          &call->program, &plan->flags,
                          &plan->no_new_privs, &call->exec_check))
        return -1;
    if (call->envp != Py_None && !PyTuple_Check(call->envp)) {
        PyErr_SetString(PyExc_TypeError, "env must be a tuple or None");
        return -1;
    }
    if (call->cwd != Py_None) {
        if (!PyBytes_Check(call->cwd)) {
            PyErr_SetString(PyExc_TypeError, "cwd must be bytes or None");
            return -1;
        }
        plan->cwd = PyBytes_AS_STRING(call->cwd);
        if (strlen(plan->cwd) != (size_t)PyBytes_GET_SIZE(call->cwd)) {
            PyErr_SetString(PyExc_ValueError, "cwd contains a null byte");
            return -1;
        }
    }
    if (call->exec_check != Py_None
        && !PyArg_ParseTuple(call->exec_check, "iI", &call->check_nr,
                             &call->check_arch))
        return -1;
    return 0;
}

static PyObject *
sandbox_spawn(PyObject *module, PyObject *args)
{
    struct spawn_call call;
    struct spawn_plan plan;
    struct spawn_report report = {STAGE_NONE, 0};
    Py_buffer view = {NULL};
    PyObject *result = NULL;
    uint32_t action = 0;
    pid_t pid;
    int err;

    memset(&call, 0, sizeof(call));
    memset(&plan, 0, sizeof(plan));
    if (parse_call(args, &call, &plan) < 0)
        return NULL;
    if (call.program != Py_None) {
        view.obj = call.program;
        if (sbx_get_program(module, &view, &plan.program) < 0)
            return NULL;
        plan.has_program = 1;
    }
    if (fill_plan(call.executables, call.argv, call.envp, call.keep_fds,
                  &plan) < 0)
        goto done;

    if (plan.has_program && call.exec_check != Py_None) {
        if (check_exec(module, &plan, call.check_nr, call.check_arch,
                       &action) < 0)
            goto done;
        if (!action_may_run(action)) {
            result = Py_BuildValue("(iiik)", 0, STAGE_EXEC_FORBIDDEN, 0,
                                   (unsigned long)action);
            goto done;
        }
    }

    Py_BEGIN_ALLOW_THREADS
    pid = start_child(&plan, &report);
    err = errno;
    Py_END_ALLOW_THREADS
    if (pid < 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    result = Py_BuildValue("(iiik)", (int)pid, report.stage, report.err,
                           0UL);

done:
    release_plan(&plan);
    if (plan.has_program)
        PyBuffer_Release(&view);
    return result;
}

PyMethodDef sbx_spawn_methods[] = {
    {"spawn", sandbox_spawn, METH_VARARGS, spawn_doc},
    {NULL, NULL, 0, NULL},
};

int
sbx_add_spawn_constants(PyObject *module)
{
#define ADD(name) \
    if (PyModule_AddIntConstant(module, #name, name) < 0) \
        return -1
    ADD(STAGE_SIGNALS);
    ADD(STAGE_SESSION);
    ADD(STAGE_STDIO);
    ADD(STAGE_CLOSE_FDS);
    ADD(STAGE_CWD);
    ADD(STAGE_NO_NEW_PRIVS);
    ADD(STAGE_LOAD);
    ADD(STAGE_EXEC);
    ADD(STAGE_EXEC_FORBIDDEN);
    ADD(STAGE_PASS_FDS);
#undef ADD
    return 0;
}
