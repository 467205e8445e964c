/*
 * Classic BPF seccomp programs: checking a buffer, evaluating a program
 * for one syscall, and loading it with seccomp(2).
 */
#include "sandbox.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's limit on one program (BPF_MAXINSNS). */
#define SBX_MAX_INSNS 4096

static PyObject *
raise_program_error(PyObject *module, Py_ssize_t index, const char *format,
                    ...)
{
    sbx_state *st = sbx_get_state(module);
    PyObject *message, *error;
    va_list vargs;

    va_start(vargs, format);
    message = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    if (message == NULL)
        return NULL;
    if (index < 0)
        error = PyObject_CallFunction(st->ProgramError, "O", message);
    else
        error = PyObject_CallFunction(st->ProgramError, "On", message,
                                      index);
    Py_DECREF(message);
    if (error == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return NULL;
}

/*
 * Borrow the instructions of a bytes-like program.  On success the caller
 * owns view and must release it.
 */
int
sbx_get_program(PyObject *module, Py_buffer *view, struct sock_fprog *prog)
{
    if (PyObject_GetBuffer(view->obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len == 0 || view->len % sizeof(struct sock_filter) != 0
        || view->len / (Py_ssize_t)sizeof(struct sock_filter)
               > SBX_MAX_INSNS) {
        raise_program_error(
            module, -1,
            "a BPF program of %zd bytes is invalid: it must hold 1 to %d "
            "instructions of %zu bytes each", view->len, SBX_MAX_INSNS,
            sizeof(struct sock_filter));
        PyBuffer_Release(view);
        return -1;
    }
    prog->len = (unsigned short)(view->len / sizeof(struct sock_filter));
    prog->filter = (struct sock_filter *)view->buf;
    return 0;
}

/* Apply a BPF_ALU operation; returns -1 for an unknown one. */
static int
alu(uint16_t op, uint32_t *a, uint32_t operand, int *divided_by_zero)
{
    switch (op) {
    case BPF_ADD: *a += operand; return 0;
    case BPF_SUB: *a -= operand; return 0;
    case BPF_MUL: *a *= operand; return 0;
    case BPF_OR: *a |= operand; return 0;
    case BPF_AND: *a &= operand; return 0;
    case BPF_XOR: *a ^= operand; return 0;
    case BPF_LSH: *a <<= (operand & 31); return 0;
    case BPF_RSH: *a >>= (operand & 31); return 0;
    case BPF_NEG: *a = -*a; return 0;
    case BPF_DIV:
    case BPF_MOD:
        /* The kernel ends the program with return value 0 here. */
        if (operand == 0) {
            *divided_by_zero = 1;
            return 0;
        }
        *a = op == BPF_DIV ? *a / operand : *a % operand;
        return 0;
    default:
        return -1;
    }
}

/* Decide a conditional jump; returns -1 for an unknown test. */
static int
jump_taken(uint16_t op, uint32_t a, uint32_t operand)
{
    switch (op) {
    case BPF_JEQ: return a == operand;
    case BPF_JGT: return a > operand;
    case BPF_JGE: return a >= operand;
    case BPF_JSET: return (a & operand) != 0;
    default: return -1;
    }
}

/* The registers and scratch memory of the classic BPF machine. */
struct machine {
    uint32_t a;
    uint32_t x;
    uint32_t mem[BPF_MEMWORDS];
};

/* Run a BPF_LD, BPF_LDX, BPF_ST or BPF_STX instruction. */
static int
move(struct machine *m, const struct sock_filter *insn,
     const struct seccomp_data *data)
{
    uint32_t k = insn->k;

    switch (insn->code) {
    case BPF_LD | BPF_W | BPF_ABS:
        /* seccomp accepts only aligned words inside seccomp_data. */
        if (k >= sizeof(*data) || k % 4 != 0)
            return -1;
        memcpy(&m->a, (const char *)data + k, sizeof(m->a));
        return 0;
    case BPF_LD | BPF_W | BPF_LEN: m->a = sizeof(*data); return 0;
    case BPF_LDX | BPF_W | BPF_LEN: m->x = sizeof(*data); return 0;
    case BPF_LD | BPF_IMM: m->a = k; return 0;
    case BPF_LDX | BPF_IMM: m->x = k; return 0;
    }
    if (k >= BPF_MEMWORDS)
        return -1;
    switch (insn->code) {
    case BPF_LD | BPF_MEM: m->a = m->mem[k]; return 0;
    case BPF_LDX | BPF_MEM: m->x = m->mem[k]; return 0;
    case BPF_ST: m->mem[k] = m->a; return 0;
    case BPF_STX: m->mem[k] = m->x; return 0;
    default: return -1;
    }
}

/* Advance *pc past a BPF_JMP instruction. */
static int
jump(const struct machine *m, const struct sock_filter *insn, size_t *pc,
     size_t len)
{
    uint32_t operand = BPF_SRC(insn->code) == BPF_X ? m->x : insn->k;
    int taken;

    if (BPF_OP(insn->code) == BPF_JA) {
        if (insn->k >= len - *pc)
            return -1;
        *pc += insn->k;
        return 0;
    }
    taken = jump_taken(BPF_OP(insn->code), m->a, operand);
    if (taken < 0)
        return -1;
    *pc += taken ? insn->jt : insn->jf;
    return *pc < len ? 0 : -1;
}

/*
 * Run prog on data the way the kernel would, and store the action in
 * *result.  Returns 0, or -1 with *bad_index set for an instruction that
 * seccomp does not accept or a jump past the end.
 */
int
sbx_evaluate(const struct sock_fprog *prog, const struct seccomp_data *data,
             uint32_t *result, size_t *bad_index)
{
    struct machine m;
    size_t pc = 0, len = prog->len;

    memset(&m, 0, sizeof(m));
    while (pc < len) {
        const struct sock_filter *insn = &prog->filter[pc];
        uint16_t code = insn->code;
        int zero = 0, rc = 0;

        *bad_index = pc++;
        switch (BPF_CLASS(code)) {
        case BPF_LD:
        case BPF_LDX:
        case BPF_ST:
        case BPF_STX:
            rc = move(&m, insn, data);
            break;
        case BPF_ALU:
            rc = alu(BPF_OP(code), &m.a,
                     BPF_SRC(code) == BPF_X ? m.x : insn->k, &zero);
            if (rc == 0 && zero) {
                *result = 0;
                return 0;
            }
            break;
        case BPF_JMP:
            rc = jump(&m, insn, &pc, len);
            break;
        case BPF_RET:
            if (BPF_RVAL(code) != BPF_K && BPF_RVAL(code) != BPF_A)
                return -1;
            *result = BPF_RVAL(code) == BPF_K ? insn->k : m.a;
            return 0;
        case BPF_MISC:
            if (BPF_MISCOP(code) == BPF_TAX)
                m.x = m.a;
            else if (BPF_MISCOP(code) == BPF_TXA)
                m.a = m.x;
            else
                rc = -1;
            break;
        default:
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    *bad_index = len;
    return -1;
}

static int
parse_args(PyObject *seq, __u64 args[6])
{
    PyObject *items = PySequence_Fast(seq, "args must be a sequence of ints");
    Py_ssize_t i, n;

    if (items == NULL)
        return -1;
    n = PySequence_Fast_GET_SIZE(items);
    if (n > 6) {
        PyErr_Format(PyExc_ValueError,
                     "a syscall has at most 6 arguments, got %zd", n);
        Py_DECREF(items);
        return -1;
    }
    for (i = 0; i < n; i++) {
        args[i] = PyLong_AsUnsignedLongLong(
            PySequence_Fast_GET_ITEM(items, i));
        if (args[i] == (uint64_t)-1 && PyErr_Occurred()) {
            Py_DECREF(items);
            return -1;
        }
    }
    Py_DECREF(items);
    return 0;
}

PyDoc_STRVAR(evaluate_doc,
"evaluate(program, nr, arch, ip=0, args=()) -> int\n\n"
"Run a BPF program on one syscall and return the 32-bit action.");

static PyObject *
sandbox_evaluate(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"program", "nr", "arch", "ip", "args", NULL};
    struct seccomp_data data;
    struct sock_fprog prog;
    Py_buffer view;
    PyObject *call_args = NULL;
    unsigned long long ip = 0;
    uint32_t action;
    size_t bad;
    int nr;
    unsigned int arch;

    memset(&data, 0, sizeof(data));
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OiI|KO:evaluate",
                                     keywords, &view.obj, &nr, &arch, &ip,
                                     &call_args))
        return NULL;
    if (call_args != NULL && parse_args(call_args, data.args) < 0)
        return NULL;
    data.nr = nr;
    data.arch = arch;
    data.instruction_pointer = ip;

    if (sbx_get_program(module, &view, &prog) < 0)
        return NULL;
    if (sbx_evaluate(&prog, &data, &action, &bad) < 0) {
        PyBuffer_Release(&view);
        return raise_program_error(
            module, (Py_ssize_t)bad,
            "instruction %zd is not valid in a seccomp program, or jumps "
            "past the end", (Py_ssize_t)bad);
    }
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(action);
}

PyDoc_STRVAR(load_doc,
"load(program, flags, no_new_privs) -> int\n\n"
"Load a BPF program into the calling process with seccomp(2).\n\n"
"Sets PR_SET_NO_NEW_PRIVS first when no_new_privs is true.  Returns 0,\n"
"or the id of the thread that could not be synchronised when flags has\n"
"SECCOMP_FILTER_FLAG_TSYNC.  Raises OSError with the kernel's errno.");

static PyObject *
sandbox_load(PyObject *module, PyObject *args)
{
    struct sock_fprog prog;
    Py_buffer view;
    unsigned int flags;
    int no_new_privs, err;
    long rc;

    if (!PyArg_ParseTuple(args, "OIp:load", &view.obj, &flags,
                          &no_new_privs))
        return NULL;
    if (sbx_get_program(module, &view, &prog) < 0)
        return NULL;

    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        err = errno;
        PyBuffer_Release(&view);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    err = errno;
    PyBuffer_Release(&view);

    if (rc < 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(rc);
}

PyMethodDef sbx_program_methods[] = {
    {"evaluate", (PyCFunction)(void (*)(void))sandbox_evaluate,
     METH_VARARGS | METH_KEYWORDS, evaluate_doc},
    {"load", sandbox_load, METH_VARARGS, load_doc},
    {NULL, NULL, 0, NULL},
};
