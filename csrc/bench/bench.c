/*
 * seccompx._bench: a C loop that times one syscall, for the per-syscall
 * cost of a loaded filter.  Timing the loop from Python would add the
 * interpreter's own cost to every call, which is far larger than the
 * filter's.  The clock is CLOCK_MONOTONIC, which the vDSO reads without a
 * syscall, so the loop works under filters that deny clock_gettime.
 *
 * The module needs no state, so it defines none; it still uses multi-phase
 * init so that it works in subinterpreters.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int64_t
monotonic_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/*
 * Call syscall `number` with arguments (arg0, 0, 0, 0, 0, 0) `iterations`
 * times.  The result of each call is ignored, because a syscall that the
 * filter fails with an errno has still run the filter.
 */
static int64_t
time_syscall_loop(long number, long arg0, long long iterations)
{
    int64_t start, end;
    long long i;

    start = monotonic_ns();
    for (i = 0; i < iterations; i++)
        syscall(number, arg0, 0L, 0L, 0L, 0L, 0L);
    end = monotonic_ns();
    return end - start;
}

PyDoc_STRVAR(syscall_loop_doc,
"syscall_loop(number, iterations, arg0=0)\n"
"--\n"
"\n"
"Call syscall `number` `iterations` times with first argument `arg0` and\n"
"the other five arguments 0, and return the elapsed time in nanoseconds\n"
"(CLOCK_MONOTONIC).  Return values and errno are ignored.  The GIL is\n"
"released during the loop.  Choose a syscall that is harmless with these\n"
"arguments, such as getppid.");

static PyObject *
bench_syscall_loop(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"number", "iterations", "arg0", NULL};
    long number, arg0 = 0;
    long long iterations;
    int64_t elapsed;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "lL|l:syscall_loop",
                                     keywords, &number, &iterations, &arg0))
        return NULL;
    if (number < 0) {
        PyErr_Format(PyExc_ValueError,
                     "syscall number %ld is negative; pass the number of a "
                     "syscall on the native architecture", number);
        return NULL;
    }
    if (iterations < 0) {
        PyErr_Format(PyExc_ValueError,
                     "iterations %lld is negative; pass 0 or more",
                     iterations);
        return NULL;
    }

    Py_BEGIN_ALLOW_THREADS
    elapsed = time_syscall_loop(number, arg0, iterations);
    Py_END_ALLOW_THREADS

    return PyLong_FromLongLong((long long)elapsed);
}

static PyMethodDef bench_methods[] = {
    {"syscall_loop", (PyCFunction)(void (*)(void))bench_syscall_loop,
     METH_VARARGS | METH_KEYWORDS, syscall_loop_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot bench_slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef bench_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "seccompx._bench",
    .m_doc = "A timed syscall loop for seccompx's benchmarks.",
    .m_size = 0,
    .m_methods = bench_methods,
    .m_slots = bench_slots,
};

PyMODINIT_FUNC
PyInit__bench(void)
{
    return PyModuleDef_Init(&bench_module);
}
