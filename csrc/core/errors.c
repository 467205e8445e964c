/*
 * Turning failures into the exceptions of seccompx._errors.
 */
#include "core.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

/* Raise cls(message, err).  Always returns NULL. */
PyObject *
scx_raise(PyObject *cls, int err, const char *format, ...)
{
    va_list vargs;
    PyObject *message, *error;

    va_start(vargs, format);
    message = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    if (message == NULL)
        return NULL;

    error = PyObject_CallFunction(cls, "Oi", message, err);
    Py_DECREF(message);
    if (error == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
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
