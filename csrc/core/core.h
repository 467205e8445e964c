/*
 * Shared declarations of the seccompx._core extension module.
 *
 * The module keeps all of its state in a per-module struct (PEP 489
 * multi-phase init, PEP 573 heap types); there are no mutable globals.
 */
#ifndef SECCOMPX_CORE_H
#define SECCOMPX_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <seccomp.h>
#include <stdint.h>

/* Largest number of architectures one filter may hold.  libseccomp knows
 * fewer than 30, so this never limits a real filter. */
#define SCX_MAX_ARCHES 32
/* Syscalls take at most six arguments. */
#define SCX_MAX_ARGS 6

#define SCX_LIBSECCOMP_2_6 \
    (SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6))

/* Action kinds (SECCOMP_RET_ACTION_FULL) that carry 16 bits of data. */
#define SCX_KIND_ERRNO 0x00050000U
#define SCX_KIND_TRACE 0x7ff00000U
#define SCX_KIND_MASK 0xffff0000U
/* libseccomp rejects ERRNO data of 4095 and above. */
#define SCX_MAX_ERRNO 4094

/* How a rule that cannot be enforced as written on some architecture of
 * the filter is treated: a warning, an exception, or nothing. */
enum scx_missing_mode {
    SCX_MISSING_WARN = 0,
    SCX_MISSING_RAISE = 1,
    SCX_MISSING_IGNORE = 2,
};

/* Life cycle of a filter object. */
enum scx_filter_state {
    SCX_STATE_NEW = 0,          /* allocated, __init__ not run yet */
    SCX_STATE_OPEN,             /* holds a libseccomp context */
    SCX_STATE_CLOSED,           /* close() released the context */
    SCX_STATE_MERGED,           /* merge() moved the context elsewhere */
};

/* strict, _used, _rules and profile_report: see scx_filter.  The type's
 * attribute for each is a member descriptor, except for strict, whose
 * getset descriptor checks the value it sets. */
#define SCX_NMEMBERS 4
/* The index of strict in scx_state's member_names and member_descriptors. */
#define SCX_MEMBER_STRICT 0

/* Reading and writing the members of scx_filter: under the object's
 * critical section on a free-threaded build, as the member descriptors
 * do. */
#ifdef Py_GIL_DISABLED
#define SCX_BEGIN_MEMBERS(self) Py_BEGIN_CRITICAL_SECTION(self)
#define SCX_END_MEMBERS Py_END_CRITICAL_SECTION()
#else
#define SCX_BEGIN_MEMBERS(self) {
#define SCX_END_MEMBERS }
#endif

/* Lock scx_state's defaults.  With the GIL they need no lock, because
 * the copies in and out never release the GIL.  A lock would also cost a
 * page fault in every forked child, because a PyThread lock keeps its
 * semaphore in malloc'd memory.  A free-threaded build (CPython 3.13 and
 * later) takes a PyMutex inside the module state instead. */
#ifdef Py_GIL_DISABLED
#define SCX_LOCK_DEFAULTS(st) PyMutex_Lock(&(st)->defaults_lock)
#define SCX_UNLOCK_DEFAULTS(st) PyMutex_Unlock(&(st)->defaults_lock)
#else
#define SCX_LOCK_DEFAULTS(st) ((void)(st))
#define SCX_UNLOCK_DEFAULTS(st) ((void)(st))
#endif

/* Most action kinds the kernel can list in actions_avail. */
#define SCX_MAX_KINDS 16

/*
 * What Filter(default) with every keyword at its default sets, computed by
 * seccompx._filter and handed to the module, so that the common
 * constructor runs as one C call.  It holds only while the libseccomp API
 * level and the package's list of kernel actions are the ones it was
 * computed for.  actions_available.cache_clear() calls
 * _forget_defaults(), so the fast paths need not call
 * actions_available() to see that its result changed.
 */
typedef struct {
    int ready;
    unsigned int level;         /* seccomp_api_get() when computed */
    PyObject *available;        /* actions_available()'s result, or None */
    PyObject *action_type;      /* seccompx.Action */
    /* The offset of the slot that contains an Action's _value, and
     * action_type's version tag when the offset was read.  Both are 0
     * when _value is not a plain slot. */
    Py_ssize_t value_offset;
    unsigned int value_version;
    int kinds_known;            /* 0: the kernel's list is unknown */
    int nkinds;
    uint32_t kinds[SCX_MAX_KINDS];
    uint32_t bad_arch;
    int tsync;
} scx_defaults;

typedef struct {
    PyTypeObject *filter_type;
    PyTypeObject *filter_base_type;     /* FilterBase, seccompx.Filter's base */
    /* Exception and warning classes from seccompx._errors. */
    PyObject *SeccompError;
    PyObject *InvalidArgumentError;
    PyObject *UnknownSyscallError;
    PyObject *ArchitectureError;
    PyObject *UnsupportedError;
    PyObject *FilterStateError;
    PyObject *LoadError;
    PyObject *UnmatchableRuleWarning;
    PyObject *TruncatedValueWarning;
    /* seccompx._errors.unknown_syscall, the factory that adds
     * suggestions. */
    PyObject *unknown_syscall;
    /* The secure defaults for Filter(default), as the package computed
     * them.  See SCX_LOCK_DEFAULTS for what guards them. */
#ifdef Py_GIL_DISABLED
    PyMutex defaults_lock;
#endif
    scx_defaults defaults;
    /* Bumped by _forget_defaults(); _set_defaults() records nothing when
     * the value it was given is older. */
    unsigned long defaults_epoch;
    PyObject *str_value;        /* "_value", the slot of seccompx.Action */
    /* Names that the one-call entry points of entry.c look up. */
    PyObject *str_strict;
    PyObject *str_optimize;
    PyObject *str_init_general;
    PyObject *str_add_checked;
    PyObject *str_add_rules_general;
    PyObject *str_load_general;
    PyObject *str_load_error;
    PyObject *allow_value;      /* int(seccompx.ALLOW) */
    /* The names and member descriptors of Context's Python-visible
     * members, which a subclass may override. */
    PyObject *member_names[SCX_NMEMBERS];
    PyObject *member_descriptors[SCX_NMEMBERS];
} scx_state;

/*
 * One rule as seccompx added it.  The filter keeps every rule so that an
 * architecture added later gets the same rules, and so that conflicting
 * rules are found before libseccomp silently keeps only one of them.
 * Comparisons are sorted by argument index.
 *
 * The rule store, the priorities and rule batches come from malloc, not
 * PyMem_Malloc, so that a static build's allocator (csrc/heap) keeps them
 * beside libseccomp's own blocks when they fit in its largest class,
 * 64 KiB (about 400 rules).
 */
typedef struct {
    uint32_t action;
    int nr;                     /* native number or libseccomp pseudo number */
    unsigned int count;
    int exact;
    struct scmp_arg_cmp cmps[SCX_MAX_ARGS];
} scx_rule;

typedef struct {
    int nr;
    uint8_t priority;
} scx_priority;

typedef struct {
    PyObject_HEAD
    scmp_filter_ctx ctx;        /* NULL unless state is SCX_STATE_OPEN */
    /* Serialises every use of the fields below.  It lives inside the
     * object, which tp_alloc zeroes to the unlocked state, so that taking
     * it in a forked child writes to no page but the object's. */
#ifdef Py_GIL_DISABLED
    PyMutex lock;
#else
    int locked;                 /* 1 while a thread holds the lock */
#endif
    int state;
    uint32_t arches[SCX_MAX_ARCHES];
    int narches;
    scx_rule *rules;
    Py_ssize_t nrules;
    Py_ssize_t rules_capacity;
    scx_priority *priorities;
    Py_ssize_t npriorities;
    Py_ssize_t priorities_capacity;
    /* Bumped by every change to the rules or architectures, so that a
     * check done before the lock was dropped can be redone. */
    unsigned long generation;
    int loaded;                 /* seccomp_load succeeded */
    int exported;               /* exported or compiled at least once */
    int broken;                 /* a batch of rules failed part way */
    int mixed_rules;            /* rules came from merging two filters */
    PyObject *weakreflist;
    /* Attributes of seccompx.Filter kept here so that the fast paths set
     * them without an instance dictionary: strict, _used, _rules (the
     * rules as given, or None) and profile_report. */
    PyObject *strict;
    PyObject *used;
    PyObject *recorded;
    PyObject *profile_report;
} scx_filter;

scx_state *scx_get_state(PyObject *module);
scx_state *scx_state_from_type(PyTypeObject *type);

/* errors.c */
PyObject *scx_raise(PyObject *cls, int err, const char *format, ...);
PyObject *scx_raise_unknown_syscall(scx_state *st, PyObject *syscall,
                                    uint32_t arch, const char *format, ...);
PyObject *scx_raise_libseccomp(scx_state *st, int rc, const char *what);
PyObject *scx_chain_error(PyObject *cls, int err, const char *format, ...);
const char *scx_arch_name(uint32_t token);
int scx_arch_is_32bit(uint32_t token);
int scx_arch_is_big_endian(uint32_t token);
void scx_format_action(uint32_t action, char *buffer, size_t size);
void scx_format_rule(const scx_rule *rule, char *buffer, size_t size);
unsigned int scx_action_api_level(uint32_t action);

/* filter.c */
extern PyType_Spec scx_filter_spec;
scx_state *scx_filter_state(scx_filter *self);
void scx_lock(scx_filter *self);
void scx_unlock(scx_filter *self);
int scx_enter(scx_filter *self);
int scx_check_usable(scx_filter *self, const char *what);
PyObject *scx_set_defaults(PyObject *module, PyObject *args);
PyObject *scx_forget_defaults(PyObject *module, PyObject *unused);
PyObject *scx_enable_vectorcall(PyObject *module, PyObject *cls);
PyObject *scx_get_defaults_epoch(PyObject *module, PyObject *unused);
void scx_get_defaults(scx_state *st, scx_defaults *out);
int scx_kind_listed(const scx_defaults *d, uint32_t action);
PyObject *scx_peek_action_value(const scx_defaults *d, PyObject *action);
PyObject *scx_get_member(scx_filter *self, PyObject **slot);
int scx_init_default(scx_filter *self, PyObject *action, PyObject *available,
                     PyObject *optimize);

/* entry.c */
extern PyType_Spec scx_filter_base_spec;
void scx_set_member(scx_filter *self, PyObject **slot, PyObject *value);

/* rules.c */
int scx_parse_mode(scx_state *st, PyObject *obj, int *mode);
int scx_reserve_rules(scx_filter *self, Py_ssize_t extra);
int scx_find_arch(scx_filter *self, uint32_t token);
int scx_syscall_missing(uint32_t arch, int nr, int *untranslatable);
int scx_rule_is_wide(const scx_rule *rule);
Py_ssize_t scx_find_stored_conflict(scx_filter *self, Py_ssize_t *other);
PyObject *scx_filter_add_rule(scx_filter *self, PyObject *args,
                              PyObject *kwargs);
PyObject *scx_filter_add_rules(scx_filter *self, PyObject *args,
                               PyObject *kwargs);
PyObject *scx_filter_add_same(scx_filter *self, PyObject *const *args,
                              Py_ssize_t nargs);
PyObject *scx_filter_add_rules_plain(scx_filter *self, PyObject *const *args,
                                     Py_ssize_t nargs);
PyObject *scx_add_rules_plain(scx_filter *self, PyObject *rules,
                              PyObject *strict, PyObject *available);
PyObject *scx_filter_syscall_priority(scx_filter *self, PyObject *args);

/* arches.c */
PyObject *scx_filter_add_arch(scx_filter *self, PyObject *args,
                              PyObject *kwargs);
PyObject *scx_filter_remove_arch(scx_filter *self, PyObject *arch_obj);
PyObject *scx_filter_has_arch(scx_filter *self, PyObject *arch_obj);
PyObject *scx_filter_get_arches(scx_filter *self, void *closure);

/* load.c */
PyObject *scx_filter_merge(scx_filter *self, PyObject *other_obj);
PyObject *scx_filter_load(scx_filter *self, PyObject *unused);
PyObject *scx_filter_load_plain(scx_filter *self, PyObject *unused);
PyObject *scx_filter_export_pfc(scx_filter *self, PyObject *unused);
PyObject *scx_filter_export_bpf(scx_filter *self, PyObject *unused);
PyObject *scx_filter_export_fd(scx_filter *self, PyObject *args);
PyObject *scx_filter_notify_fd(scx_filter *self, PyObject *unused);
int scx_copy_attrs(scmp_filter_ctx from, scmp_filter_ctx to);
int scx_transactions_available(void);
int scx_transaction_start(scmp_filter_ctx ctx);
int scx_transaction_commit(scmp_filter_ctx ctx);
void scx_transaction_reject(scmp_filter_ctx ctx);

/* values.c */
int scx_comparisons_intersect(const struct scmp_arg_cmp *first,
                              const struct scmp_arg_cmp *second,
                              uint64_t *witness);
uint64_t scx_value_matching(const struct scmp_arg_cmp *cmp);
PyObject *scx_comparisons_intersect_py(PyObject *module, PyObject *args);

/* resolve.c */
int scx_parse_arch(scx_state *st, PyObject *obj, uint32_t *token);
int scx_resolve_syscall(scx_state *st, PyObject *obj, uint32_t arch,
                        int *number);
unsigned long long scx_long_as_u64(PyObject *obj);
int scx_check_action(scx_state *st, PyObject *obj, uint32_t *action);
int scx_parse_bounded(scx_state *st, PyObject *obj, const char *what,
                      long low, long high, long *out);
extern PyMethodDef scx_resolve_methods[];

#endif
