/*
 * _floor.load(bpf, flags): the least a Python extension can do to load a
 * finished BPF program, prctl(PR_SET_NO_NEW_PRIVS) and seccomp(2) with no
 * checks.  benchmarks/run.py builds it and compares Program.load with it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static PyObject *
floor_load(PyObject *module, PyObject *args)
{
    struct sock_fprog program;
    unsigned int flags;
    Py_buffer code;
    long rc = -1;
    int saved_errno = 0;

    if (!PyArg_ParseTuple(args, "y*I:load", &code, &flags))
        return NULL;
    program.len = (unsigned short)(code.len / sizeof(struct sock_filter));
    program.filter = code.buf;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
        rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
    saved_errno = errno;
    PyBuffer_Release(&code);

    if (rc < 0) {
        errno = saved_errno;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyMethodDef floor_methods[] = {
    {"load", floor_load, METH_VARARGS, "load(bpf, flags): load a program."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot floor_slots[] = {
    {0, NULL},
};

static struct PyModuleDef floor_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_floor",
    .m_size = 0,
    .m_methods = floor_methods,
    .m_slots = floor_slots,
};

PyMODINIT_FUNC
PyInit__floor(void)
{
    return PyModuleDef_Init(&floor_module);
}
