/*
 * seccompx._bpf: the module object, its state and its constants.
 */
#include "bpf.h"

#include <errno.h>

scx_bpf_state *
scx_bpf_get_state(PyObject *module)
{
    return (scx_bpf_state *)PyModule_GetState(module);
}

static int
load_error_classes(scx_bpf_state *st)
{
    PyObject *errors = PyImport_ImportModule("seccompx._errors");

    if (errors == NULL)
        return -1;
    st->ProgramError = PyObject_GetAttrString(errors, "ProgramError");
    if (st->ProgramError == NULL)
        goto error;
    st->InvalidArgumentError = PyObject_GetAttrString(
        errors, "InvalidArgumentError");
    if (st->InvalidArgumentError == NULL)
        goto error;
    st->SeccompError = PyObject_GetAttrString(errors, "SeccompError");
    if (st->SeccompError == NULL)
        goto error;
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
    ADD("MAX_INSNS", SCX_BPF_MAX_INSNS);
    ADD("MEMWORDS", SCX_BPF_MEMWORDS);
    ADD("SECCOMP_DATA_SIZE", sizeof(struct seccomp_data));
    ADD("FLAG_TSYNC", 1UL << 0);
    ADD("FLAG_LOG", 1UL << 1);
    ADD("FLAG_SPEC_ALLOW", 1UL << 2);
    ADD("FLAG_NEW_LISTENER", 1UL << 3);
    ADD("FLAG_TSYNC_ESRCH", 1UL << 4);
    ADD("FLAG_WAIT_KILLABLE_RECV", 1UL << 5);
    /* Which step of load() failed, passed to the Python error factory. */
    ADD("STAGE_NO_NEW_PRIVS", 1);
    ADD("STAGE_SECCOMP", 2);
    ADD("STAGE_TSYNC", 3);
#undef ADD
    return 0;
}

static int
bpf_exec(PyObject *module)
{
    scx_bpf_state *st = scx_bpf_get_state(module);

    if (load_error_classes(st) < 0)
        return -1;
    st->program_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &scx_bpf_program_spec, NULL);
    if (st->program_type == NULL)
        return -1;
    Py_INCREF(st->program_type);
    if (PyModule_AddObject(module, "ProgramBase",
                           (PyObject *)st->program_type) < 0) {
        Py_DECREF(st->program_type);
        return -1;
    }
    return add_constants(module);
}

static int
bpf_traverse(PyObject *module, visitproc visit, void *arg)
{
    scx_bpf_state *st = scx_bpf_get_state(module);

    Py_VISIT(st->ProgramError);
    Py_VISIT(st->InvalidArgumentError);
    Py_VISIT(st->SeccompError);
    Py_VISIT(st->program_type);
    return 0;
}

static int
bpf_clear(PyObject *module)
{
    scx_bpf_state *st = scx_bpf_get_state(module);

    Py_CLEAR(st->ProgramError);
    Py_CLEAR(st->InvalidArgumentError);
    Py_CLEAR(st->SeccompError);
    Py_CLEAR(st->program_type);
    return 0;
}

static void
bpf_free(void *module)
{
    bpf_clear((PyObject *)module);
}

static PyMethodDef bpf_methods[] = {
    {"check", (PyCFunction)scx_bpf_check_py, METH_O,
     "check(program: bytes) -> None\n\n"
     "Raise ProgramError if the kernel would reject the program."},
    {"run", (PyCFunction)(void (*)(void))scx_bpf_run_py, METH_FASTCALL,
     "run(program, nr, arch, instruction_pointer, args) -> (value, index)\n\n"
     "Check the program, then run it on one struct seccomp_data.  args is "
     "a tuple of six unsigned 64-bit ints.  Returns the 32-bit return "
     "value and the index of the instruction that returned it."},
    {"load", (PyCFunction)(void (*)(void))scx_bpf_load_py, METH_FASTCALL,
     "load(program, flags, no_new_privs) -> int\n\n"
     "Set PR_SET_NO_NEW_PRIVS if no_new_privs is true, then install the "
     "program with seccomp(SECCOMP_SET_MODE_FILTER, flags).  Returns what "
     "seccomp(2) returned: 0, or the listener fd with FLAG_NEW_LISTENER."},
    {"get_filters", (PyCFunction)scx_bpf_get_filters_py, METH_O,
     "get_filters(pid: int) -> list[bytes]\n\n"
     "Attach to pid with ptrace, read its filters with "
     "PTRACE_SECCOMP_GET_FILTER (the first installed first), then "
     "detach.  Raises "
     "OSError whose filename is the ptrace request that failed."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot bpf_slots[] = {
    {Py_mod_exec, bpf_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef bpf_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "seccompx._bpf",
    .m_doc = "Raw seccomp programs: check, run, load and read them.  "
             "Use seccompx.Program.",
    .m_size = sizeof(scx_bpf_state),
    .m_methods = bpf_methods,
    .m_slots = bpf_slots,
    .m_traverse = bpf_traverse,
    .m_clear = bpf_clear,
    .m_free = bpf_free,
};

PyMODINIT_FUNC
PyInit__bpf(void)
{
    return PyModuleDef_Init(&bpf_module);
}
