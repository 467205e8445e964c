/*
 * seccompx._bpf.ProgramBase: the base type of seccompx.Program.
 *
 * It stores the program's bytes and implements load().  A method written in
 * Python runs in a frame of its own, and in a freshly forked child, where
 * a precompiled program is usually loaded, each object that frame touches
 * costs a page fault.  In C, load() parses its keywords, makes the two
 * system calls and builds the result, with nothing allocated before the
 * system calls are made.
 */
#include "bpf.h"

#include "structmember.h"

#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The keywords of load(), in the order their errors are reported. */
enum {
    KW_TSYNC,
    KW_LOG,
    KW_SPEC_ALLOW,
    KW_NEW_LISTENER,
    KW_WAIT_KILLABLE_RECV,
    KW_NO_NEW_PRIVS,
    NKEYWORDS,
};

static const char *const keyword_names[NKEYWORDS] = {
    "tsync", "log", "spec_allow", "new_listener", "wait_killable_recv",
    "no_new_privs",
};

static int
keyword_index(PyObject *name)
{
    int i;

    for (i = 0; i < NKEYWORDS; i++) {
        if (PyUnicode_CompareWithASCIIString(name, keyword_names[i]) == 0)
            return i;
    }
    return -1;
}

static PyObject *
program_load(PyObject *self, PyTypeObject *defining_class,
             PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    /* The defaults: tsync and no_new_privs on, the rest off. */
    PyObject *values[NKEYWORDS] = {
        Py_True, Py_False, Py_False, Py_False, Py_False, Py_True,
    };
    PyObject *data = ((scx_bpf_program *)self)->data;
    unsigned long flags = 0;
    Py_ssize_t i, nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *result;

    if (nargs != 0) {
        PyErr_Format(PyExc_TypeError,
                     "load() takes only keyword arguments (%zd positional "
                     "given)", nargs);
        return NULL;
    }
    for (i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        int index = keyword_index(name);

        if (index < 0) {
            PyErr_Format(PyExc_TypeError,
                         "load() got an unexpected keyword argument %R; it "
                         "takes tsync, log, spec_allow, new_listener, "
                         "wait_killable_recv and no_new_privs", name);
            return NULL;
        }
        values[index] = args[nargs + i];
    }
    for (i = 0; i < NKEYWORDS; i++) {
        if (values[i] != Py_True && values[i] != Py_False) {
            PyErr_Format(PyExc_TypeError, "%s must be True or False, not %R",
                         keyword_names[i], values[i]);
            return NULL;
        }
    }
    if (values[KW_WAIT_KILLABLE_RECV] == Py_True
        && values[KW_NEW_LISTENER] != Py_True) {
        scx_bpf_state *st = PyType_GetModuleState(defining_class);
        PyObject *message;

        /* The kernel rejects the flag without a listener, but only after
         * no_new_privs would already be set. */
        if (st == NULL)
            return NULL;
        message = PyUnicode_FromString(
            "wait_killable_recv=True needs new_listener=True: it changes "
            "how notified tasks wait for the listener");
        if (message != NULL) {
            PyErr_SetObject(st->InvalidArgumentError, message);
            Py_DECREF(message);
        }
        return NULL;
    }
    if (data == NULL || !PyBytes_Check(data)
        || PyBytes_GET_SIZE(data) % sizeof(struct sock_filter) != 0) {
        PyErr_SetString(PyExc_TypeError,
                        "load() needs a seccompx.Program built by its "
                        "constructor");
        return NULL;
    }

    if (values[KW_TSYNC] == Py_True)
        flags |= SECCOMP_FILTER_FLAG_TSYNC;
    if (values[KW_LOG] == Py_True)
        flags |= SECCOMP_FILTER_FLAG_LOG;
    if (values[KW_SPEC_ALLOW] == Py_True)
        flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    if (values[KW_NEW_LISTENER] == Py_True) {
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        /* The kernel requires TSYNC_ESRCH beside TSYNC and a listener. */
        if (values[KW_TSYNC] == Py_True)
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }
    if (values[KW_WAIT_KILLABLE_RECV] == Py_True)
        flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

    result = scx_bpf_install(data, flags, values[KW_NO_NEW_PRIVS] == Py_True,
                             ((scx_bpf_program *)self)->valid);
    if (result == NULL || values[KW_NEW_LISTENER] == Py_True)
        return result;
    Py_DECREF(result);
    Py_RETURN_NONE;
}

/* _set_data(data): store the program's bytes, once, and whether the
 * kernel's checks accept them, so that load() need not check again.  Only
 * bytes are accepted, so the member can never be part of a reference
 * cycle. */
static PyObject *
program_set_data(scx_bpf_program *self, PyObject *data)
{
    scx_bpf_error error;

    if (!PyBytes_CheckExact(data)) {
        PyErr_Format(PyExc_TypeError, "program data must be bytes, not %.100s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (self->data != NULL) {
        PyErr_SetString(PyExc_AttributeError,
                        "Program objects are immutable");
        return NULL;
    }
    self->valid = PyBytes_GET_SIZE(data) % sizeof(struct sock_filter) == 0
                  && scx_bpf_check(PyBytes_AS_STRING(data),
                                   (size_t)PyBytes_GET_SIZE(data)
                                   / sizeof(struct sock_filter), &error) == 0;
    Py_INCREF(data);
    self->data = data;
    Py_RETURN_NONE;
}

static void
program_dealloc(scx_bpf_program *self)
{
    PyTypeObject *type = Py_TYPE(self);

    Py_CLEAR(self->data);
    type->tp_free(self);
    Py_DECREF(type);
}

/* The docstring of seccompx.Program.load.  program.py repeats it for the
 * documentation and type checkers, and tests/test_program.py checks that
 * the two agree. */
#define LOAD_DOC \
"load($self, /, *, tsync=True, log=False, spec_allow=False, " \
"new_listener=False, wait_killable_recv=False, no_new_privs=True)\n" \
"--\n\n" \
"Install the program as a seccomp filter of the calling process.\n\n" \
"One call into the extension sets PR_SET_NO_NEW_PRIVS (when\n" \
"``no_new_privs`` is true) and calls seccomp(SECCOMP_SET_MODE_FILTER)\n" \
"with the flags chosen:\n\n" \
"* ``tsync``: install on every thread of the process (TSYNC).\n" \
"* ``log``: log every action except ALLOW (LOG).\n" \
"* ``spec_allow``: keep speculative store bypass mitigation off\n" \
"  (SPEC_ALLOW).\n" \
"* ``new_listener``: create a user-notification listener and return\n" \
"  its file descriptor (NEW_LISTENER).  With ``tsync`` this also\n" \
"  sets TSYNC_ESRCH, which the kernel requires for the pair.\n" \
"* ``wait_killable_recv``: notified tasks wait killably\n" \
"  (WAIT_KILLABLE_RECV, Linux 5.19+), only with ``new_listener``;\n" \
"  without it this raises InvalidArgumentError.\n\n" \
"Every keyword takes only True or False; any other value raises\n" \
"TypeError before anything is loaded.\n" \
"Returns the listener descriptor with ``new_listener``, else None.\n" \
"Raises LoadError with a ``reason`` when the kernel rejects it; a\n" \
"program that fails :meth:`validate` is rejected before anything is set.\n" \
"Loading cannot be undone."

static PyMethodDef program_methods[] = {
    {"load", (PyCFunction)(void (*)(void))program_load,
     METH_METHOD | METH_FASTCALL | METH_KEYWORDS, LOAD_DOC},
    {"_set_data", (PyCFunction)program_set_data, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef program_members[] = {
    {"_data", T_OBJECT_EX, offsetof(scx_bpf_program, data), READONLY,
     "The program's bytes."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot program_slots[] = {
    {Py_tp_dealloc, program_dealloc},
    {Py_tp_methods, program_methods},
    {Py_tp_members, program_members},
    {Py_tp_doc, "The C part of seccompx.Program; use that class."},
    {0, NULL},
};

PyType_Spec scx_bpf_program_spec = {
    .name = "seccompx._bpf.ProgramBase",
    .basicsize = sizeof(scx_bpf_program),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = program_slots,
};
