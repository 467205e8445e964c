/*
 * An interpreter for seccomp's subset of classic BPF.
 *
 * It computes what the kernel computes for a program that passed
 * scx_bpf_check().  The kernel converts the program to eBPF
 * (bpf_convert_filter() in net/core/filter.c), and these are the rules of
 * that conversion:
 *
 * - A and X start at 0.
 * - ALU operations are 32-bit and unsigned.
 * - A shift by X uses the low 5 bits of X.
 * - A division by an X of 0 ends the program with return value 0
 *   (SECCOMP_RET_KILL_THREAD).
 * - BPF_LEN loads sizeof(struct seccomp_data).
 * - Comparisons are unsigned and 32-bit.
 */
#include "bpf.h"

#include <errno.h>

typedef struct {
    uint32_t a;
    uint32_t x;
    uint32_t mem[SCX_BPF_MEMWORDS];
} machine;

static uint32_t
load_word(const struct seccomp_data *data, uint32_t offset)
{
    uint32_t word;

    /* The checker allows only aligned offsets inside the struct. */
    memcpy(&word, (const char *)data + offset, sizeof(word));
    return word;
}

/* Apply ALU operation op with operand b to m->a.  Returns -1 for a
 * division by zero, which ends the program. */
static int
alu(machine *m, uint16_t op, uint32_t b)
{
    switch (op) {
    case BPF_ADD: m->a += b; break;
    case BPF_SUB: m->a -= b; break;
    case BPF_MUL: m->a *= b; break;
    case BPF_DIV:
        if (b == 0)
            return -1;
        m->a /= b;
        break;
    case BPF_MOD:
        if (b == 0)
            return -1;
        m->a %= b;
        break;
    case BPF_AND: m->a &= b; break;
    case BPF_OR: m->a |= b; break;
    case BPF_XOR: m->a ^= b; break;
    case BPF_LSH: m->a <<= (b & 31); break;
    case BPF_RSH: m->a >>= (b & 31); break;
    case BPF_NEG: m->a = 0U - m->a; break;
    }
    return 0;
}

static int
jump_taken(uint16_t op, uint32_t a, uint32_t b)
{
    switch (op) {
    case BPF_JEQ: return a == b;
    case BPF_JGT: return a > b;
    case BPF_JGE: return a >= b;
    case BPF_JSET: return (a & b) != 0;
    default: return 0;
    }
}

/* Load, store and transfer instructions.  Returns 0 if insn was one. */
static int
move(machine *m, struct sock_filter insn, const struct seccomp_data *data)
{
    switch (insn.code) {
    case BPF_LD | BPF_W | BPF_ABS: m->a = load_word(data, insn.k); break;
    case BPF_LD | BPF_W | BPF_LEN: m->a = sizeof(*data); break;
    case BPF_LDX | BPF_W | BPF_LEN: m->x = sizeof(*data); break;
    case BPF_LD | BPF_IMM: m->a = insn.k; break;
    case BPF_LDX | BPF_IMM: m->x = insn.k; break;
    case BPF_LD | BPF_MEM: m->a = m->mem[insn.k]; break;
    case BPF_LDX | BPF_MEM: m->x = m->mem[insn.k]; break;
    case BPF_ST: m->mem[insn.k] = m->a; break;
    case BPF_STX: m->mem[insn.k] = m->x; break;
    case BPF_MISC | BPF_TAX: m->x = m->a; break;
    case BPF_MISC | BPF_TXA: m->a = m->x; break;
    default: return -1;
    }
    return 0;
}

/*
 * Run a checked program on data.  Returns the program's 32-bit return
 * value and stores the index of the instruction that produced it.
 */
uint32_t
scx_bpf_run(const char *program, const struct seccomp_data *data,
            size_t *return_index)
{
    machine m = {0};
    size_t pc = 0;

    for (;;) {
        struct sock_filter insn = scx_bpf_insn(program, pc);
        uint16_t class = BPF_CLASS(insn.code);

        *return_index = pc;
        if (class == BPF_RET)
            return BPF_RVAL(insn.code) == BPF_A ? m.a : insn.k;
        if (class == BPF_ALU) {
            uint32_t b = BPF_SRC(insn.code) == BPF_X ? m.x : insn.k;

            if (alu(&m, BPF_OP(insn.code), b) < 0)
                return 0;
            pc++;
        }
        else if (class == BPF_JMP) {
            uint32_t b = BPF_SRC(insn.code) == BPF_X ? m.x : insn.k;

            if (BPF_OP(insn.code) == BPF_JA)
                pc += 1 + insn.k;
            else if (jump_taken(BPF_OP(insn.code), m.a, b))
                pc += 1 + insn.jt;
            else
                pc += 1 + insn.jf;
        }
        else {
            move(&m, insn, data);
            pc++;
        }
    }
}

static int
u32_arg(PyObject *obj, const char *what, uint32_t *value)
{
    unsigned long long number = PyLong_AsUnsignedLongLong(obj);

    if (number == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    if (number > 0xffffffffULL) {
        PyErr_Format(PyExc_OverflowError, "%s %R does not fit in 32 bits",
                     what, obj);
        return -1;
    }
    *value = (uint32_t)number;
    return 0;
}

static int
u64_arg(PyObject *obj, uint64_t *value)
{
    unsigned long long number = PyLong_AsUnsignedLongLong(obj);

    if (number == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *value = (uint64_t)number;
    return 0;
}

/* Fill data from run()'s arguments nr, arch, instruction_pointer, args. */
static int
parse_data(PyObject *const *args, struct seccomp_data *data)
{
    uint64_t ip;
    uint32_t nr;
    Py_ssize_t i;

    if (u32_arg(args[0], "syscall number", &nr) < 0
        || u32_arg(args[1], "architecture token", &data->arch) < 0
        || u64_arg(args[2], &ip) < 0)
        return -1;
    data->nr = (int)nr;
    data->instruction_pointer = ip;
    if (!PyTuple_Check(args[3]) || PyTuple_GET_SIZE(args[3]) != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "args must be a tuple of six ints");
        return -1;
    }
    for (i = 0; i < 6; i++) {
        uint64_t value;

        if (u64_arg(PyTuple_GET_ITEM(args[3], i), &value) < 0)
            return -1;
        data->args[i] = value;
    }
    return 0;
}

PyObject *
scx_bpf_run_py(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    scx_bpf_state *st = scx_bpf_get_state(module);
    struct seccomp_data data;
    scx_bpf_error error;
    const char *program;
    size_t count, index;
    uint32_t value;

    if (nargs != 5) {
        PyErr_Format(PyExc_TypeError, "run() takes 5 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (scx_bpf_program_arg(st, args[0], &program, &count) < 0)
        return NULL;
    memset(&data, 0, sizeof(data));
    if (parse_data(args + 1, &data) < 0)
        return NULL;

    if (scx_bpf_check(program, count, &error) < 0)
        return scx_bpf_raise_check(st, &error);
    value = scx_bpf_run(program, &data, &index);

    return Py_BuildValue("(kn)", (unsigned long)value, (Py_ssize_t)index);
}
