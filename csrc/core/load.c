/*
 * Whole-filter operations: merge, load, export, and the libseccomp 2.6
 * functions that seccompx uses when the running library has them.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * libseccomp 2.6 added transactions, which make add_rules() all or
 * nothing.  A shared build references them weakly, so one build runs on
 * 2.5 (they are NULL there) and uses them on 2.6; 2.5 headers lack the
 * prototypes.  A static build is compiled against the libseccomp it
 * links, and must not reference them weakly.  The dynamic linker would
 * bind such a reference to another libseccomp loaded in the process, and
 * hand it this copy's context.
 */
#if defined(SECCOMPX_STATIC_LIBSECCOMP) && !SCX_LIBSECCOMP_2_6
#define SCX_HAVE_TRANSACTIONS 0
#else
#define SCX_HAVE_TRANSACTIONS 1
#if !SCX_LIBSECCOMP_2_6
int seccomp_transaction_start(const scmp_filter_ctx ctx);
int seccomp_transaction_commit(const scmp_filter_ctx ctx);
void seccomp_transaction_reject(const scmp_filter_ctx ctx);
#endif
#ifndef SECCOMPX_STATIC_LIBSECCOMP
#pragma weak seccomp_transaction_start
#pragma weak seccomp_transaction_commit
#pragma weak seccomp_transaction_reject
#endif
#endif

/* NOTE: the transaction path is not exercised on libseccomp 2.5, where the
 * tests check that the fallback (marking the filter broken) is taken. */
int
scx_transactions_available(void)
{
#if SCX_HAVE_TRANSACTIONS && defined(SECCOMPX_STATIC_LIBSECCOMP)
    /* Linked from the archive, the three functions are always present. */
    return 1;
#elif SCX_HAVE_TRANSACTIONS
    return seccomp_transaction_start != NULL
           && seccomp_transaction_commit != NULL
           && seccomp_transaction_reject != NULL;
#else
    return 0;
#endif
}

/* The three calls below run only when scx_transactions_available(). */
int
scx_transaction_start(scmp_filter_ctx ctx)
{
#if SCX_HAVE_TRANSACTIONS
    return seccomp_transaction_start(ctx);
#else
    return -EOPNOTSUPP;
#endif
}

int
scx_transaction_commit(scmp_filter_ctx ctx)
{
#if SCX_HAVE_TRANSACTIONS
    return seccomp_transaction_commit(ctx);
#else
    return -EOPNOTSUPP;
#endif
}

void
scx_transaction_reject(scmp_filter_ctx ctx)
{
#if SCX_HAVE_TRANSACTIONS
    seccomp_transaction_reject(ctx);
#endif
}

/* The attributes that merge() compares and that an architecture's part
 * copies, with the names seccompx.Filter uses for them. */
static const struct {
    enum scmp_filter_attr attr;
    const char *name;
} filter_attrs[] = {
    {SCMP_FLTATR_ACT_DEFAULT, "default action"},
    {SCMP_FLTATR_ACT_BADARCH, "bad_arch"},
    {SCMP_FLTATR_CTL_NNP, "no_new_privs"},
    {SCMP_FLTATR_CTL_TSYNC, "tsync"},
    {SCMP_FLTATR_API_TSKIP, "tskip"},
    {SCMP_FLTATR_CTL_LOG, "log"},
    {SCMP_FLTATR_CTL_SSB, "ssb"},
    {SCMP_FLTATR_CTL_OPTIMIZE, "optimize"},
    {SCMP_FLTATR_API_SYSRAWRC, "raw_rc"},
#if SCX_LIBSECCOMP_2_6
    {SCMP_FLTATR_CTL_WAITKILL, "wait_kill"},
#endif
};

#define NATTRS ((int)(sizeof(filter_attrs) / sizeof(filter_attrs[0])))

/* Copy every attribute but the default action.  Returns 0 or -errno. */
int
scx_copy_attrs(scmp_filter_ctx from, scmp_filter_ctx to)
{
    uint32_t value;
    int i, rc;

    for (i = 1; i < NATTRS; i++) {
        if (seccomp_attr_get(from, filter_attrs[i].attr, &value) < 0)
            continue;           /* unknown to the running libseccomp */
        rc = seccomp_attr_set(to, filter_attrs[i].attr, value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Merge ------------------------------------------------------------------ */

/* Find an attribute whose values differ; -1 when all are equal. */
static int
differing_attr(scmp_filter_ctx a, scmp_filter_ctx b, uint32_t *value_a,
               uint32_t *value_b)
{
    int i, rc_a, rc_b;

    for (i = 0; i < NATTRS; i++) {
        *value_a = *value_b = 0;
        rc_a = seccomp_attr_get(a, filter_attrs[i].attr, value_a);
        rc_b = seccomp_attr_get(b, filter_attrs[i].attr, value_b);
        if (rc_a != rc_b || (rc_a == 0 && *value_a != *value_b))
            return i;
    }
    return -1;
}

/* Lock two filters in address order, so that a.merge(b) and b.merge(a)
 * in two threads cannot deadlock. */
static void
lock_pair(scx_filter *a, scx_filter *b)
{
    if (a < b) {
        scx_lock(a);
        scx_lock(b);
    }
    else {
        scx_lock(b);
        scx_lock(a);
    }
}

static void
unlock_pair(scx_filter *a, scx_filter *b)
{
    scx_unlock(a);
    scx_unlock(b);
}

enum merge_problem {
    MERGE_OK = 0,
    MERGE_SELF_STATE,
    MERGE_OTHER_STATE,
    MERGE_SHARED_ARCH,
    MERGE_TOO_MANY,
    MERGE_ATTR,
    MERGE_NOTIFY,
    MERGE_MEMORY,
    MERGE_LIBSECCOMP,
};

typedef struct {
    int problem;
    int state;                  /* the closed filter's state */
    uint32_t arch;              /* the shared architecture */
    int attr;                   /* index into filter_attrs */
    uint32_t value_self, value_other;
    int rc;
} merge_result;

static int
reserve_priorities(scx_filter *self, Py_ssize_t extra)
{
    Py_ssize_t wanted = self->npriorities + extra;
    scx_priority *priorities;

    if (wanted <= self->priorities_capacity)
        return 0;
    priorities = realloc(self->priorities,
                         (size_t)wanted * sizeof(scx_priority));
    if (priorities == NULL)
        return -1;
    self->priorities = priorities;
    self->priorities_capacity = wanted;
    return 0;
}

/* Whether a filter contains a rule whose action is NOTIFY. */
static int
has_notify_rule(const scx_filter *filter)
{
    Py_ssize_t i;

    for (i = 0; i < filter->nrules; i++) {
        if ((filter->rules[i].action & SCX_KIND_MASK) == SCMP_ACT_NOTIFY)
            return 1;
    }
    return 0;
}

/* With both locks held: every check before seccomp_merge(). */
static int
check_merge(scx_filter *self, scx_filter *other, merge_result *result)
{
    int i;

    if (self->state != SCX_STATE_OPEN) {
        result->state = self->state;
        return MERGE_SELF_STATE;
    }
    if (other->state != SCX_STATE_OPEN) {
        result->state = other->state;
        return MERGE_OTHER_STATE;
    }
    for (i = 0; i < other->narches; i++) {
        if (scx_find_arch(self, other->arches[i]) >= 0) {
            result->arch = other->arches[i];
            return MERGE_SHARED_ARCH;
        }
    }
    if (self->narches + other->narches > SCX_MAX_ARCHES)
        return MERGE_TOO_MANY;
    result->attr = differing_attr(self->ctx, other->ctx,
                                  &result->value_self, &result->value_other);
    if (result->attr >= 0)
        return MERGE_ATTR;
    /* libseccomp (2.5 and 2.6) requests a listener only for NOTIFY rules
     * added to the filter it loads, so other's would fail with ENOSYS.
     * The default actions are equal, as checked above. */
    if (has_notify_rule(other) && !has_notify_rule(self))
        return MERGE_NOTIFY;
    if (scx_reserve_rules(self, other->nrules) < 0
        || reserve_priorities(self, other->npriorities) < 0)
        return MERGE_MEMORY;
    return MERGE_OK;
}

/* With both locks held and the merge done: move other's bookkeeping. */
static void
absorb(scx_filter *self, scx_filter *other)
{
    memcpy(&self->arches[self->narches], other->arches,
           (size_t)other->narches * sizeof(other->arches[0]));
    self->narches += other->narches;
    if (other->nrules > 0 && self->nrules > 0)
        self->mixed_rules = 1;
    /* The stores are NULL while empty, and memcpy() must not see NULL. */
    if (other->nrules > 0)
        memcpy(&self->rules[self->nrules], other->rules,
               (size_t)other->nrules * sizeof(scx_rule));
    self->nrules += other->nrules;
    if (other->npriorities > 0)
        memcpy(&self->priorities[self->npriorities], other->priorities,
               (size_t)other->npriorities * sizeof(scx_priority));
    self->npriorities += other->npriorities;
    self->broken |= other->broken;
    self->generation++;

    other->ctx = NULL;          /* libseccomp released it */
    other->state = SCX_STATE_MERGED;
    free(other->rules);
    other->rules = NULL;
    other->nrules = other->rules_capacity = 0;
    free(other->priorities);
    other->priorities = NULL;
    other->npriorities = other->priorities_capacity = 0;
    other->generation++;
}

static PyObject *
raise_state(scx_state *st, int state, const char *which)
{
    if (state == SCX_STATE_MERGED)
        return scx_raise(st->FilterStateError, EBADF,
                         "cannot merge: %s filter is closed because it was "
                         "merged into another filter", which);
    return scx_raise(st->FilterStateError, EBADF,
                     "cannot merge: %s filter is closed", which);
}

/* Raise for an attribute that differs, showing actions by name. */
static PyObject *
raise_attr_differs(scx_state *st, const merge_result *result)
{
    enum scmp_filter_attr attr = filter_attrs[result->attr].attr;
    char value_self[32], value_other[32];

    if (attr == SCMP_FLTATR_ACT_DEFAULT || attr == SCMP_FLTATR_ACT_BADARCH) {
        scx_format_action(result->value_self, value_self, sizeof(value_self));
        scx_format_action(result->value_other, value_other,
                          sizeof(value_other));
    }
    else {
        snprintf(value_self, sizeof(value_self), "0x%x",
                 (unsigned int)result->value_self);
        snprintf(value_other, sizeof(value_other), "0x%x",
                 (unsigned int)result->value_other);
    }
    return scx_raise(st->InvalidArgumentError, EINVAL,
                     "cannot merge filters whose %s differs (%s in this "
                     "filter, %s in the other); libseccomp would keep this "
                     "filter's value, so make them equal first",
                     filter_attrs[result->attr].name, value_self,
                     value_other);
}

static PyObject *
raise_merge_problem(scx_state *st, const merge_result *result)
{
    switch (result->problem) {
    case MERGE_SELF_STATE:
        return raise_state(st, result->state, "this");
    case MERGE_OTHER_STATE:
        return raise_state(st, result->state, "the other");
    case MERGE_SHARED_ARCH:
        return scx_raise(st->ArchitectureError, EEXIST,
                         "cannot merge: both filters contain architecture "
                         "%s; remove it from one of them",
                         scx_arch_name(result->arch));
    case MERGE_TOO_MANY:
        return scx_raise(st->ArchitectureError, E2BIG,
                         "the merged filter would hold more than %d "
                         "architectures", SCX_MAX_ARCHES);
    case MERGE_ATTR:
        return raise_attr_differs(st, result);
    case MERGE_NOTIFY:
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "cannot merge: the other filter has NOTIFY rules "
                         "and this one has none, and libseccomp creates a "
                         "notification listener only for NOTIFY rules "
                         "added to the filter it loads, so those calls "
                         "would fail with ENOSYS; add a NOTIFY rule to "
                         "this filter before merging");
    case MERGE_MEMORY:
        return PyErr_NoMemory();
    default:
        if (result->rc == -EDOM || result->rc == -EEXIST)
            return scx_raise(st->ArchitectureError, -result->rc,
                             "cannot merge filters whose architectures have "
                             "different byte orders (%s)",
                             strerror(-result->rc));
        return scx_raise_libseccomp(st, result->rc, "seccomp_merge()");
    }
}

PyObject *
scx_filter_merge(scx_filter *self, PyObject *other_obj)
{
    scx_state *st = scx_filter_state(self);
    merge_result result;
    scx_filter *other;

    if (!PyObject_TypeCheck(other_obj, st->filter_type)) {
        PyErr_Format(PyExc_TypeError, "can only merge a seccompx.Filter, "
                     "not %.100s", Py_TYPE(other_obj)->tp_name);
        return NULL;
    }
    other = (scx_filter *)other_obj;
    if (other == self)
        return scx_raise(st->InvalidArgumentError, EINVAL,
                         "cannot merge a filter into itself");

    memset(&result, 0, sizeof(result));
    lock_pair(self, other);
    result.problem = check_merge(self, other, &result);
    if (result.problem == MERGE_OK) {
        result.rc = seccomp_merge(self->ctx, other->ctx);
        if (result.rc == 0)
            absorb(self, other);
        else
            result.problem = MERGE_LIBSECCOMP;
    }
    unlock_pair(self, other);

    if (result.problem != MERGE_OK)
        return raise_merge_problem(st, &result);
    Py_RETURN_NONE;
}

/* Load ------------------------------------------------------------------- */

PyObject *
scx_filter_load(scx_filter *self, PyObject *unused)
{
    scx_state *st = scx_filter_state(self);
    int rc, saved_errno, already;

    if (scx_enter(self) < 0)
        return NULL;
    if (scx_check_usable(self, "load") < 0) {
        scx_unlock(self);
        return NULL;
    }
    already = self->loaded;
    rc = 0;
    saved_errno = 0;
    if (!already) {
        errno = 0;
        rc = seccomp_load(self->ctx);
        saved_errno = errno;
        if (rc == 0)
            self->loaded = 1;
    }
    scx_unlock(self);

    if (already)
        return scx_raise(st->FilterStateError, EBUSY,
                         "the filter is already loaded in this process; "
                         "loading it again would stack a second copy");
    if (rc == 0)
        Py_RETURN_NONE;
    /* Without the raw-return-code attribute libseccomp folds kernel
     * failures into -ECANCELED; errno still contains the kernel's code. */
    if (rc == -ECANCELED && saved_errno != 0)
        rc = -saved_errno;
    return PyLong_FromLong(-rc);
}

/* With the lock held: whether the default action or a rule notifies. */
static int
has_notify_action(scx_filter *self)
{
    uint32_t action = 0;
    Py_ssize_t i;

    if (seccomp_attr_get(self->ctx, SCMP_FLTATR_ACT_DEFAULT, &action) == 0
        && (action & SCX_KIND_MASK) == SCMP_ACT_NOTIFY)
        return 1;
    for (i = 0; i < self->nrules; i++) {
        if ((self->rules[i].action & SCX_KIND_MASK) == SCMP_ACT_NOTIFY)
            return 1;
    }
    return 0;
}

/*
 * Mark the filter used and load it as _load() does, unless it has a NOTIFY
 * action: then return NotImplemented and load nothing, because the
 * package first checks for a listener libseccomp would not open twice.
 */
PyObject *
scx_filter_load_plain(scx_filter *self, PyObject *unused)
{
    int notify;

    scx_set_member(self, &self->used, Py_True);
    if (scx_enter(self) < 0)
        return NULL;
    notify = has_notify_action(self);
    scx_unlock(self);
    if (notify)
        Py_RETURN_NOTIMPLEMENTED;
    return scx_filter_load(self, NULL);
}

/* Export ----------------------------------------------------------------- */

/* Read a whole memory file from the start. */
static PyObject *
read_memory_file(int fd, int pfc)
{
    PyObject *result = NULL;
    struct stat info;
    char *buffer = NULL;
    ssize_t got;
    off_t done = 0;

    if (fstat(fd, &info) < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    buffer = PyMem_Malloc(info.st_size ? (size_t)info.st_size : 1);
    if (buffer == NULL)
        return PyErr_NoMemory();
    while (done < info.st_size) {
        got = read(fd, buffer + done, (size_t)(info.st_size - done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            goto done;
        }
        if (got == 0) {
            errno = EIO;        /* the file shrank under us */
            PyErr_SetFromErrno(PyExc_OSError);
            goto done;
        }
        done += got;
    }
    if (pfc)
        result = PyUnicode_DecodeUTF8(buffer, done, "replace");
    else
        result = PyBytes_FromStringAndSize(buffer, done);

done:
    PyMem_Free(buffer);
    return result;
}

/* With the lock held: export into a memory file and read it back. */
static PyObject *
export_to_memory(scx_filter *self, int pfc)
{
    scx_state *st = scx_filter_state(self);
    PyObject *result = NULL;
    int fd, rc, saved_errno;

    fd = memfd_create("seccompx-export", MFD_CLOEXEC);
    if (fd < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    errno = 0;
    rc = pfc ? seccomp_export_pfc(self->ctx, fd)
             : seccomp_export_bpf(self->ctx, fd);
    saved_errno = errno;
    if (rc == -ECANCELED && saved_errno != 0)
        rc = -saved_errno;
    if (rc < 0)
        scx_raise_libseccomp(st, rc, pfc ? "seccomp_export_pfc()"
                                         : "seccomp_export_bpf()");
    else
        result = read_memory_file(fd, pfc);
    close(fd);
    return result;
}

static PyObject *
filter_export(scx_filter *self, int pfc)
{
    PyObject *result;

    if (scx_enter(self) < 0)
        return NULL;
    if (scx_check_usable(self, "export") < 0) {
        scx_unlock(self);
        return NULL;
    }
    result = export_to_memory(self, pfc);
    if (result != NULL)
        self->exported = 1;
    scx_unlock(self);
    return result;
}

PyObject *
scx_filter_export_pfc(scx_filter *self, PyObject *unused)
{
    return filter_export(self, 1);
}

PyObject *
scx_filter_export_bpf(scx_filter *self, PyObject *unused)
{
    return filter_export(self, 0);
}

/* Write all of data to fd with the GIL released.  0, or an errno. */
static int
write_all(int fd, const char *data, Py_ssize_t size)
{
    Py_ssize_t done = 0;
    ssize_t written;
    int err = 0;

    Py_BEGIN_ALLOW_THREADS
    while (done < size) {
        written = write(fd, data + done, (size_t)(size - done));
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0) {
            err = errno;
            break;
        }
        done += written;
    }
    Py_END_ALLOW_THREADS
    return err;
}

/*
 * Export to a caller's descriptor.  libseccomp's own export writes once and
 * ignores a short write, so seccompx exports to memory and writes the
 * whole program itself, reporting any failure.
 */
PyObject *
scx_filter_export_fd(scx_filter *self, PyObject *args)
{
    scx_state *st = scx_filter_state(self);
    PyObject *fd_obj, *data, *bytes;
    long fd;
    int pfc, err;

    if (!PyArg_ParseTuple(args, "Op:export_fd", &fd_obj, &pfc))
        return NULL;
    if (scx_parse_bounded(st, fd_obj, "file descriptor", 0, INT32_MAX,
                          &fd) < 0)
        return NULL;
    if (fcntl((int)fd, F_GETFD) < 0)
        return scx_raise(st->InvalidArgumentError, EBADF,
                         "cannot export to file descriptor %ld: it is not "
                         "open", fd);
    data = filter_export(self, pfc);
    if (data == NULL)
        return NULL;
    if (pfc) {
        bytes = PyUnicode_AsUTF8String(data);
        Py_DECREF(data);
    }
    else
        bytes = data;
    if (bytes == NULL)
        return NULL;
    err = write_all((int)fd, PyBytes_AS_STRING(bytes),
                    PyBytes_GET_SIZE(bytes));
    Py_DECREF(bytes);

    if (err == EAGAIN || err == EWOULDBLOCK)
        return scx_raise(st->SeccompError, err,
                         "writing the filter to file descriptor %ld failed: "
                         "the descriptor is non-blocking and full, so only "
                         "part of the filter was written", fd);
    if (err == EBADF)
        return scx_raise(st->InvalidArgumentError, EBADF,
                         "cannot export to file descriptor %ld: it is not "
                         "open for writing", fd);
    if (err != 0)
        return scx_raise(st->SeccompError, err,
                         "writing the filter to file descriptor %ld failed "
                         "(%s)", fd, strerror(err));
    Py_RETURN_NONE;
}

PyObject *
scx_filter_notify_fd(scx_filter *self, PyObject *unused)
{
    scx_state *st = scx_filter_state(self);
    int fd;

    if (scx_enter(self) < 0)
        return NULL;
    fd = seccomp_notify_fd(self->ctx);
    scx_unlock(self);

    if (fd < 0)
        return scx_raise(st->SeccompError, fd == -EFAULT ? ENOENT : -fd,
                         "the filter has no notification descriptor; load "
                         "a filter with a NOTIFY rule first");
    return PyLong_FromLong(fd);
}
