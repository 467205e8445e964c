/*
 * The kernel's rules for seccomp programs, applied before the kernel
 * receives a program.
 *
 * seccomp(2) runs two checkers, in this order, and fails with EINVAL on
 * the first rule broken:
 *
 * 1. bpf_check_classic() in net/core/filter.c: the length is 1..4096, every
 *    opcode is a classic BPF one, division and modulo by a constant 0 and
 *    shifts by a constant of 32 or more are rejected, scratch memory
 *    indexes are below 16, jumps stay inside the program, the last
 *    instruction is a return, and no path reads a scratch memory word
 *    before writing it (check_load_and_stores()).
 * 2. seccomp_check_filter() in kernel/seccomp.c: a smaller list of opcodes
 *    (no BPF_MOD, no packet loads), and BPF_LD|BPF_W|BPF_ABS only at
 *    4-byte aligned offsets inside struct seccomp_data.
 *
 * The rules below follow Linux 6.18.
 */
#include "bpf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

/* Ancillary loads (SKF_AD_OFF + SKF_AD_PROTOCOL ... SKF_AD_VLAN_TPID) that
 * the classic checker accepts; seccomp rejects them later. */
#define ANCILLARY_END 64

static void
set_error(scx_bpf_error *error, Py_ssize_t index, const char *format, ...)
{
    va_list vargs;
    int used = 0;

    error->index = index;
    if (index >= 0)
        used = snprintf(error->message, sizeof(error->message),
                        "instruction %zd: ", index);
    va_start(vargs, format);
    vsnprintf(error->message + used, sizeof(error->message) - used,
              format, vargs);
    va_end(vargs);
}

/* Opcodes that bpf_check_classic() accepts (chk_code_allowed()). */
static int
classic_code_allowed(uint16_t code)
{
    switch (code) {
    case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_ADD | BPF_X:
    case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_SUB | BPF_X:
    case BPF_ALU | BPF_MUL | BPF_K: case BPF_ALU | BPF_MUL | BPF_X:
    case BPF_ALU | BPF_DIV | BPF_K: case BPF_ALU | BPF_DIV | BPF_X:
    case BPF_ALU | BPF_MOD | BPF_K: case BPF_ALU | BPF_MOD | BPF_X:
    case BPF_ALU | BPF_AND | BPF_K: case BPF_ALU | BPF_AND | BPF_X:
    case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_OR | BPF_X:
    case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_XOR | BPF_X:
    case BPF_ALU | BPF_LSH | BPF_K: case BPF_ALU | BPF_LSH | BPF_X:
    case BPF_ALU | BPF_RSH | BPF_K: case BPF_ALU | BPF_RSH | BPF_X:
    case BPF_ALU | BPF_NEG:
    case BPF_LD | BPF_W | BPF_ABS: case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS: case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LD | BPF_W | BPF_IND: case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND: case BPF_LD | BPF_IMM:
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_W | BPF_LEN: case BPF_LDX | BPF_B | BPF_MSH:
    case BPF_LDX | BPF_IMM: case BPF_LDX | BPF_MEM:
    case BPF_ST: case BPF_STX:
    case BPF_MISC | BPF_TAX: case BPF_MISC | BPF_TXA:
    case BPF_RET | BPF_K: case BPF_RET | BPF_A:
    case BPF_JMP | BPF_JA:
    case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X:
    case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X:
    case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X:
    case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X:
        return 1;
    default:
        return 0;
    }
}

/* Opcodes that seccomp_check_filter() accepts, besides the loads of
 * struct seccomp_data and its length that it checks on their own. */
static int
seccomp_code_allowed(uint16_t code)
{
    switch (code) {
    case BPF_RET | BPF_K: case BPF_RET | BPF_A:
    case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_ADD | BPF_X:
    case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_SUB | BPF_X:
    case BPF_ALU | BPF_MUL | BPF_K: case BPF_ALU | BPF_MUL | BPF_X:
    case BPF_ALU | BPF_DIV | BPF_K: case BPF_ALU | BPF_DIV | BPF_X:
    case BPF_ALU | BPF_AND | BPF_K: case BPF_ALU | BPF_AND | BPF_X:
    case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_OR | BPF_X:
    case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_XOR | BPF_X:
    case BPF_ALU | BPF_LSH | BPF_K: case BPF_ALU | BPF_LSH | BPF_X:
    case BPF_ALU | BPF_RSH | BPF_K: case BPF_ALU | BPF_RSH | BPF_X:
    case BPF_ALU | BPF_NEG:
    case BPF_LD | BPF_IMM: case BPF_LDX | BPF_IMM:
    case BPF_MISC | BPF_TAX: case BPF_MISC | BPF_TXA:
    case BPF_LD | BPF_MEM: case BPF_LDX | BPF_MEM:
    case BPF_ST: case BPF_STX:
    case BPF_JMP | BPF_JA:
    case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X:
    case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X:
    case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X:
    case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X:
        return 1;
    default:
        return 0;
    }
}

static int
is_conditional_jump(uint16_t code)
{
    return BPF_CLASS(code) == BPF_JMP && BPF_OP(code) != BPF_JA;
}

/* The instruction-by-instruction part of bpf_check_classic(). */
static int
check_classic_insn(struct sock_filter insn, size_t pc, size_t count,
                   scx_bpf_error *error)
{
    Py_ssize_t at = (Py_ssize_t)pc;

    if (!classic_code_allowed(insn.code)) {
        set_error(error, at, "opcode 0x%02x is not a classic BPF "
                  "instruction", insn.code);
        return -1;
    }
    switch (insn.code) {
    case BPF_ALU | BPF_DIV | BPF_K:
    case BPF_ALU | BPF_MOD | BPF_K:
        if (insn.k == 0) {
            set_error(error, at, "division by the constant 0");
            return -1;
        }
        return 0;
    case BPF_ALU | BPF_LSH | BPF_K:
    case BPF_ALU | BPF_RSH | BPF_K:
        if (insn.k >= 32) {
            set_error(error, at, "shift by the constant %u: shifts must "
                      "be 0 to 31 bits", insn.k);
            return -1;
        }
        return 0;
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_MEM:
    case BPF_ST:
    case BPF_STX:
        if (insn.k >= SCX_BPF_MEMWORDS) {
            set_error(error, at, "scratch memory index %u is out of "
                      "range: use M[0] to M[15]", insn.k);
            return -1;
        }
        return 0;
    case BPF_JMP | BPF_JA:
        if (insn.k >= count - pc - 1) {
            set_error(error, at, "jump offset %u goes past the last "
                      "instruction (%zu)", insn.k, count - 1);
            return -1;
        }
        return 0;
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS:
        if (insn.k >= (uint32_t)SKF_AD_OFF
            && ((insn.k - (uint32_t)SKF_AD_OFF) % 4 != 0
                || insn.k - (uint32_t)SKF_AD_OFF >= ANCILLARY_END)) {
            set_error(error, at, "load offset 0x%x is an unknown "
                      "ancillary field", insn.k);
            return -1;
        }
        return 0;
    }
    if (is_conditional_jump(insn.code)
        && (pc + insn.jt + 1 >= count || pc + insn.jf + 1 >= count)) {
        set_error(error, at, "jump offsets %u/%u go past the last "
                  "instruction (%zu)", insn.jt, insn.jf, count - 1);
        return -1;
    }
    return 0;
}

/*
 * check_load_and_stores(): a single forward pass that rejects reading a
 * scratch memory word not written on every path to the read.  Jumps only
 * go forward, so each jump narrows the set of valid words at its targets,
 * and the instruction after a jump starts from "all valid" narrowed by the
 * jumps into it.  As in the kernel, the instruction after a return keeps
 * the words valid before the return.
 */
static int
check_memory(const char *program, size_t count, scx_bpf_error *error)
{
    uint16_t masks[SCX_BPF_MAX_INSNS];
    uint16_t valid = 0;
    size_t pc;

    memset(masks, 0xff, count * sizeof(masks[0]));
    for (pc = 0; pc < count; pc++) {
        struct sock_filter insn = scx_bpf_insn(program, pc);

        valid &= masks[pc];
        switch (insn.code) {
        case BPF_ST:
        case BPF_STX:
            valid |= (uint16_t)(1U << insn.k);
            break;
        case BPF_LD | BPF_MEM:
        case BPF_LDX | BPF_MEM:
            if (!(valid & (1U << insn.k))) {
                set_error(error, (Py_ssize_t)pc, "reads scratch memory "
                          "M[%u], which some path to it never writes",
                          insn.k);
                return -1;
            }
            break;
        case BPF_JMP | BPF_JA:
            masks[pc + 1 + insn.k] &= valid;
            valid = 0xffff;
            break;
        default:
            if (is_conditional_jump(insn.code)) {
                masks[pc + 1 + insn.jt] &= valid;
                masks[pc + 1 + insn.jf] &= valid;
                valid = 0xffff;
            }
        }
    }
    return 0;
}

/* seccomp_check_filter(). */
static int
check_seccomp_insn(struct sock_filter insn, size_t pc, scx_bpf_error *error)
{
    switch (insn.code) {
    case BPF_LD | BPF_W | BPF_ABS:
        if (insn.k >= sizeof(struct seccomp_data) || (insn.k & 3)) {
            set_error(error, (Py_ssize_t)pc, "load offset %u is invalid: "
                      "seccomp loads 32-bit words at offsets 0, 4, ... 60 "
                      "of struct seccomp_data", insn.k);
            return -1;
        }
        return 0;
    case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LDX | BPF_W | BPF_LEN:
        return 0;
    }
    if (!seccomp_code_allowed(insn.code)) {
        set_error(error, (Py_ssize_t)pc, "opcode 0x%02x is classic BPF but "
                  "not allowed in seccomp (no BPF_MOD, byte, halfword, "
                  "indirect or BPF_MSH loads)", insn.code);
        return -1;
    }
    return 0;
}

/* Check a program as seccomp(2) would.  Returns 0, or -1 and fills error. */
int
scx_bpf_check(const char *program, size_t count, scx_bpf_error *error)
{
    struct sock_filter last;
    size_t pc;

    if (count == 0 || count > SCX_BPF_MAX_INSNS) {
        set_error(error, -1, "the program has %zu instructions; the kernel "
                  "accepts 1 to %d", count, SCX_BPF_MAX_INSNS);
        return -1;
    }
    for (pc = 0; pc < count; pc++) {
        if (check_classic_insn(scx_bpf_insn(program, pc), pc, count,
                               error) < 0)
            return -1;
    }
    last = scx_bpf_insn(program, count - 1);
    if (last.code != (BPF_RET | BPF_K) && last.code != (BPF_RET | BPF_A)) {
        set_error(error, (Py_ssize_t)(count - 1), "the last instruction "
                  "must be a return, not opcode 0x%02x", last.code);
        return -1;
    }
    if (check_memory(program, count, error) < 0)
        return -1;
    for (pc = 0; pc < count; pc++) {
        if (check_seccomp_insn(scx_bpf_insn(program, pc), pc, error) < 0)
            return -1;
    }
    return 0;
}

/* Accept a bytes object holding whole struct sock_filter records. */
int
scx_bpf_program_arg(scx_bpf_state *st, PyObject *obj, const char **program,
                    size_t *count)
{
    Py_ssize_t size;

    if (!PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "program must be bytes, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    size = PyBytes_GET_SIZE(obj);
    if (size % sizeof(struct sock_filter) != 0) {
        PyObject *error = PyObject_CallFunction(
            st->ProgramError, "s",
            "program length is not a multiple of 8 bytes (one struct "
            "sock_filter)");

        if (error != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(error), error);
            Py_DECREF(error);
        }
        return -1;
    }
    *program = PyBytes_AS_STRING(obj);
    *count = (size_t)size / sizeof(struct sock_filter);
    return 0;
}

/* Raise ProgramError(message, index) for a failed check.  Returns NULL. */
PyObject *
scx_bpf_raise_check(scx_bpf_state *st, const scx_bpf_error *error)
{
    PyObject *exc;

    if (error->index >= 0)
        exc = PyObject_CallFunction(st->ProgramError, "sn", error->message,
                                    error->index);
    else
        exc = PyObject_CallFunction(st->ProgramError, "s", error->message);
    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *
scx_bpf_check_py(PyObject *module, PyObject *arg)
{
    scx_bpf_state *st = scx_bpf_get_state(module);
    scx_bpf_error error;
    const char *program;
    size_t count;

    if (scx_bpf_program_arg(st, arg, &program, &count) < 0)
        return NULL;
    if (scx_bpf_check(program, count, &error) < 0)
        return scx_bpf_raise_check(st, &error);
    Py_RETURN_NONE;
}
