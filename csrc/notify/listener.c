/*
 * The listener ioctls: receive, respond, id_valid and addfd.
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

/* "O&" converter: an int or an object with fileno(). */
static int
fd_converter(PyObject *obj, void *out)
{
    int fd = PyObject_AsFileDescriptor(obj);

    if (fd < 0)
        return 0;
    *(int *)out = fd;
    return 1;
}

/* "O&" converter: a notification id, an unsigned 64-bit int. */
static int
id_converter(PyObject *obj, void *out)
{
    unsigned long long value;

    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "notification id must be an int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return 0;
    }
    value = PyLong_AsUnsignedLongLong(obj);
    if (value == (unsigned long long)-1 && PyErr_Occurred())
        return 0;
    *(__u64 *)out = value;
    return 1;
}

/*
 * Run ioctl(fd, request, buffer) with the GIL released.  After EINTR, run
 * the pending signal handlers (so that Ctrl-C raises KeyboardInterrupt) and
 * try again; zero_size bytes of buffer are cleared before every attempt.
 * Returns the ioctl's result; on failure -1 with the errno in *err, or 0 in
 * *err when a signal handler raised.
 */
static int
ioctl_retry(int fd, unsigned long request, void *buffer, size_t zero_size,
            int *err)
{
    int rc, saved_errno;

    for (;;) {
        if (zero_size)
            memset(buffer, 0, zero_size);
        Py_BEGIN_ALLOW_THREADS
        rc = ioctl(fd, request, buffer);
        saved_errno = errno;
        Py_END_ALLOW_THREADS
        if (rc >= 0)
            return rc;
        if (saved_errno != EINTR) {
            *err = saved_errno;
            return -1;
        }
        if (PyErr_CheckSignals() < 0) {
            *err = 0;
            return -1;
        }
    }
}

/* Raise for the errors every listener ioctl shares, or NULL if err is not
 * one of them.  Returns NULL either way; check PyErr_Occurred(). */
static PyObject *
raise_common(scn_state *st, int err, int fd, const char *what)
{
    switch (err) {
    case 0:
        /* A signal handler raised; its exception is already set. */
        return NULL;
    case ENOENT:
        return scn_raise(st->TargetGoneError, err,
                         "%s on listener %d failed: the target exited, or "
                         "its syscall was interrupted by a signal, before "
                         "the supervisor responded", what, fd);
    case EBADF:
        return scn_raise(st->NotifyError, err,
                         "%s failed: file descriptor %d is not open",
                         what, fd);
    case ENOTTY:
        return scn_raise(st->NotifyError, err,
                         "%s failed: file descriptor %d is not a seccomp "
                         "notification listener", what, fd);
    default:
        return NULL;
    }
}

static PyObject *
build_notification(scn_state *st, const struct seccomp_notif *notif)
{
    PyObject *result, *args;
    int i;

    args = PyTuple_New(6);
    if (args == NULL)
        return NULL;
    for (i = 0; i < 6; i++) {
        PyObject *value = PyLong_FromUnsignedLongLong(notif->data.args[i]);

        if (value == NULL) {
            Py_DECREF(args);
            return NULL;
        }
        PyTuple_SET_ITEM(args, i, value);
    }
    result = PyStructSequence_New(st->notification_type);
    if (result == NULL) {
        Py_DECREF(args);
        return NULL;
    }
    PyStructSequence_SET_ITEM(result, 0,
                              PyLong_FromUnsignedLongLong(notif->id));
    PyStructSequence_SET_ITEM(result, 1, PyLong_FromUnsignedLong(notif->pid));
    PyStructSequence_SET_ITEM(result, 2,
                              PyLong_FromUnsignedLong(notif->flags));
    PyStructSequence_SET_ITEM(result, 3, PyLong_FromLong(notif->data.nr));
    PyStructSequence_SET_ITEM(result, 4,
                              PyLong_FromUnsignedLong(notif->data.arch));
    PyStructSequence_SET_ITEM(
        result, 5,
        PyLong_FromUnsignedLongLong(notif->data.instruction_pointer));
    PyStructSequence_SET_ITEM(result, 6, args);
    for (i = 0; i < 6; i++) {
        if (PyStructSequence_GET_ITEM(result, i) == NULL) {
            Py_DECREF(result);
            return NULL;
        }
    }
    return result;
}

/* The buffer size for one structure: the kernel copies its own size in or
 * out, which may be larger than the headers this module was built with. */
static size_t
buffer_size(size_t kernel_size, size_t struct_size)
{
    return kernel_size > struct_size ? kernel_size : struct_size;
}

PyObject *
scn_receive(PyObject *module, PyObject *arg)
{
    scn_state *st = scn_get_state(module);
    struct seccomp_notif *notif;
    PyObject *result = NULL;
    size_t size;
    int fd, err = 0;

    fd = PyObject_AsFileDescriptor(arg);
    if (fd < 0)
        return NULL;

    size = buffer_size(st->sizes.seccomp_notif, sizeof(*notif));
    notif = PyMem_Calloc(1, size);
    if (notif == NULL)
        return PyErr_NoMemory();
    /* The kernel rejects a buffer that is not all zero with EINVAL. */
    if (ioctl_retry(fd, SECCOMP_IOCTL_NOTIF_RECV, notif, size, &err) < 0) {
        raise_common(st, err, fd, "receiving a notification");
        if (!PyErr_Occurred())
            scn_raise(st->NotifyError, err,
                      "receiving a notification on listener %d failed: %s",
                      fd, strerror(err));
        goto done;
    }
    result = build_notification(st, notif);

done:
    PyMem_Free(notif);
    return result;
}

static PyObject *
raise_respond_error(scn_state *st, int err, int fd, __u64 id)
{
    raise_common(st, err, fd, "responding");
    if (PyErr_Occurred())
        return NULL;
    if (err == EINPROGRESS)
        return scn_raise(st->NotifyError, err,
                         "responding to notification %llu failed: it has "
                         "not been received yet (EINPROGRESS)",
                         (unsigned long long)id);
    if (err == EINVAL)
        return scn_raise(st->NotifyError, err,
                         "responding to notification %llu failed: the "
                         "kernel rejected the response (EINVAL); "
                         "FLAG_CONTINUE takes no value or error",
                         (unsigned long long)id);
    return scn_raise(st->NotifyError, err,
                     "responding to notification %llu failed: %s",
                     (unsigned long long)id, strerror(err));
}

PyObject *
scn_respond(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fd", "id", "value", "error", "flags", NULL};
    scn_state *st = scn_get_state(module);
    struct seccomp_notif_resp *resp;
    long long value = 0;
    int fd, error = 0, err = 0;
    unsigned int flags = 0;
    __u64 id;
    size_t size;
    PyObject *result = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&O&|LiI:respond",
                                     keywords, fd_converter, &fd,
                                     id_converter, &id, &value, &error,
                                     &flags))
        return NULL;
    if (error < 0 || error > 4095)
        return scn_raise(st->InvalidArgumentError, EINVAL,
                         "error %d is out of range: use 0 (no error) or a "
                         "positive errno up to 4095", error);

    size = buffer_size(st->sizes.seccomp_notif_resp, sizeof(*resp));
    resp = PyMem_Calloc(1, size);
    if (resp == NULL)
        return PyErr_NoMemory();
    resp->id = id;
    resp->val = value;
    resp->error = -error;
    resp->flags = flags;
    if (ioctl_retry(fd, SECCOMP_IOCTL_NOTIF_SEND, resp, 0, &err) < 0) {
        raise_respond_error(st, err, fd, id);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;

done:
    PyMem_Free(resp);
    return result;
}

PyObject *
scn_id_valid(PyObject *module, PyObject *args)
{
    scn_state *st = scn_get_state(module);
    int fd, err = 0;
    __u64 id;

    if (!PyArg_ParseTuple(args, "O&O&:id_valid", fd_converter, &fd,
                          id_converter, &id))
        return NULL;

    if (ioctl_retry(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id, 0, &err) == 0)
        Py_RETURN_TRUE;
    if (err == ENOENT)
        Py_RETURN_FALSE;
    raise_common(st, err, fd, "checking a notification id");
    if (!PyErr_Occurred())
        scn_raise(st->NotifyError, err,
                  "checking notification %llu failed: %s",
                  (unsigned long long)id, strerror(err));
    return NULL;
}

static PyObject *
raise_addfd_error(scn_state *st, int err, int fd, int srcfd)
{
    if (err == EBADF)
        return scn_raise(st->NotifyError, err,
                         "adding file descriptor %d to the target failed: "
                         "it is not open here, or listener %d is not open",
                         srcfd, fd);
    raise_common(st, err, fd, "adding a file descriptor");
    if (PyErr_Occurred())
        return NULL;
    switch (err) {
    case EINPROGRESS:
        return scn_raise(st->NotifyError, err,
                         "adding a file descriptor failed: the notification "
                         "has not been received yet (EINPROGRESS)");
    case EMFILE:
        return scn_raise(st->NotifyError, err,
                         "adding a file descriptor failed: the target has "
                         "reached its limit of open files (EMFILE)");
    case EBUSY:
        return scn_raise(st->NotifyError, err,
                         "adding a file descriptor with send=True failed: "
                         "other addfd requests for this notification are "
                         "still queued (EBUSY)");
    default:
        return scn_raise(st->NotifyError, err,
                         "adding a file descriptor to the target failed: %s",
                         strerror(err));
    }
}

static int
parse_newfd(scn_state *st, PyObject *obj, int *newfd)
{
    long value;

    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "newfd must be an int or None, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    value = PyLong_AsLong(obj);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (value < 0 || value > INT_MAX) {
        scn_raise(st->InvalidArgumentError, EINVAL,
                  "newfd %ld is invalid: use a file descriptor number from "
                  "0 to %d, or None", value, INT_MAX);
        return -1;
    }
    *newfd = (int)value;
    return 0;
}

PyObject *
scn_addfd(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fd", "id", "srcfd", "newfd", "flags",
                               "send", NULL};
    scn_state *st = scn_get_state(module);
    SCN_ADDFD_STRUCT addfd;
    PyObject *newfd_obj = Py_None;
    int fd, srcfd, newfd = 0, flags = 0, send = 0, err = 0, rc;
    __u64 id;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&O&O&|Oip:addfd",
                                     keywords, fd_converter, &fd,
                                     id_converter, &id, fd_converter, &srcfd,
                                     &newfd_obj, &flags, &send))
        return NULL;
    if (newfd_obj != Py_None && parse_newfd(st, newfd_obj, &newfd) < 0)
        return NULL;
    if (flags & ~O_CLOEXEC)
        return scn_raise(st->InvalidArgumentError, EINVAL,
                         "flags %#x is invalid: the only flag for the "
                         "target's descriptor is O_CLOEXEC", flags);

    memset(&addfd, 0, sizeof(addfd));
    addfd.id = id;
    addfd.srcfd = (__u32)srcfd;
    addfd.newfd = (__u32)newfd;
    addfd.newfd_flags = (__u32)flags;
    if (newfd_obj != Py_None)
        addfd.flags |= SECCOMP_ADDFD_FLAG_SETFD;
    if (send)
        addfd.flags |= SECCOMP_ADDFD_FLAG_SEND;
    rc = ioctl_retry(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd, 0, &err);
    if (rc < 0)
        return raise_addfd_error(st, err, fd, srcfd);
    return PyLong_FromLong(rc);
}
