/*
 * seccompx._core.Context: one libseccomp filter context.
 *
 * Every method takes the object's lock before touching ctx or the rule
 * store, so that a filter shared between threads is never used by two
 * libseccomp calls at once, even on a free-threaded build.  No Python code
 * runs while the lock is held: arguments are parsed before the lock is
 * taken, and exceptions and warnings are raised after it is released.
 * That keeps a callback (an __index__, a warning filter, a repr) from
 * re-entering the filter and deadlocking on its own lock.
 */
#include "core.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "structmember.h"

/* Python 3.9's structmember.h names this flag READ_RESTRICTED only. */
#ifndef PY_AUDIT_READ
#define PY_AUDIT_READ READ_RESTRICTED
#endif

static int filter_clear(scx_filter *self);

scx_state *
scx_filter_state(scx_filter *self)
{
    return scx_state_from_type(Py_TYPE(self));
}

#ifdef Py_GIL_DISABLED
/* Take the lock.  PyMutex_Lock() detaches the thread state while it
 * waits, as Py_BEGIN_ALLOW_THREADS would. */
void
scx_lock(scx_filter *self)
{
    PyMutex_Lock(&self->lock);
}

void
scx_unlock(scx_filter *self)
{
    PyMutex_Unlock(&self->lock);
}
#else
/*
 * Take the lock.  No code of this module releases the GIL while it holds
 * the lock, so with the GIL the first attempt always succeeds.  The loop
 * keeps the lock correct should that change: it waits without the GIL,
 * yielding the CPU, until the holder lets go.
 */
void
scx_lock(scx_filter *self)
{
    int unlocked = 0;

    while (!__atomic_compare_exchange_n(&self->locked, &unlocked, 1, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        Py_BEGIN_ALLOW_THREADS
        sched_yield();
        Py_END_ALLOW_THREADS
        unlocked = 0;
    }
}

void
scx_unlock(scx_filter *self)
{
    __atomic_store_n(&self->locked, 0, __ATOMIC_RELEASE);
}
#endif

static PyObject *
raise_not_open(scx_filter *self, int state)
{
    scx_state *st = scx_filter_state(self);

    switch (state) {
    case SCX_STATE_NEW:
        return scx_raise(st->FilterStateError, EBADF,
                         "this %s was never initialised: create it by "
                         "calling the class, and make a subclass's "
                         "__init__ call super().__init__(default)",
                         Py_TYPE(self)->tp_name);
    case SCX_STATE_MERGED:
        return scx_raise(st->FilterStateError, EBADF,
                         "the filter is closed: merge() moved its rules "
                         "into another filter; use that filter instead");
    default:
        return scx_raise(st->FilterStateError, EBADF,
                         "the filter is closed; create a new "
                         "seccompx.Filter");
    }
}

/* Take the lock; fail with FilterStateError if the filter is not open. */
int
scx_enter(scx_filter *self)
{
    int state;

    scx_lock(self);
    state = self->state;
    if (state == SCX_STATE_OPEN)
        return 0;
    scx_unlock(self);
    raise_not_open(self, state);
    return -1;
}

/* With the lock held: refuse to load or export a partial batch. */
int
scx_check_usable(scx_filter *self, const char *what)
{
    if (self->broken) {
        scx_raise(scx_filter_state(self)->FilterStateError, EINVAL,
                  "cannot %s: an earlier add_rules() call failed part way, "
                  "so the filter holds only some of its rules; reset() it "
                  "and add the rules again", what);
        return -1;
    }
    return 0;
}

static void
filter_reset_arches(scx_filter *self)
{
    self->arches[0] = seccomp_arch_native();
    self->narches = 1;
}

static void
filter_forget_rules(scx_filter *self)
{
    free(self->rules);
    self->rules = NULL;
    self->nrules = 0;
    self->rules_capacity = 0;
    free(self->priorities);
    self->priorities = NULL;
    self->npriorities = 0;
    self->priorities_capacity = 0;
    self->mixed_rules = 0;
    self->generation++;
}

/* tp_alloc zeroes the object, which leaves it unlocked and in
 * SCX_STATE_NEW. */
static PyObject *
filter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    return type->tp_alloc(type, 0);
}

/*
 * seccomp_init() returns NULL both when memory runs out and when the
 * running libseccomp does not support the action at its API level.
 */
static void
raise_init_failure(scx_state *st, uint32_t action)
{
    unsigned int needed = scx_action_api_level(action);
    unsigned int level = seccomp_api_get();
    char name[32];

    scx_format_action(action, name, sizeof(name));
    if (needed > level) {
        scx_raise(st->UnsupportedError, EOPNOTSUPP,
                  "default action %s needs libseccomp API level %u, but "
                  "the level is %u: the kernel lacks the action or "
                  "seccompx.set_api_level() lowered the level", name,
                  needed, level);
        return;
    }
    scx_raise(st->UnsupportedError, EOPNOTSUPP,
              "libseccomp cannot create a filter with default action %s "
              "(seccomp_init() failed at API level %u)", name, level);
}

static int
filter_init(scx_filter *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"default", NULL};
    scx_state *st = scx_filter_state(self);
    PyObject *action_obj;
    uint32_t action;
    scmp_filter_ctx ctx;
    int state;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Context", keywords,
                                     &action_obj))
        return -1;
    if (scx_check_action(st, action_obj, &action) < 0)
        return -1;

    scx_lock(self);
    state = self->state;
    ctx = NULL;
    if (state == SCX_STATE_NEW) {
        ctx = seccomp_init(action);
        if (ctx != NULL) {
            self->ctx = ctx;
            self->state = SCX_STATE_OPEN;
            filter_reset_arches(self);
        }
    }
    scx_unlock(self);

    if (state == SCX_STATE_OPEN) {
        scx_raise(st->FilterStateError, EBUSY,
                  "the filter is already initialised; use reset()");
        return -1;
    }
    if (state != SCX_STATE_NEW) {
        raise_not_open(self, state);
        return -1;
    }
    if (ctx == NULL) {
        /* Tell a missing feature apart from exhausted memory. */
        scmp_filter_ctx probe = seccomp_init(SCMP_ACT_ALLOW);

        if (probe == NULL)
            PyErr_NoMemory();
        else {
            seccomp_release(probe);
            raise_init_failure(st, action);
        }
        return -1;
    }
    return 0;
}

/* Fast construction ------------------------------------------------------ */

/* Whether the type's attributes are unchanged since its version tag was
 * version.  PyType_Modified() zeroes the tag from CPython 3.12 on, and
 * before that clears Py_TPFLAGS_VALID_VERSION_TAG.  Tags are not
 * reused. */
static int
type_unchanged(PyTypeObject *type, unsigned int version)
{
    if (version == 0 || type->tp_version_tag != version)
        return 0;
#if PY_VERSION_HEX < 0x030C0000
    return (type->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) != 0;
#else
    return 1;
#endif
}

/* Return the offset of the slot that contains an Action's _value, and set
 * *version to the type's version tag.  Returns 0 when reading the slot
 * could differ from getattr(action, "_value"). */
static Py_ssize_t
find_value_slot(scx_state *st, PyTypeObject *type, unsigned int *version)
{
    PyObject *descriptor;
    PyMemberDef *member;

    *version = 0;
    if (type->tp_getattro != PyObject_GenericGetAttr)
        return 0;
    /* Borrowed; the lookup also gives the type a version tag. */
    descriptor = _PyType_Lookup(type, st->str_value);
    if (descriptor == NULL || !Py_IS_TYPE(descriptor, &PyMemberDescr_Type))
        return 0;
    member = ((PyMemberDescrObject *)descriptor)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & PY_AUDIT_READ)
        || member->offset <= 0)
        return 0;
    if (!type_unchanged(type, type->tp_version_tag))
        return 0;
    *version = type->tp_version_tag;
    return member->offset;
}

/* Return action's _value as a borrowed reference read from its slot, or
 * NULL, with no exception set, when only PyObject_GetAttr() can read it.
 * Taking no reference matters in a freshly forked child, where getattr
 * writes to the int, the descriptor and the type cache. */
PyObject *
scx_peek_action_value(const scx_defaults *d, PyObject *action)
{
    PyTypeObject *type = Py_TYPE(action);

    if (d->value_offset == 0 || (PyObject *)type != d->action_type
        || !type_unchanged(type, d->value_version))
        return NULL;
    return *(PyObject **)((char *)action + d->value_offset);
}

/*
 * _set_defaults(action_type, available, kinds, level, bad_arch, tsync,
 * epoch): record the secure defaults seccompx._filter computed.  kinds is
 * a tuple of the action kinds the kernel lists, or None when it is
 * unknown.  epoch is what _defaults_epoch() returned before available was
 * read: when _forget_defaults() ran since, available may be stale, so
 * nothing is recorded and the next Filter() computes the defaults again.
 */
PyObject *
scx_set_defaults(PyObject *module, PyObject *args)
{
    scx_state *st = scx_get_state(module);
    PyObject *action_type, *available, *kinds;
    PyObject *old_available = NULL, *old_type = NULL;
    unsigned int level, bad_arch;
    unsigned long epoch;
    int tsync;
    scx_defaults fresh;
    Py_ssize_t i;

    if (!PyArg_ParseTuple(args, "O!OOIIpk:_set_defaults", &PyType_Type,
                          &action_type, &available, &kinds, &level,
                          &bad_arch, &tsync, &epoch))
        return NULL;
    memset(&fresh, 0, sizeof(fresh));
    if (kinds != Py_None) {
        if (!PyTuple_Check(kinds) || PyTuple_GET_SIZE(kinds) > SCX_MAX_KINDS) {
            PyErr_Format(PyExc_TypeError, "kinds must be a tuple of at most "
                         "%d ints or None", SCX_MAX_KINDS);
            return NULL;
        }
        for (i = 0; i < PyTuple_GET_SIZE(kinds); i++) {
            unsigned long kind = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(kinds, i));

            if (kind == (unsigned long)-1 && PyErr_Occurred())
                return NULL;
            fresh.kinds[i] = (uint32_t)kind & SCX_KIND_MASK;
        }
        fresh.nkinds = (int)PyTuple_GET_SIZE(kinds);
        fresh.kinds_known = 1;
    }
    fresh.ready = 1;
    fresh.level = level;
    fresh.bad_arch = bad_arch;
    fresh.tsync = tsync;
    Py_INCREF(available);
    fresh.available = available;
    Py_INCREF(action_type);
    fresh.action_type = action_type;
    fresh.value_offset = find_value_slot(st, (PyTypeObject *)action_type,
                                         &fresh.value_version);

    SCX_LOCK_DEFAULTS(st);
    if (epoch == st->defaults_epoch) {
        old_available = st->defaults.available;
        old_type = st->defaults.action_type;
        st->defaults = fresh;
    }
    else {
        old_available = fresh.available;
        old_type = fresh.action_type;
    }
    SCX_UNLOCK_DEFAULTS(st);
    Py_XDECREF(old_available);
    Py_XDECREF(old_type);
    Py_RETURN_NONE;
}

/* _forget_defaults(): make the fast paths leave Filter() to the package
 * until _set_defaults() records the defaults again. */
PyObject *
scx_forget_defaults(PyObject *module, PyObject *unused)
{
    scx_state *st = scx_get_state(module);

    SCX_LOCK_DEFAULTS(st);
    st->defaults.ready = 0;
    st->defaults_epoch++;
    SCX_UNLOCK_DEFAULTS(st);
    Py_RETURN_NONE;
}

/* _defaults_epoch() -> int: the value _set_defaults() takes. */
PyObject *
scx_get_defaults_epoch(PyObject *module, PyObject *unused)
{
    scx_state *st = scx_get_state(module);
    unsigned long epoch;

    SCX_LOCK_DEFAULTS(st);
    epoch = st->defaults_epoch;
    SCX_UNLOCK_DEFAULTS(st);
    return PyLong_FromUnsignedLong(epoch);
}

/* Copy the recorded defaults. */
void
scx_get_defaults(scx_state *st, scx_defaults *out)
{
    SCX_LOCK_DEFAULTS(st);
    *out = st->defaults;
    SCX_UNLOCK_DEFAULTS(st);
}

/* Whether the kernel lists the kind of action; true when the recorded
 * defaults have no list. */
int
scx_kind_listed(const scx_defaults *d, uint32_t action)
{
    int i;

    if (!d->kinds_known)
        return 1;
    for (i = 0; i < d->nkinds; i++) {
        if (d->kinds[i] == (action & SCX_KIND_MASK))
            return 1;
    }
    return 0;
}

/* With the filter's lock held: a context with the secure defaults, or
 * NULL. */
static scmp_filter_ctx
secure_context(uint32_t action, const scx_defaults *d, long optimize)
{
    scmp_filter_ctx ctx = seccomp_init(action);

    if (ctx == NULL)
        return NULL;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, d->bad_arch) < 0
        || seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1) < 0
        || (d->tsync && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
        || (optimize != 0
            && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE,
                                (uint32_t)optimize) < 0)) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

/* Return a new reference to a member, or NULL without an exception when
 * it is unset. */
PyObject *
scx_get_member(scx_filter *self, PyObject **slot)
{
    PyObject *value;

    SCX_BEGIN_MEMBERS(self)
    value = *slot;
    Py_XINCREF(value);
    SCX_END_MEMBERS
    return value;
}

void
scx_set_member(scx_filter *self, PyObject **slot, PyObject *value)
{
    PyObject *old;

    Py_INCREF(value);
    SCX_BEGIN_MEMBERS(self)
    old = *slot;
    *slot = value;
    SCX_END_MEMBERS
    Py_XDECREF(old);
}

/* Set *value to the _value of a seccompx.Action and return 1, or return 0
 * with no exception set when it is missing or not a 32-bit int. */
static int
read_action_value(scx_state *st, const scx_defaults *d, PyObject *action,
                  uint32_t *value)
{
    PyObject *value_obj = scx_peek_action_value(d, action);
    unsigned long number = (unsigned long)-1;

    if (value_obj != NULL) {
        if (PyLong_Check(value_obj))
            number = PyLong_AsUnsignedLong(value_obj);
    }
    else {
        value_obj = PyObject_GetAttr(action, st->str_value);
        if (value_obj != NULL && PyLong_Check(value_obj))
            number = PyLong_AsUnsignedLong(value_obj);
        Py_XDECREF(value_obj);
    }
    if (number == (unsigned long)-1 || number > 0xffffffffUL) {
        PyErr_Clear();
        return 0;
    }
    *value = (uint32_t)number;
    return 1;
}

/*
 * Initialise the filter as Filter(action, optimize=optimize) does with
 * every other keyword at its default, in one call; optimize is None, 1 or
 * 2.  Returns 1 when done, or -1 with an exception set.  Returns 0,
 * changing nothing, in three cases: the defaults were not recorded for
 * this API level and list of kernel actions, action is not a
 * seccompx.Action the kernel lists, or a call fails.  The caller then takes the general path,
 * which raises the precise error.  available is actions_available()'s
 * result, which must be the one the defaults were recorded for, or NULL
 * to trust the record, which _forget_defaults() drops when the result may
 * change.  _init_default(action, available, optimize) -> bool is the same
 * for Python.
 */
int
scx_init_default(scx_filter *self, PyObject *action, PyObject *available,
                 PyObject *optimize_obj)
{
    scx_state *st = scx_filter_state(self);
    scx_defaults d;
    PyObject *recorded, *descriptor;
    int i;
    uint32_t value;
    long optimize = 0;
    scmp_filter_ctx ctx = NULL;

    if (optimize_obj != Py_None) {
        /* Other values take the general path, which explains them. */
        if (!PyLong_CheckExact(optimize_obj))
            return 0;
        optimize = PyLong_AsLong(optimize_obj);
        if (optimize != 1 && optimize != 2) {
            PyErr_Clear();
            return 0;
        }
    }
    scx_get_defaults(st, &d);
    /* Identity is enough: the objects stay referenced by the module state
     * and by the caller for the duration of the call. */
    if (!d.ready || (available != NULL && d.available != available)
        || (PyObject *)Py_TYPE(action) != d.action_type
        || d.level != seccomp_api_get())
        return 0;
    /* A subclass that defines one of the members itself would read its own
     * value while this sets the member, and one with its own __setattr__
     * would not see the members set, so both take the general path, which
     * sets them as attributes. */
    if (Py_TYPE(self)->tp_setattro != PyObject_GenericSetAttr)
        return 0;
    for (i = 0; i < SCX_NMEMBERS; i++) {
        /* A borrowed lookup through the type's cache: taking a reference
         * would write to each descriptor, a page fault in a fresh child. */
        descriptor = _PyType_Lookup(Py_TYPE(self), st->member_names[i]);
        if (descriptor != st->member_descriptors[i])
            return 0;
    }
    if (!read_action_value(st, &d, action, &value))
        return 0;
    if (!scx_kind_listed(&d, value))
        return 0;
    recorded = PyList_New(0);
    if (recorded == NULL)
        return -1;

    scx_lock(self);
    if (self->state == SCX_STATE_NEW) {
        ctx = secure_context(value, &d, optimize);
        if (ctx != NULL) {
            self->ctx = ctx;
            self->state = SCX_STATE_OPEN;
            filter_reset_arches(self);
        }
    }
    scx_unlock(self);

    if (ctx == NULL) {
        Py_DECREF(recorded);
        return 0;
    }
    scx_set_member(self, &self->strict, Py_False);
    scx_set_member(self, &self->used, Py_False);
    scx_set_member(self, &self->recorded, recorded);
    Py_DECREF(recorded);
    scx_set_member(self, &self->profile_report, Py_None);
    return 1;
}


static PyObject *
filter_init_default(scx_filter *self, PyObject *const *args, Py_ssize_t nargs)
{
    int done;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "_init_default() takes an action, a value of "
                        "actions_available() and an optimize level");
        return NULL;
    }
    done = scx_init_default(self, args[0], args[1], args[2]);
    if (done < 0)
        return NULL;
    return PyBool_FromLong(done);
}

static void
filter_dealloc(scx_filter *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    /* First, while the object is whole: dropping a member may run code. */
    filter_clear(self);
    if (self->ctx != NULL)
        seccomp_release(self->ctx);
    self->ctx = NULL;
    free(self->rules);
    self->rules = NULL;
    free(self->priorities);
    self->priorities = NULL;
    type->tp_free(self);
    Py_DECREF(type);
}

static int
filter_traverse(scx_filter *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->strict);
    Py_VISIT(self->used);
    Py_VISIT(self->recorded);
    Py_VISIT(self->profile_report);
    return 0;
}

static int
filter_clear(scx_filter *self)
{
    Py_CLEAR(self->strict);
    Py_CLEAR(self->used);
    Py_CLEAR(self->recorded);
    Py_CLEAR(self->profile_report);
    return 0;
}

static PyObject *
filter_close(scx_filter *self, PyObject *unused)
{
    scx_lock(self);
    if (self->ctx != NULL) {
        seccomp_release(self->ctx);
        self->ctx = NULL;
    }
    if (self->state == SCX_STATE_OPEN)
        self->state = SCX_STATE_CLOSED;
    filter_forget_rules(self);
    scx_unlock(self);
    Py_RETURN_NONE;
}

static PyObject *
filter_reset(scx_filter *self, PyObject *action_obj)
{
    scx_state *st = scx_filter_state(self);
    uint32_t action;
    int rc;

    if (scx_check_action(st, action_obj, &action) < 0)
        return NULL;
    if (scx_enter(self) < 0)
        return NULL;
    rc = seccomp_reset(self->ctx, action);
    if (rc == 0) {
        filter_reset_arches(self);
        filter_forget_rules(self);
        self->loaded = 0;
        self->exported = 0;
        self->broken = 0;
    }
    scx_unlock(self);

    if (rc == -EINVAL) {
        char name[32];

        scx_format_action(action, name, sizeof(name));
        return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                         "libseccomp rejected %s as the default action at "
                         "API level %u", name, seccomp_api_get());
    }
    if (rc < 0)
        return scx_raise_libseccomp(st, rc, "seccomp_reset()");
    Py_RETURN_NONE;
}

/* Attributes ------------------------------------------------------------- */

/* Attribute names as seccompx.Attr spells them, indexed by the
 * SCMP_FLTATR_* value. */
static const char *const attr_names[] = {
    NULL, "DEFAULT_ACTION", "BAD_ARCH_ACTION", "NO_NEW_PRIVS", "TSYNC",
    "TSKIP", "LOG", "SSB", "OPTIMIZE", "RAW_RC", "WAIT_KILL",
};

/* Write an attribute's name, or its number if it has none, for messages. */
static void
format_attr(enum scmp_filter_attr attr, char *buffer, size_t size)
{
    size_t count = sizeof(attr_names) / sizeof(attr_names[0]);

    if ((size_t)attr < count && attr_names[attr] != NULL)
        snprintf(buffer, size, "%s", attr_names[attr]);
    else
        snprintf(buffer, size, "%d", (int)attr);
}

static int
parse_attr(scx_state *st, PyObject *obj, enum scmp_filter_attr *attr)
{
    long value;

    if (scx_parse_bounded(st, obj, "filter attribute", _SCMP_FLTATR_MIN + 1,
                          _SCMP_FLTATR_MAX - 1, &value) < 0)
        return -1;
    *attr = (enum scmp_filter_attr)value;
    return 0;
}

static PyObject *
filter_get_attr(scx_filter *self, PyObject *attr_obj)
{
    scx_state *st = scx_filter_state(self);
    enum scmp_filter_attr attr;
    uint32_t value = 0;
    char attr_text[32];
    int rc;

    if (parse_attr(st, attr_obj, &attr) < 0)
        return NULL;
    if (scx_enter(self) < 0)
        return NULL;
    rc = seccomp_attr_get(self->ctx, attr, &value);
    scx_unlock(self);

    format_attr(attr, attr_text, sizeof(attr_text));
    if (rc == -EOPNOTSUPP || rc == -EINVAL)
        return scx_raise(st->UnsupportedError, -rc,
                         "attribute %s is not supported by the running "
                         "libseccomp at API level %u", attr_text,
                         seccomp_api_get());
    if (rc < 0)
        return scx_raise_libseccomp(st, rc, "seccomp_attr_get()");
    return PyLong_FromUnsignedLong(value);
}

static int
parse_attr_value(scx_state *st, enum scmp_filter_attr attr, PyObject *obj,
                 uint32_t *value)
{
    unsigned long long number;
    char attr_text[32];

    format_attr(attr, attr_text, sizeof(attr_text));
    /* bool is accepted: the flag attributes take True and False. */
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "attribute %s value must be an int, not %.100s %.80R",
                     attr_text, Py_TYPE(obj)->tp_name, obj);
        return -1;
    }
    number = PyLong_AsUnsignedLongLong(obj);
    if (number == (unsigned long long)-1 && PyErr_Occurred())
        PyErr_Clear();
    else if (number <= 0xffffffffULL) {
        *value = (uint32_t)number;
        return 0;
    }
    scx_raise(st->InvalidArgumentError, EINVAL,
              "attribute %s value %R is out of range: it must be between 0 "
              "and 0xffffffff", attr_text, obj);
    return -1;
}

static PyObject *
raise_attr_set_failure(scx_state *st, enum scmp_filter_attr attr,
                       uint32_t value, int rc)
{
    char attr_text[32];

    if (attr == SCMP_FLTATR_ACT_DEFAULT)
        return scx_raise(st->InvalidArgumentError, EACCES,
                         "the default action cannot be changed after "
                         "creation; use reset(default)");
    format_attr(attr, attr_text, sizeof(attr_text));
    if (rc == -EOPNOTSUPP)
        return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                         "attribute %s is not supported by the running "
                         "libseccomp and kernel (API level %u)", attr_text,
                         seccomp_api_get());
    if (attr == SCMP_FLTATR_ACT_BADARCH && rc == -EINVAL) {
        char name[32];

        scx_format_action(value, name, sizeof(name));
        return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                         "libseccomp rejected %s as the bad-architecture "
                         "action; it needs API level %u and the level is "
                         "%u", name, scx_action_api_level(value),
                         seccomp_api_get());
    }
    if (attr == SCMP_FLTATR_CTL_TSYNC && rc == -EINVAL)
        return scx_raise(st->UnsupportedError, EOPNOTSUPP,
                         "tsync cannot be combined with NOTIFY rules at "
                         "libseccomp API level %u; the kernel must support "
                         "SECCOMP_FILTER_FLAG_TSYNC_ESRCH (API level 6)",
                         seccomp_api_get());
    if (rc == -EACCES)
        return scx_raise(st->InvalidArgumentError, EACCES,
                         "attribute %s value %lu conflicts with the "
                         "filter's rules or default action", attr_text,
                         (unsigned long)value);
    return scx_raise(st->InvalidArgumentError, -rc,
                     "libseccomp rejected value %lu for attribute %s (%s)",
                     (unsigned long)value, attr_text, strerror(-rc));
}

static PyObject *
filter_set_attr(scx_filter *self, PyObject *args)
{
    scx_state *st = scx_filter_state(self);
    PyObject *attr_obj, *value_obj;
    enum scmp_filter_attr attr;
    uint32_t value;
    int rc;

    if (!PyArg_ParseTuple(args, "OO:set_attr", &attr_obj, &value_obj))
        return NULL;
    if (parse_attr(st, attr_obj, &attr) < 0)
        return NULL;
    if (parse_attr_value(st, attr, value_obj, &value) < 0)
        return NULL;
    if (attr == SCMP_FLTATR_ACT_BADARCH
        && scx_check_action(st, value_obj, &value) < 0)
        return NULL;
    if (scx_enter(self) < 0)
        return NULL;
    rc = seccomp_attr_set(self->ctx, attr, value);
    scx_unlock(self);

    if (rc < 0)
        return raise_attr_set_failure(st, attr, value, rc);
    Py_RETURN_NONE;
}

/* Getters ---------------------------------------------------------------- */

static PyObject *
filter_get_closed(scx_filter *self, void *closure)
{
    int closed;

    scx_lock(self);
    closed = self->state != SCX_STATE_OPEN;
    scx_unlock(self);
    return PyBool_FromLong(closed);
}

static PyObject *
filter_get_initialised(scx_filter *self, void *closure)
{
    int initialised;

    scx_lock(self);
    initialised = self->state != SCX_STATE_NEW;
    scx_unlock(self);
    return PyBool_FromLong(initialised);
}

static PyObject *
filter_get_loaded(scx_filter *self, void *closure)
{
    int loaded;

    scx_lock(self);
    loaded = self->loaded;
    scx_unlock(self);
    return PyBool_FromLong(loaded);
}

static PyObject *
filter_get_exported(scx_filter *self, void *closure)
{
    int exported;

    scx_lock(self);
    exported = self->exported;
    scx_unlock(self);
    return PyBool_FromLong(exported);
}

static PyObject *
filter_get_rule_count(scx_filter *self, void *closure)
{
    Py_ssize_t count;

    scx_lock(self);
    count = self->nrules;
    scx_unlock(self);
    return PyLong_FromSsize_t(count);
}

static PyObject *
filter_get_broken(scx_filter *self, void *closure)
{
    int broken;

    scx_lock(self);
    broken = self->broken;
    scx_unlock(self);
    return PyBool_FromLong(broken);
}

static PyMethodDef filter_methods[] = {
    {"close", (PyCFunction)filter_close, METH_NOARGS,
     "Release the libseccomp context.  Safe to call more than once."},
    {"_reset", (PyCFunction)filter_reset, METH_O, NULL},
    {"_add_rule", (PyCFunction)(void (*)(void))scx_filter_add_rule,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_add_rules", (PyCFunction)(void (*)(void))scx_filter_add_rules,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_add_arch", (PyCFunction)(void (*)(void))scx_filter_add_arch,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_remove_arch", (PyCFunction)scx_filter_remove_arch, METH_O, NULL},
    {"_has_arch", (PyCFunction)scx_filter_has_arch, METH_O, NULL},
    {"_get_attr", (PyCFunction)filter_get_attr, METH_O, NULL},
    {"_set_attr", (PyCFunction)filter_set_attr, METH_VARARGS, NULL},
    {"_syscall_priority", (PyCFunction)scx_filter_syscall_priority,
     METH_VARARGS, NULL},
    {"_merge", (PyCFunction)scx_filter_merge, METH_O, NULL},
    {"_load", (PyCFunction)scx_filter_load, METH_NOARGS,
     "Load the filter; return None or the positive errno of the failure."},
    {"_load_plain", (PyCFunction)scx_filter_load_plain, METH_NOARGS,
     "As _load(), but NotImplemented, loading nothing, when the filter "
     "has a NOTIFY action."},
    {"_init_default", (PyCFunction)(void (*)(void))filter_init_default,
     METH_FASTCALL, NULL},
    {"_add_same", (PyCFunction)(void (*)(void))scx_filter_add_same,
     METH_FASTCALL, NULL},
    {"_add_rules_plain",
     (PyCFunction)(void (*)(void))scx_filter_add_rules_plain, METH_FASTCALL,
     NULL},
    {"_export_pfc", (PyCFunction)scx_filter_export_pfc, METH_NOARGS, NULL},
    {"_export_bpf", (PyCFunction)scx_filter_export_bpf, METH_NOARGS, NULL},
    {"_export_fd", (PyCFunction)scx_filter_export_fd, METH_VARARGS, NULL},
    {"_notify_fd", (PyCFunction)scx_filter_notify_fd, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* strict is a getset rather than a plain member so that setting it
 * checks the value as Filter(strict=) does.  The C fast paths still read
 * the slot directly, through scx_get_member(). */
static PyObject *
filter_get_strict(scx_filter *self, void *Py_UNUSED(closure))
{
    PyObject *value = scx_get_member(self, &self->strict);

    /* Unset only on a filter whose __init__ never ran. */
    if (value == NULL)
        Py_RETURN_NONE;
    return value;
}

static int
filter_set_strict(scx_filter *self, PyObject *value,
                  void *Py_UNUSED(closure))
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError,
                        "cannot delete strict: set it to True or False");
        return -1;
    }
    if (!PyBool_Check(value)) {
        PyErr_Format(PyExc_TypeError, "strict must be True or False, not %R",
                     value);
        return -1;
    }
    scx_set_member(self, &self->strict, value);
    return 0;
}

static PyGetSetDef filter_getset[] = {
    {"strict", (getter)filter_get_strict, (setter)filter_set_strict,
     "Whether rules that cannot match on some architecture raise instead "
     "of warning: True or False.", NULL},
    {"closed", (getter)filter_get_closed, NULL,
     "True once the libseccomp context is released.", NULL},
    {"loaded", (getter)filter_get_loaded, NULL,
     "True once the filter is loaded into this process.", NULL},
    {"exported", (getter)filter_get_exported, NULL,
     "True once the filter was exported or compiled.", NULL},
    {"rule_count", (getter)filter_get_rule_count, NULL,
     "Rules added since the filter was created or reset.", NULL},
    {"broken", (getter)filter_get_broken, NULL,
     "True after add_rules() failed part way; reset() clears it.", NULL},
    {"_arch_tokens", (getter)scx_filter_get_arches, NULL, NULL, NULL},
    {"_initialised", (getter)filter_get_initialised, NULL,
     "False until __init__ created the libseccomp context.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef filter_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(scx_filter, weakreflist),
     READONLY, NULL},
    {"_used", T_OBJECT, offsetof(scx_filter, used), 0, NULL},
    {"_rules", T_OBJECT, offsetof(scx_filter, recorded), 0, NULL},
    {"profile_report", T_OBJECT, offsetof(scx_filter, profile_report), 0,
     "What Filter.from_profile() did with its profile, or None."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot filter_slots[] = {
    {Py_tp_new, filter_new},
    {Py_tp_init, filter_init},
    {Py_tp_dealloc, filter_dealloc},
    {Py_tp_traverse, filter_traverse},
    {Py_tp_clear, filter_clear},
    {Py_tp_methods, filter_methods},
    {Py_tp_getset, filter_getset},
    {Py_tp_members, filter_members},
    {Py_tp_doc, "Context(default)\n\nA libseccomp filter context.  Use "
                "seccompx.Filter, which builds on this type."},
    {0, NULL},
};

PyType_Spec scx_filter_spec = {
    .name = "seccompx._core.Context",
    .basicsize = sizeof(scx_filter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = filter_slots,
};
