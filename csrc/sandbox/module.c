/*
 * seccompx._sandbox: the module object, its state and its constants.
 */
#include "sandbox.h"

#include <linux/audit.h>
#include <signal.h>

sbx_state *
sbx_get_state(PyObject *module)
{
    return (sbx_state *)PyModule_GetState(module);
}

static int
load_error_classes(sbx_state *st)
{
    PyObject *errors = PyImport_ImportModule("seccompx._errors");

    if (errors == NULL)
        return -1;
    st->ProgramError = PyObject_GetAttrString(errors, "ProgramError");
    st->LoadError = PyObject_GetAttrString(errors, "LoadError");
    Py_DECREF(errors);
    if (st->ProgramError == NULL || st->LoadError == NULL)
        return -1;
    return 0;
}

static int
add_constants(PyObject *module)
{
#define ADD(name, value) \
    if (PyModule_AddIntConstant(module, name, (long)(value)) < 0) \
        return -1
    ADD("FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC);
    ADD("FLAG_LOG", SECCOMP_FILTER_FLAG_LOG);
    ADD("FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    ADD("SYS_SECCOMP", SYS_SECCOMP);
    ADD("EXIT_VIOLATION", SBX_EXIT_VIOLATION);
    ADD("RECORD_SIZE", sizeof(struct sbx_record));
#if defined(__x86_64__) || defined(__aarch64__) || defined(__i386__)
    ADD("HAVE_ARGS", 1);
#else
    ADD("HAVE_ARGS", 0);
#endif
#undef ADD
    return sbx_add_spawn_constants(module);
}

static int
sandbox_exec(PyObject *module)
{
    sbx_state *st = sbx_get_state(module);

    if (load_error_classes(st) < 0)
        return -1;
    st->reporter_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &sbx_reporter_spec, NULL);
    if (st->reporter_type == NULL)
        return -1;
    Py_INCREF(st->reporter_type);
    if (PyModule_AddObject(module, "Reporter",
                           (PyObject *)st->reporter_type) < 0) {
        Py_DECREF(st->reporter_type);
        return -1;
    }
    if (PyModule_AddFunctions(module, sbx_program_methods) < 0
        || PyModule_AddFunctions(module, sbx_spawn_methods) < 0)
        return -1;
    return add_constants(module);
}

static int
sandbox_traverse(PyObject *module, visitproc visit, void *arg)
{
    sbx_state *st = sbx_get_state(module);

    Py_VISIT(st->reporter_type);
    Py_VISIT(st->ProgramError);
    Py_VISIT(st->LoadError);
    return 0;
}

static int
sandbox_clear(PyObject *module)
{
    sbx_state *st = sbx_get_state(module);

    Py_CLEAR(st->reporter_type);
    Py_CLEAR(st->ProgramError);
    Py_CLEAR(st->LoadError);
    return 0;
}

static void
sandbox_free(void *module)
{
    sandbox_clear((PyObject *)module);
}

static PyModuleDef_Slot sandbox_slots[] = {
    {Py_mod_exec, sandbox_exec},
    {0, NULL},
};

static struct PyModuleDef sandbox_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "seccompx._sandbox",
    .m_doc = "Raw seccomp loading, SIGSYS reports and filtered spawning "
             "for seccompx.sandbox.",
    .m_size = sizeof(sbx_state),
    .m_methods = NULL,
    .m_slots = sandbox_slots,
    .m_traverse = sandbox_traverse,
    .m_clear = sandbox_clear,
    .m_free = sandbox_free,
};

PyMODINIT_FUNC
PyInit__sandbox(void)
{
    return PyModuleDef_Init(&sandbox_module);
}
