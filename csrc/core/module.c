/*
 * seccompx._core: the module object, its state and its constants.
 */
#include "core.h"

#include <errno.h>

scx_state *
scx_get_state(PyObject *module)
{
    return (scx_state *)PyModule_GetState(module);
}

static struct PyModuleDef core_module;

/* Find the module state from a (possibly subclassed) filter type. */
scx_state *
scx_state_from_type(PyTypeObject *type)
{
    PyObject *module = NULL;
#if PY_VERSION_HEX >= 0x030B0000
    module = PyType_GetModuleByDef(type, &core_module);
#else
    /* Python 3.9 and 3.10 lack PyType_GetModuleByDef: walk the MRO for the
     * heap type this module created. */
    PyObject *mro = type->tp_mro;
    Py_ssize_t i;

    for (i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        PyObject *candidate;

        if (!(base->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
        candidate = PyType_GetModule(base);
        if (candidate == NULL) {
            PyErr_Clear();
            continue;
        }
        if (PyModule_GetDef(candidate) == &core_module) {
            module = candidate;
            break;
        }
    }
#endif
    if (module == NULL) {
        /* Only reachable if the type was created outside this module. */
        Py_FatalError("seccompx._core: filter type without module state");
    }
    return scx_get_state(module);
}

static int
load_error_classes(scx_state *st)
{
    PyObject *errors = PyImport_ImportModule("seccompx._errors");

    if (errors == NULL)
        return -1;
#define LOAD(name) \
    if ((st->name = PyObject_GetAttrString(errors, #name)) == NULL) \
        goto error
    LOAD(SeccompError);
    LOAD(InvalidArgumentError);
    LOAD(UnknownSyscallError);
    LOAD(ArchitectureError);
    LOAD(UnsupportedError);
    LOAD(FilterStateError);
    LOAD(LoadError);
    LOAD(UnmatchableRuleWarning);
    LOAD(TruncatedValueWarning);
    LOAD(unknown_syscall);
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
    ADD("BUILD_VERSION_MAJOR", SCMP_VER_MAJOR);
    ADD("BUILD_VERSION_MINOR", SCMP_VER_MINOR);
    ADD("BUILD_VERSION_MICRO", SCMP_VER_MICRO);
#ifdef SECCOMPX_STATIC_LIBSECCOMP
    ADD("STATIC_LIBSECCOMP", 1);
#else
    ADD("STATIC_LIBSECCOMP", 0);
#endif
    ADD("ATTR_MAX", _SCMP_FLTATR_MAX);
#undef ADD
    return 0;
}

/* Intern the attribute names that entry.c looks up. */
static int
intern_names(scx_state *st)
{
#define INTERN(field, text) \
    if ((st->field = PyUnicode_InternFromString(text)) == NULL) \
        return -1
    INTERN(str_strict, "strict");
    INTERN(str_optimize, "optimize");
    INTERN(str_init_general, "_init_general");
    INTERN(str_add_checked, "_add_checked");
    INTERN(str_add_rules_general, "_add_rules_general");
    INTERN(str_load_general, "_load_general");
    INTERN(str_load_error, "_load_error");
#undef INTERN
    return 0;
}

static int
core_exec(PyObject *module)
{
    scx_state *st = scx_get_state(module);
    PyObject *bases;

    if (load_error_classes(st) < 0)
        return -1;
    st->str_value = PyUnicode_InternFromString("_value");
    if (st->str_value == NULL)
        return -1;
    if (intern_names(st) < 0)
        return -1;
    st->allow_value = PyLong_FromUnsignedLong(SCMP_ACT_ALLOW);
    if (st->allow_value == NULL)
        return -1;
    st->filter_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &scx_filter_spec, NULL);
    if (st->filter_type == NULL)
        return -1;
    Py_INCREF(st->filter_type);
    if (PyModule_AddObject(module, "Context",
                           (PyObject *)st->filter_type) < 0) {
        Py_DECREF(st->filter_type);
        return -1;
    }
    /* Python 3.9 takes the bases only as a tuple. */
    bases = PyTuple_Pack(1, (PyObject *)st->filter_type);
    if (bases == NULL)
        return -1;
    st->filter_base_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &scx_filter_base_spec, bases);
    Py_DECREF(bases);
    if (st->filter_base_type == NULL)
        return -1;
    Py_INCREF(st->filter_base_type);
    if (PyModule_AddObject(module, "FilterBase",
                           (PyObject *)st->filter_base_type) < 0) {
        Py_DECREF(st->filter_base_type);
        return -1;
    }
    {
        static const char *const names[SCX_NMEMBERS] = {
            "strict", "_used", "_rules", "profile_report",
        };
        int i;

        for (i = 0; i < SCX_NMEMBERS; i++) {
            st->member_names[i] = PyUnicode_InternFromString(names[i]);
            if (st->member_names[i] == NULL)
                return -1;
            st->member_descriptors[i] = PyObject_GetAttr(
                (PyObject *)st->filter_type, st->member_names[i]);
            if (st->member_descriptors[i] == NULL)
                return -1;
        }
    }
    return add_constants(module);
}

static int
core_traverse(PyObject *module, visitproc visit, void *arg)
{
    scx_state *st = scx_get_state(module);
    int i;

    Py_VISIT(st->filter_type);
    Py_VISIT(st->filter_base_type);
    Py_VISIT(st->SeccompError);
    Py_VISIT(st->InvalidArgumentError);
    Py_VISIT(st->UnknownSyscallError);
    Py_VISIT(st->ArchitectureError);
    Py_VISIT(st->UnsupportedError);
    Py_VISIT(st->FilterStateError);
    Py_VISIT(st->LoadError);
    Py_VISIT(st->UnmatchableRuleWarning);
    Py_VISIT(st->TruncatedValueWarning);
    Py_VISIT(st->unknown_syscall);
    Py_VISIT(st->defaults.available);
    Py_VISIT(st->defaults.action_type);
    Py_VISIT(st->str_strict);
    Py_VISIT(st->str_optimize);
    Py_VISIT(st->str_init_general);
    Py_VISIT(st->str_add_checked);
    Py_VISIT(st->str_add_rules_general);
    Py_VISIT(st->str_load_general);
    Py_VISIT(st->str_load_error);
    Py_VISIT(st->allow_value);
    Py_VISIT(st->str_value);
    for (i = 0; i < SCX_NMEMBERS; i++) {
        Py_VISIT(st->member_names[i]);
        Py_VISIT(st->member_descriptors[i]);
    }
    return 0;
}

static int
core_clear(PyObject *module)
{
    scx_state *st = scx_get_state(module);
    int i;

    Py_CLEAR(st->filter_type);
    Py_CLEAR(st->filter_base_type);
    Py_CLEAR(st->SeccompError);
    Py_CLEAR(st->InvalidArgumentError);
    Py_CLEAR(st->UnknownSyscallError);
    Py_CLEAR(st->ArchitectureError);
    Py_CLEAR(st->UnsupportedError);
    Py_CLEAR(st->FilterStateError);
    Py_CLEAR(st->LoadError);
    Py_CLEAR(st->UnmatchableRuleWarning);
    Py_CLEAR(st->TruncatedValueWarning);
    Py_CLEAR(st->unknown_syscall);
    st->defaults.ready = 0;
    Py_CLEAR(st->defaults.available);
    Py_CLEAR(st->defaults.action_type);
    Py_CLEAR(st->str_strict);
    Py_CLEAR(st->str_optimize);
    Py_CLEAR(st->str_init_general);
    Py_CLEAR(st->str_add_checked);
    Py_CLEAR(st->str_add_rules_general);
    Py_CLEAR(st->str_load_general);
    Py_CLEAR(st->str_load_error);
    Py_CLEAR(st->allow_value);
    Py_CLEAR(st->str_value);
    for (i = 0; i < SCX_NMEMBERS; i++) {
        Py_CLEAR(st->member_names[i]);
        Py_CLEAR(st->member_descriptors[i]);
    }
    return 0;
}

static void
core_free(void *module)
{
    core_clear((PyObject *)module);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    /* Each filter's lock guards all of its state, and the secure
     * defaults, the one part of the module state written after exec,
     * have a PyMutex of their own on this build.  NOTE: no free-threaded CPython was
     * available to run the thread tests against this declaration. */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "seccompx._core",
    .m_doc = "Low-level bindings to libseccomp.  Use the seccompx package.",
    .m_size = sizeof(scx_state),
    .m_methods = NULL,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    core_module.m_methods = scx_resolve_methods;
    return PyModuleDef_Init(&core_module);
}
