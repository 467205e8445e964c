/*
 * Turning failures into the exceptions of seccompx._errors, and the
 * names of architectures and actions that messages use.
 */
#include "core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static PyObject *
raise_message(PyObject *cls, int err, PyObject *message)
{
    PyObject *error;

    error = PyObject_CallFunction(cls, "Oi", message, err);
    if (error == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return NULL;
}

/* Raise cls(message, err).  Always returns NULL. */
PyObject *
scx_raise(PyObject *cls, int err, const char *format, ...)
{
    va_list vargs;
    PyObject *message;

    va_start(vargs, format);
    message = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    if (message == NULL)
        return NULL;
    raise_message(cls, err, message);
    Py_DECREF(message);
    return NULL;
}

/*
 * Raise UnknownSyscallError(message, syscall=..., arch=...), so that the
 * attributes hold the syscall and architecture rather than an errno.
 */
PyObject *
scx_raise_unknown_syscall(scx_state *st, PyObject *syscall, uint32_t arch,
                          const char *format, ...)
{
    va_list vargs;
    PyObject *message, *error;

    va_start(vargs, format);
    message = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    if (message == NULL)
        return NULL;
    error = PyObject_CallFunction(st->UnknownSyscallError, "OOs", message,
                                  syscall, scx_arch_name(arch));
    Py_DECREF(message);
    if (error == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return NULL;
}

/*
 * Raise cls(message, err) with the pending exception as its __cause__ and
 * its text appended to the message.  Always returns NULL.
 */
PyObject *
scx_chain_error(PyObject *cls, int err, const char *format, ...)
{
    PyObject *type, *cause, *traceback, *head, *message;
    PyObject *new_type, *error, *new_traceback;
    va_list vargs;

    PyErr_Fetch(&type, &cause, &traceback);
    PyErr_NormalizeException(&type, &cause, &traceback);
    if (traceback != NULL && cause != NULL)
        PyException_SetTraceback(cause, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);

    va_start(vargs, format);
    head = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    message = head == NULL ? NULL
        : PyUnicode_FromFormat("%U (cause: %S)", head,
                               cause ? cause : Py_None);
    Py_XDECREF(head);
    if (message == NULL) {
        Py_XDECREF(cause);
        return NULL;
    }
    raise_message(cls, err, message);
    Py_DECREF(message);

    PyErr_Fetch(&new_type, &error, &new_traceback);
    PyErr_NormalizeException(&new_type, &error, &new_traceback);
    if (error != NULL && cause != NULL)
        PyException_SetCause(error, cause);     /* steals cause */
    else
        Py_XDECREF(cause);
    PyErr_Restore(new_type, error, new_traceback);
    return NULL;
}

/*
 * Raise for a negative libseccomp return code.  libseccomp documents a
 * small set of codes per call; map them to the class a caller handles.
 */
PyObject *
scx_raise_libseccomp(scx_state *st, int rc, const char *what)
{
    int err = rc < 0 ? -rc : EINVAL;

    switch (err) {
    case ENOMEM:
        return PyErr_NoMemory();
    case EINVAL:
        return scx_raise(st->InvalidArgumentError, err,
                         "%s failed: libseccomp rejected an argument "
                         "as invalid (EINVAL)", what);
    case EOPNOTSUPP:
        return scx_raise(st->UnsupportedError, err,
                         "%s failed: not supported by this libseccomp or "
                         "kernel (EOPNOTSUPP)", what);
    case ESRCH:
        return scx_raise(st->SeccompError, err,
                         "%s failed: the kernel does not support the "
                         "operation (ESRCH)", what);
    case EFAULT:
        return scx_raise(st->SeccompError, err,
                         "%s failed: libseccomp reported an internal "
                         "error (EFAULT)", what);
    default:
        return scx_raise(st->SeccompError, err, "%s failed: %s",
                         what, strerror(err));
    }
}

/* Return the libseccomp name of an architecture token, or "unknown". */
const char *
scx_arch_name(uint32_t token)
{
    switch (token) {
    case SCMP_ARCH_X86: return "x86";
    case SCMP_ARCH_X86_64: return "x86_64";
    case SCMP_ARCH_X32: return "x32";
    case SCMP_ARCH_ARM: return "arm";
    case SCMP_ARCH_AARCH64: return "aarch64";
    case SCMP_ARCH_MIPS: return "mips";
    case SCMP_ARCH_MIPS64: return "mips64";
    case SCMP_ARCH_MIPS64N32: return "mips64n32";
    case SCMP_ARCH_MIPSEL: return "mipsel";
    case SCMP_ARCH_MIPSEL64: return "mipsel64";
    case SCMP_ARCH_MIPSEL64N32: return "mipsel64n32";
    case SCMP_ARCH_PPC: return "ppc";
    case SCMP_ARCH_PPC64: return "ppc64";
    case SCMP_ARCH_PPC64LE: return "ppc64le";
    case SCMP_ARCH_S390: return "s390";
    case SCMP_ARCH_S390X: return "s390x";
    case SCMP_ARCH_PARISC: return "parisc";
    case SCMP_ARCH_PARISC64: return "parisc64";
    case SCMP_ARCH_RISCV64: return "riscv64";
#ifdef SCMP_ARCH_LOONGARCH64
    case SCMP_ARCH_LOONGARCH64: return "loongarch64";
#endif
#ifdef SCMP_ARCH_M68K
    case SCMP_ARCH_M68K: return "m68k";
#endif
#ifdef SCMP_ARCH_SH
    case SCMP_ARCH_SH: return "sh";
    case SCMP_ARCH_SHEB: return "sheb";
#endif
    default: return "unknown";
    }
}

/*
 * Whether libseccomp compares only the low 32 bits of arguments on this
 * architecture.  libseccomp 2.5.4 treats x32 like the 32-bit ABIs here,
 * although x32 passes 64-bit registers.
 */
int
scx_arch_is_32bit(uint32_t token)
{
    switch (token) {
    case SCMP_ARCH_X86_64:
    case SCMP_ARCH_AARCH64:
    case SCMP_ARCH_MIPS64:
    case SCMP_ARCH_MIPSEL64:
    case SCMP_ARCH_PPC64:
    case SCMP_ARCH_PPC64LE:
    case SCMP_ARCH_S390X:
    case SCMP_ARCH_PARISC64:
    case SCMP_ARCH_RISCV64:
#ifdef SCMP_ARCH_LOONGARCH64
    case SCMP_ARCH_LOONGARCH64:
#endif
        return 0;
    default:
        /* x86, x32, arm, the MIPS o32 and n32 ABIs, ppc, s390, parisc,
         * m68k and sh. */
        return 1;
    }
}

/* Whether the architecture is big-endian (AUDIT_ARCH_LE is bit 30). */
int
scx_arch_is_big_endian(uint32_t token)
{
    return (token & 0x40000000U) == 0;
}

/* Write an action as seccompx spells it: ALLOW, ERRNO(1), TRACE(7) ... */
void
scx_format_action(uint32_t action, char *buffer, size_t size)
{
    uint32_t data = action & 0xffffU;

    switch (action & SCX_KIND_MASK) {
    case SCMP_ACT_KILL_PROCESS:
        snprintf(buffer, size, "KILL_PROCESS");
        break;
    case SCMP_ACT_KILL_THREAD:
        snprintf(buffer, size, "KILL_THREAD");
        break;
    case SCMP_ACT_TRAP:
        snprintf(buffer, size, "TRAP");
        break;
    case SCX_KIND_ERRNO:
        snprintf(buffer, size, "ERRNO(%u)", (unsigned int)data);
        break;
    case SCMP_ACT_NOTIFY:
        snprintf(buffer, size, "NOTIFY");
        break;
    case SCX_KIND_TRACE:
        snprintf(buffer, size, "TRACE(%u)", (unsigned int)data);
        break;
    case SCMP_ACT_LOG:
        snprintf(buffer, size, "LOG");
        break;
    case SCMP_ACT_ALLOW:
        snprintf(buffer, size, "ALLOW");
        break;
    default:
        snprintf(buffer, size, "0x%08x", (unsigned int)action);
        break;
    }
}

static const char *
op_symbol(int op)
{
    switch (op) {
    case SCMP_CMP_NE: return "!=";
    case SCMP_CMP_LT: return "<";
    case SCMP_CMP_LE: return "<=";
    case SCMP_CMP_EQ: return "==";
    case SCMP_CMP_GE: return ">=";
    case SCMP_CMP_GT: return ">";
    default: return "?";
    }
}

/* Write a rule's action and comparisons, such as
 * "ERRNO(1) when Arg(0) == 0x1 and Arg(2).masked_eq(0xff, 0x1)". */
void
scx_format_rule(const scx_rule *rule, char *buffer, size_t size)
{
    size_t used;
    unsigned int i;

    scx_format_action(rule->action, buffer, size);
    used = strlen(buffer);
    if (rule->count == 0 && used < size)
        snprintf(buffer + used, size - used, " with no comparisons");
    for (i = 0; i < rule->count; i++) {
        const struct scmp_arg_cmp *cmp = &rule->cmps[i];
        int written;

        if (used >= size)
            break;
        if (cmp->op == SCMP_CMP_MASKED_EQ)
            written = snprintf(buffer + used, size - used,
                               "%sArg(%u).masked_eq(0x%llx, 0x%llx)",
                               i ? " and " : " when ", cmp->arg,
                               (unsigned long long)cmp->datum_a,
                               (unsigned long long)cmp->datum_b);
        else
            written = snprintf(buffer + used, size - used,
                               "%sArg(%u) %s 0x%llx", i ? " and " : " when ",
                               cmp->arg, op_symbol(cmp->op),
                               (unsigned long long)cmp->datum_a);
        if (written < 0)
            break;
        used += (size_t)written;
    }
}

/*
 * The libseccomp API level an action needs: 3 brought KILL_PROCESS and
 * LOG, 5 brought NOTIFY (seccomp_api_get(3)).
 */
unsigned int
scx_action_api_level(uint32_t action)
{
    switch (action & SCX_KIND_MASK) {
    case SCMP_ACT_KILL_PROCESS:
    case SCMP_ACT_LOG:
        return 3;
    case SCMP_ACT_NOTIFY:
        return 5;
    default:
        return 1;
    }
}
