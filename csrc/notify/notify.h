/*
 * Shared declarations of the seccompx._notify extension module: seccomp
 * user notifications (SECCOMP_RET_USER_NOTIF) and the child-side set-up
 * that hands a new listener to a supervisor.
 *
 * The module talks to the kernel with ioctl(2) on the listener descriptor
 * rather than through libseccomp, because libseccomp 2.5 has no call for
 * SECCOMP_IOCTL_NOTIF_ADDFD and folds every failure into -ECANCELED.
 */
#ifndef SECCOMPX_NOTIFY_H
#define SECCOMPX_NOTIFY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* Definitions missing from kernel headers older than Linux 5.14. */
#ifndef SECCOMP_GET_NOTIF_SIZES
#define SECCOMP_GET_NOTIF_SIZES 3
struct seccomp_notif_sizes {
    __u16 seccomp_notif;
    __u16 seccomp_notif_resp;
    __u16 seccomp_data;
};
#endif

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
struct seccomp_notif {
    __u64 id;
    __u32 pid;
    __u32 flags;
    struct seccomp_data data;
};
struct seccomp_notif_resp {
    __u64 id;
    __s64 val;
    __s32 error;
    __u32 flags;
};
#endif

#ifndef SECCOMP_IOC_MAGIC
#define SECCOMP_IOC_MAGIC '!'
#endif
#ifndef SECCOMP_IOCTL_NOTIF_RECV
#define SECCOMP_IOCTL_NOTIF_RECV \
    _IOWR(SECCOMP_IOC_MAGIC, 0, struct seccomp_notif)
#define SECCOMP_IOCTL_NOTIF_SEND \
    _IOWR(SECCOMP_IOC_MAGIC, 1, struct seccomp_notif_resp)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_ID_VALID
#define SECCOMP_IOCTL_NOTIF_ID_VALID _IOW(SECCOMP_IOC_MAGIC, 2, __u64)
#endif

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

#ifndef SECCOMP_ADDFD_FLAG_SETFD
#define SECCOMP_ADDFD_FLAG_SETFD (1UL << 0)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_ADDFD
/* Named apart from the kernel's struct so that a header that has the
 * struct but not the ioctl number cannot clash with it. */
struct scn_notif_addfd {
    __u64 id;
    __u32 flags;
    __u32 srcfd;
    __u32 newfd;
    __u32 newfd_flags;
};
#define SCN_ADDFD_STRUCT struct scn_notif_addfd
#define SECCOMP_IOCTL_NOTIF_ADDFD \
    _IOW(SECCOMP_IOC_MAGIC, 3, struct scn_notif_addfd)
#else
#define SCN_ADDFD_STRUCT struct seccomp_notif_addfd
#endif

typedef struct {
    PyTypeObject *notification_type;
    /* Exception classes from seccompx._errors. */
    PyObject *NotifyError;
    PyObject *TargetGoneError;
    PyObject *UnsupportedError;
    PyObject *InvalidArgumentError;
    /* The kernel's structure sizes, or all zero when the kernel does not
     * report them (before Linux 5.0, or seccomp disabled). */
    struct seccomp_notif_sizes sizes;
    int sizes_errno;
} scn_state;

scn_state *scn_get_state(PyObject *module);
PyObject *scn_raise(PyObject *cls, int err, const char *format, ...);

/* listener.c */
PyObject *scn_receive(PyObject *module, PyObject *arg);
PyObject *scn_respond(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *scn_id_valid(PyObject *module, PyObject *args);
PyObject *scn_addfd(PyObject *module, PyObject *args, PyObject *kwargs);

/* install.c */
PyObject *scn_install_listener(PyObject *module, PyObject *args,
                               PyObject *kwargs);

#endif
