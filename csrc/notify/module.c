/*
 * seccompx._notify: the module object, its state, the Notification type
 * and the structure sizes the running kernel reports.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

scn_state *
scn_get_state(PyObject *module)
{
    return (scn_state *)PyModule_GetState(module);
}

/* Raise cls(message, err).  Always returns NULL. */
PyObject *
scn_raise(PyObject *cls, int err, const char *format, ...)
{
    va_list vargs;
    PyObject *message, *error;

    va_start(vargs, format);
    message = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    if (message == NULL)
        return NULL;

    error = PyObject_CallFunction(cls, "Oi", message, err);
    Py_DECREF(message);
    if (error == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return NULL;
}

static PyStructSequence_Field notification_fields[] = {
    {"id", "the kernel's cookie for this request, unique per listener"},
    {"pid", "the thread that made the syscall, in the listener's pid "
            "namespace"},
    {"flags", "flags of the notification (none are defined yet)"},
    {"nr", "the syscall number, as seccomp_data.nr"},
    {"arch", "the AUDIT_ARCH_* token of the syscall's architecture"},
    {"instruction_pointer", "the address just after the syscall "
                            "instruction"},
    {"args", "the six argument registers, as unsigned 64-bit ints"},
    {NULL, NULL},
};

static PyStructSequence_Desc notification_desc = {
    .name = "seccompx.notify.Notification",
    .doc = "One syscall of a target, waiting for the supervisor's response.",
    .fields = notification_fields,
    .n_in_sequence = 7,
};

/* Ask the kernel how large its notification structures are. */
static void
query_sizes(scn_state *st)
{
    long rc;

    memset(&st->sizes, 0, sizeof(st->sizes));
    errno = 0;
    rc = syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &st->sizes);
    st->sizes_errno = rc < 0 ? errno : 0;
    if (rc < 0)
        memset(&st->sizes, 0, sizeof(st->sizes));
}

static PyObject *
notify_sizes(PyObject *module, PyObject *unused)
{
    scn_state *st = scn_get_state(module);

    if (st->sizes_errno != 0)
        return scn_raise(st->UnsupportedError, st->sizes_errno,
                         "the kernel does not report seccomp notification "
                         "sizes (%s); user notifications need Linux 5.0 "
                         "or newer", strerror(st->sizes_errno));
    return Py_BuildValue("(iii)", (int)st->sizes.seccomp_notif,
                         (int)st->sizes.seccomp_notif_resp,
                         (int)st->sizes.seccomp_data);
}

static int
load_error_classes(scn_state *st)
{
    PyObject *errors = PyImport_ImportModule("seccompx._errors");

    if (errors == NULL)
        return -1;
#define LOAD(name) \
    if ((st->name = PyObject_GetAttrString(errors, #name)) == NULL) \
        goto error
    LOAD(NotifyError);
    LOAD(TargetGoneError);
    LOAD(UnsupportedError);
    LOAD(InvalidArgumentError);
#undef LOAD
    Py_DECREF(errors);
    return 0;

error:
    Py_DECREF(errors);
    return -1;
}

static int
add_constants(PyObject *module)
{
#define ADD(name, value) \
    if (PyModule_AddIntConstant(module, name, (long)(value)) < 0) \
        return -1
    ADD("FLAG_CONTINUE", SECCOMP_USER_NOTIF_FLAG_CONTINUE);
    ADD("ADDFD_FLAG_SETFD", SECCOMP_ADDFD_FLAG_SETFD);
    ADD("ADDFD_FLAG_SEND", SECCOMP_ADDFD_FLAG_SEND);
    ADD("RET_USER_NOTIF", SECCOMP_RET_USER_NOTIF);
    ADD("NOTIF_STRUCT_SIZE", sizeof(struct seccomp_notif));
    ADD("RESP_STRUCT_SIZE", sizeof(struct seccomp_notif_resp));
    ADD("DATA_STRUCT_SIZE", sizeof(struct seccomp_data));
    ADD("SENDMSG_NR", __NR_sendmsg);
#undef ADD
    return 0;
}

static int
notify_exec(PyObject *module)
{
    scn_state *st = scn_get_state(module);

    if (load_error_classes(st) < 0)
        return -1;
    st->notification_type = PyStructSequence_NewType(&notification_desc);
    if (st->notification_type == NULL)
        return -1;
    Py_INCREF(st->notification_type);
    if (PyModule_AddObject(module, "Notification",
                           (PyObject *)st->notification_type) < 0) {
        Py_DECREF(st->notification_type);
        return -1;
    }
    query_sizes(st);
    return add_constants(module);
}

static int
notify_traverse(PyObject *module, visitproc visit, void *arg)
{
    scn_state *st = scn_get_state(module);

    Py_VISIT(st->notification_type);
    Py_VISIT(st->NotifyError);
    Py_VISIT(st->TargetGoneError);
    Py_VISIT(st->UnsupportedError);
    Py_VISIT(st->InvalidArgumentError);
    return 0;
}

static int
notify_clear(PyObject *module)
{
    scn_state *st = scn_get_state(module);

    Py_CLEAR(st->notification_type);
    Py_CLEAR(st->NotifyError);
    Py_CLEAR(st->TargetGoneError);
    Py_CLEAR(st->UnsupportedError);
    Py_CLEAR(st->InvalidArgumentError);
    return 0;
}

static void
notify_free(void *module)
{
    notify_clear((PyObject *)module);
}

static PyMethodDef notify_methods[] = {
    {"receive", (PyCFunction)scn_receive, METH_O,
     "receive(fd) -> Notification\n\n"
     "Wait for the next notification on listener fd, with the GIL "
     "released.\nRetries after EINTR once pending signal handlers have "
     "run.  Raises\nTargetGoneError when the target died before the "
     "notification could be\nread."},
    {"respond", (PyCFunction)(void (*)(void))scn_respond,
     METH_VARARGS | METH_KEYWORDS,
     "respond(fd, id, value=0, error=0, flags=0) -> None\n\n"
     "Respond to notification id: the syscall returns value, or fails with "
     "the\npositive errno error, or runs as made with FLAG_CONTINUE.  "
     "Raises\nTargetGoneError when the target is gone."},
    {"id_valid", (PyCFunction)scn_id_valid, METH_VARARGS,
     "id_valid(fd, id) -> bool\n\n"
     "Whether notification id is still pending: its target is alive and "
     "waits\nfor a response."},
    {"addfd", (PyCFunction)(void (*)(void))scn_addfd,
     METH_VARARGS | METH_KEYWORDS,
     "addfd(fd, id, srcfd, newfd=None, flags=0, send=False) -> int\n\n"
     "Install a copy of srcfd in the target of notification id and return "
     "its\nnumber there.  newfd picks the number (replacing any open fd), "
     "flags\nmay be O_CLOEXEC, and send=True also responds to the notification "
     "with\nthat number (Linux 5.14+)."},
    {"notif_sizes", notify_sizes, METH_NOARGS,
     "notif_sizes() -> (notif, resp, data)\n\n"
     "The sizes the kernel uses for struct seccomp_notif, "
     "seccomp_notif_resp\nand seccomp_data (SECCOMP_GET_NOTIF_SIZES)."},
    {"install_listener", (PyCFunction)(void (*)(void))scn_install_listener,
     METH_VARARGS | METH_KEYWORDS,
     "install_listener(program, arch, sock, no_new_privs=True, flags=0, "
     "exec_args=None)\n\n"
     "Child side of Supervisor.spawn: load program with a new listener, "
     "send\nthe listener over socket sock, then execve exec_args = "
     "(path, argv, envp)\nif given.  Returns (listener, exec_errno)."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot notify_slots[] = {
    {Py_mod_exec, notify_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef notify_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "seccompx._notify",
    .m_doc = "seccomp user notifications.  Use seccompx.notify.",
    .m_size = sizeof(scn_state),
    .m_methods = notify_methods,
    .m_slots = notify_slots,
    .m_traverse = notify_traverse,
    .m_clear = notify_clear,
    .m_free = notify_free,
};

PyMODINIT_FUNC
PyInit__notify(void)
{
    return PyModuleDef_Init(&notify_module);
}
