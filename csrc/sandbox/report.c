/*
 * The Reporter type: a shared page and the SIGSYS handler that fills it.
 *
 * When a filter returns SECCOMP_RET_TRAP the kernel skips the syscall and
 * sends SIGSYS to the calling thread, with the syscall number and
 * architecture in the siginfo and the arguments still in the saved
 * registers.  The handler copies them into the page and ends the process.
 * It makes no syscall before _exit(), so the record survives a filter that
 * forbids write(2).
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    struct sbx_page *page;      /* NULL once closed */
} sbx_reporter;

/*
 * A signal handler gets no user pointer, so it finds its page through this
 * static.  Reporter.install() sets it in a sandboxed child, which has one
 * reporter; the parent never sets it.
 */
static struct sbx_page *volatile handler_page;

#if defined(__x86_64__)
static void
copy_args(struct sbx_record *rec, const siginfo_t *info,
          const ucontext_t *uc)
{
    const greg_t *r = uc->uc_mcontext.gregs;

    if (info->si_arch == AUDIT_ARCH_I386) {
        /* int 0x80 from a 64-bit process: the i386 argument registers. */
        rec->args[0] = (uint32_t)r[REG_RBX];
        rec->args[1] = (uint32_t)r[REG_RCX];
        rec->args[2] = (uint32_t)r[REG_RDX];
        rec->args[3] = (uint32_t)r[REG_RSI];
        rec->args[4] = (uint32_t)r[REG_RDI];
        rec->args[5] = (uint32_t)r[REG_RBP];
    }
    else {
        rec->args[0] = (uint64_t)r[REG_RDI];
        rec->args[1] = (uint64_t)r[REG_RSI];
        rec->args[2] = (uint64_t)r[REG_RDX];
        rec->args[3] = (uint64_t)r[REG_R10];
        rec->args[4] = (uint64_t)r[REG_R8];
        rec->args[5] = (uint64_t)r[REG_R9];
    }
    rec->nargs = 6;
}
#elif defined(__aarch64__)
static void
copy_args(struct sbx_record *rec, const siginfo_t *info,
          const ucontext_t *uc)
{
    int i;

    /* The kernel puts x0 back (syscall_rollback) before sending SIGSYS. */
    for (i = 0; i < 6; i++)
        rec->args[i] = uc->uc_mcontext.regs[i];
    rec->nargs = 6;
}
#elif defined(__i386__)
static void
copy_args(struct sbx_record *rec, const siginfo_t *info,
          const ucontext_t *uc)
{
    const greg_t *r = uc->uc_mcontext.gregs;

    rec->args[0] = (uint32_t)r[REG_EBX];
    rec->args[1] = (uint32_t)r[REG_ECX];
    rec->args[2] = (uint32_t)r[REG_EDX];
    rec->args[3] = (uint32_t)r[REG_ESI];
    rec->args[4] = (uint32_t)r[REG_EDI];
    rec->args[5] = (uint32_t)r[REG_EBP];
    rec->nargs = 6;
}
#else
static void
copy_args(struct sbx_record *rec, const siginfo_t *info,
          const ucontext_t *uc)
{
    /* TODO: read the argument registers on this architecture. */
    rec->nargs = 0;
}
#endif

static void
fill_record(struct sbx_page *page, const siginfo_t *info, void *context)
{
    struct sbx_record *rec = &page->record;

    rec->si_code = info->si_code;
    rec->si_errno = info->si_errno;
    rec->stage = __atomic_load_n(&page->stage, __ATOMIC_RELAXED);
    if (info->si_code == SYS_SECCOMP) {
        rec->nr = info->si_syscall;
        rec->arch = info->si_arch;
        rec->ip = (uint64_t)(uintptr_t)info->si_call_addr;
        copy_args(rec, info, (const ucontext_t *)context);
    }
}

/* Async-signal-safe: atomics, plain stores and _exit() only. */
static void
on_sigsys(int signo, siginfo_t *info, void *context)
{
    struct sbx_page *page = handler_page;
    uint32_t expected = SBX_RECORD_EMPTY;
    long spins;

    if (page != NULL) {
        __atomic_fetch_add(&page->count, 1, __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(&page->state, &expected,
                                        SBX_RECORD_WRITING, 0,
                                        __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            fill_record(page, info, context);
            __atomic_store_n(&page->state, SBX_RECORD_DONE,
                             __ATOMIC_RELEASE);
        }
        /* Another thread is writing the first record: let it finish
         * before this thread's _exit() ends the process. */
        for (spins = 0; spins < 100000000L; spins++) {
            if (__atomic_load_n(&page->state, __ATOMIC_ACQUIRE)
                == SBX_RECORD_DONE)
                break;
        }
    }
    _exit(SBX_EXIT_VIOLATION);
}

static PyObject *
reporter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    sbx_reporter *self;
    void *page;

    if (PyTuple_GET_SIZE(args) != 0
        || (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "Reporter() takes no arguments");
        return NULL;
    }
    page = mmap(NULL, sizeof(struct sbx_page), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return PyErr_SetFromErrno(PyExc_OSError);
    self = (sbx_reporter *)type->tp_alloc(type, 0);
    if (self == NULL) {
        munmap(page, sizeof(struct sbx_page));
        return NULL;
    }
    self->page = page;
    return (PyObject *)self;
}

static void
reporter_release(sbx_reporter *self)
{
    if (self->page != NULL) {
        if (handler_page == self->page)
            handler_page = NULL;
        munmap(self->page, sizeof(struct sbx_page));
        self->page = NULL;
    }
}

static void
reporter_dealloc(sbx_reporter *self)
{
    PyTypeObject *type = Py_TYPE(self);

    reporter_release(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static struct sbx_page *
open_page(sbx_reporter *self)
{
    if (self->page == NULL)
        PyErr_SetString(PyExc_ValueError, "the reporter is closed");
    return self->page;
}

PyDoc_STRVAR(install_doc,
"install()\n\n"
"Install the SIGSYS handler that records into this reporter's page.\n\n"
"Call it in the sandboxed child before loading the filter.  It also\n"
"unblocks SIGSYS in the calling thread, because the kernel kills a thread\n"
"that has SIGSYS blocked instead of running the handler.");

static PyObject *
reporter_install(sbx_reporter *self, PyObject *unused)
{
    struct sigaction action;
    sigset_t sigsys;
    int err;

    if (open_page(self) == NULL)
        return NULL;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_sigsys;
    action.sa_flags = SA_SIGINFO;
    /* Nothing may interrupt the handler between its stores and _exit. */
    sigfillset(&action.sa_mask);

    handler_page = self->page;
    if (sigaction(SIGSYS, &action, NULL) != 0)
        goto error;
    sigemptyset(&sigsys);
    sigaddset(&sigsys, SIGSYS);
    err = pthread_sigmask(SIG_UNBLOCK, &sigsys, NULL);
    if (err != 0) {
        errno = err;
        goto error;
    }
    Py_RETURN_NONE;

error:
    handler_page = NULL;
    return PyErr_SetFromErrno(PyExc_OSError);
}

PyDoc_STRVAR(set_stage_doc,
"set_stage(stage)\n\n"
"Store what the child is doing, for the parent to read after a failure.");

static PyObject *
reporter_set_stage(sbx_reporter *self, PyObject *arg)
{
    struct sbx_page *page = open_page(self);
    unsigned long stage;

    if (page == NULL)
        return NULL;
    stage = PyLong_AsUnsignedLong(arg);
    if (stage == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    __atomic_store_n(&page->stage, (uint32_t)stage, __ATOMIC_RELEASE);
    Py_RETURN_NONE;
}

static PyObject *
build_record(const struct sbx_page *page)
{
    const struct sbx_record *rec = &page->record;
    PyObject *args = PyTuple_New(rec->nargs > 6 ? 6 : rec->nargs);
    PyObject *result;
    uint32_t i;

    if (args == NULL)
        return NULL;
    for (i = 0; i < rec->nargs && i < 6; i++) {
        PyObject *value = PyLong_FromUnsignedLongLong(rec->args[i]);

        if (value == NULL) {
            Py_DECREF(args);
            return NULL;
        }
        PyTuple_SET_ITEM(args, i, value);
    }
    result = Py_BuildValue("{s:i,s:k,s:i,s:i,s:k,s:N,s:K,s:k}",
                           "nr", rec->nr, "arch", (unsigned long)rec->arch,
                           "si_code", rec->si_code,
                           "si_errno", rec->si_errno,
                           "stage", (unsigned long)rec->stage,
                           "args", args,
                           "ip", (unsigned long long)rec->ip,
                           "count", (unsigned long)page->count);
    return result;
}

PyDoc_STRVAR(record_doc,
"record() -> dict | None\n\n"
"The first SIGSYS the child received, or None.\n\n"
"Keys: nr, arch, si_code, si_errno, stage (the child's stage then), args\n"
"(a tuple, empty when this build cannot read the registers), ip and\n"
"count (how many SIGSYS signals arrived).");

static PyObject *
reporter_record(sbx_reporter *self, PyObject *unused)
{
    struct sbx_page *page = open_page(self);

    if (page == NULL)
        return NULL;
    if (__atomic_load_n(&page->state, __ATOMIC_ACQUIRE) != SBX_RECORD_DONE)
        Py_RETURN_NONE;
    return build_record(page);
}

static PyObject *
reporter_clear(sbx_reporter *self, PyObject *unused)
{
    struct sbx_page *page = open_page(self);

    if (page == NULL)
        return NULL;
    memset(page, 0, sizeof(*page));
    Py_RETURN_NONE;
}

static PyObject *
reporter_close(sbx_reporter *self, PyObject *unused)
{
    reporter_release(self);
    Py_RETURN_NONE;
}

static PyObject *
reporter_get_stage(sbx_reporter *self, void *closure)
{
    struct sbx_page *page = open_page(self);

    if (page == NULL)
        return NULL;
    return PyLong_FromUnsignedLong(
        __atomic_load_n(&page->stage, __ATOMIC_ACQUIRE));
}

static PyObject *
reporter_get_closed(sbx_reporter *self, void *closure)
{
    return PyBool_FromLong(self->page == NULL);
}

static PyMethodDef reporter_methods[] = {
    {"install", (PyCFunction)reporter_install, METH_NOARGS, install_doc},
    {"set_stage", (PyCFunction)reporter_set_stage, METH_O, set_stage_doc},
    {"record", (PyCFunction)reporter_record, METH_NOARGS, record_doc},
    {"clear", (PyCFunction)reporter_clear, METH_NOARGS,
     PyDoc_STR("Forget the stage and any record.")},
    {"close", (PyCFunction)reporter_close, METH_NOARGS,
     PyDoc_STR("Unmap the page.")},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef reporter_getset[] = {
    {"stage", (getter)reporter_get_stage, NULL,
     PyDoc_STR("The stage the child stored last."), NULL},
    {"closed", (getter)reporter_get_closed, NULL,
     PyDoc_STR("Whether the page is unmapped."), NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(reporter_doc,
"Reporter()\n\n"
"A page shared with forked children, where the SIGSYS handler records\n"
"the syscall that a filter trapped and the child stores its stage.");

static PyType_Slot reporter_slots[] = {
    {Py_tp_new, reporter_new},
    {Py_tp_dealloc, reporter_dealloc},
    {Py_tp_methods, reporter_methods},
    {Py_tp_getset, reporter_getset},
    {Py_tp_doc, (void *)reporter_doc},
    {0, NULL},
};

PyType_Spec sbx_reporter_spec = {
    .name = "seccompx._sandbox.Reporter",
    .basicsize = sizeof(sbx_reporter),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = reporter_slots,
};
