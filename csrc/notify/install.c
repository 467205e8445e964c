/*
 * The child side of starting a supervised target: load a filter with a new
 * listener, hand the listener to the supervisor, then optionally execve.
 *
 * After the filter is loaded, any syscall it sends to the listener blocks
 * until the supervisor responds, and the supervisor cannot respond before it
 * has the listener.  So between seccomp(2) and the sendmsg(2) that passes
 * the listener, this code makes no other syscall (no allocation, no
 * Python), and the loaded program starts with a prefix that allows exactly
 * that one sendmsg: on this socket, with this message header address and
 * these flags.  The header lives on this function's stack, so after execve
 * (a fresh address space) no other sendmsg matches by accident.
 */
#include "notify.h"

#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_INSTRUCTIONS 4096
#define PREFIX_LENGTH 17
#define SEND_FLAGS (MSG_NOSIGNAL | MSG_DONTWAIT)
/* Exit status of a child that loaded its filter but could not send the
 * listener; nothing else can be reported from there. */
#define EXIT_SEND_FAILED 125

#define DATA_NR offsetof(struct seccomp_data, nr)
#define DATA_ARCH offsetof(struct seccomp_data, arch)
#define DATA_ARG(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LOW_WORD 0
#define HIGH_WORD 4
#else
#define LOW_WORD 4
#define HIGH_WORD 0
#endif

typedef struct {
    char *path;
    char **argv;
    char **envp;
} exec_request;

/* Write "if data[offset] != value goto end of prefix" at *at. */
static void
emit_check(struct sock_filter *prefix, int *at, uint32_t offset,
           uint32_t value)
{
    int i = *at;

    prefix[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offset);
    prefix[i + 1] = (struct sock_filter)BPF_JUMP(
        BPF_JMP | BPF_JEQ | BPF_K, value, 0,
        (uint8_t)(PREFIX_LENGTH - (i + 1) - 1));
    *at = i + 2;
}

static void
emit_arg_check(struct sock_filter *prefix, int *at, int arg, uint64_t value)
{
    emit_check(prefix, at, DATA_ARG(arg) + LOW_WORD, (uint32_t)value);
    emit_check(prefix, at, DATA_ARG(arg) + HIGH_WORD,
               (uint32_t)(value >> 32));
}

/* Build prefix + program: the prefix allows the one sendmsg described at
 * the top of this file and falls through to program otherwise.  Classic
 * BPF jumps are relative and only go forward, so program is unchanged. */
static struct sock_filter *
build_program(const char *program, Py_ssize_t length, uint32_t arch,
              int sock, const struct msghdr *message)
{
    Py_ssize_t count = length / (Py_ssize_t)sizeof(struct sock_filter);
    struct sock_filter *code;
    int at = 0;

    code = PyMem_Malloc((size_t)(PREFIX_LENGTH + count) * sizeof(*code));
    if (code == NULL)
        return (struct sock_filter *)PyErr_NoMemory();
    emit_check(code, &at, DATA_ARCH, arch);
    emit_check(code, &at, DATA_NR, (uint32_t)__NR_sendmsg);
    emit_arg_check(code, &at, 0, (uint64_t)sock);
    emit_arg_check(code, &at, 1, (uint64_t)(uintptr_t)message);
    emit_arg_check(code, &at, 2, (uint64_t)SEND_FLAGS);
    code[at] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
                                            SECCOMP_RET_ALLOW);
    memcpy(code + PREFIX_LENGTH, program, (size_t)length);
    return code;
}

/* Return a NULL-terminated copy of the pointers of a list of bytes. */
static char **
string_array(PyObject *list, const char *what)
{
    Py_ssize_t i, n;
    char **array;

    if (!PyList_Check(list) && !PyTuple_Check(list)) {
        PyErr_Format(PyExc_TypeError, "%s must be a list of bytes", what);
        return NULL;
    }
    n = PySequence_Fast_GET_SIZE(list);
    array = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    if (array == NULL)
        return (char **)PyErr_NoMemory();
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(list, i);

        if (!PyBytes_Check(item)
            || strlen(PyBytes_AS_STRING(item)) != (size_t)PyBytes_GET_SIZE(item)) {
            PyErr_Format(PyExc_ValueError,
                         "%s[%zd] must be bytes without NUL characters",
                         what, i);
            PyMem_Free(array);
            return NULL;
        }
        array[i] = PyBytes_AS_STRING(item);
    }
    return array;
}

static int
parse_exec_request(PyObject *obj, exec_request *request)
{
    PyObject *path, *argv, *envp;

    memset(request, 0, sizeof(*request));
    if (obj == Py_None)
        return 0;
    if (!PyArg_ParseTuple(obj, "SOO:exec_args", &path, &argv, &envp))
        return -1;
    if (strlen(PyBytes_AS_STRING(path)) != (size_t)PyBytes_GET_SIZE(path)) {
        PyErr_SetString(PyExc_ValueError,
                        "the program path must not contain NUL characters");
        return -1;
    }
    request->path = PyBytes_AS_STRING(path);
    request->argv = string_array(argv, "argv");
    if (request->argv == NULL)
        return -1;
    request->envp = string_array(envp, "envp");
    if (request->envp == NULL) {
        PyMem_Free(request->argv);
        request->argv = NULL;
        return -1;
    }
    return 0;
}

static void
free_exec_request(exec_request *request)
{
    PyMem_Free(request->argv);
    PyMem_Free(request->envp);
}

/*
 * Load code and send the new listener over sock.  Returns the listener, or
 * a negative errno when the filter could not be loaded.  Never returns
 * when the send fails: with the filter loaded and no process holding its
 * listener, the child can only exit.
 */
static int
load_and_send(struct sock_filter *code, unsigned short count,
              unsigned int flags, int sock, struct msghdr *message)
{
    struct sock_fprog fprog = {.len = count, .filter = code};
    struct cmsghdr *control = CMSG_FIRSTHDR(message);
    long listener;

    listener = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
                       flags | SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
    if (listener < 0)
        return -errno;
    memcpy(CMSG_DATA(control), &(int){(int)listener}, sizeof(int));
    if (syscall(__NR_sendmsg, sock, message, SEND_FLAGS) < 0)
        syscall(__NR_exit_group, EXIT_SEND_FAILED);
    return (int)listener;
}

PyObject *
scn_install_listener(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"program", "arch", "sock", "no_new_privs",
                               "flags", "exec_args", NULL};
    scn_state *st = scn_get_state(module);
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr message;
    struct iovec iov;
    struct cmsghdr *header;
    char tag = 'L';
    Py_buffer program;
    exec_request request;
    struct sock_filter *code = NULL;
    PyObject *exec_obj = Py_None, *result = NULL;
    unsigned int arch, flags = 0;
    int sock, no_new_privs = 1, listener, exec_errno = 0;
    Py_ssize_t count;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*Ii|pIO:install_listener",
                                     keywords, &program, &arch, &sock,
                                     &no_new_privs, &flags, &exec_obj))
        return NULL;
    count = program.len / (Py_ssize_t)sizeof(struct sock_filter);
    if (program.len % (Py_ssize_t)sizeof(struct sock_filter) != 0
        || count == 0 || count + PREFIX_LENGTH > MAX_INSTRUCTIONS) {
        scn_raise(st->InvalidArgumentError, EINVAL,
                  "program of %zd bytes is invalid: it must hold 1 to %d "
                  "BPF instructions of 8 bytes", program.len,
                  MAX_INSTRUCTIONS - PREFIX_LENGTH);
        PyBuffer_Release(&program);
        return NULL;
    }
    if (parse_exec_request(exec_obj, &request) < 0) {
        PyBuffer_Release(&program);
        return NULL;
    }

    memset(&message, 0, sizeof(message));
    memset(&control, 0, sizeof(control));
    iov.iov_base = &tag;
    iov.iov_len = 1;
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof(control.buffer);
    header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));

    code = build_program(program.buf, program.len, arch, sock, &message);
    if (code == NULL)
        goto done;
    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    listener = load_and_send(code, (unsigned short)(count + PREFIX_LENGTH),
                             flags, sock, &message);
    if (listener < 0) {
        errno = -listener;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    /* From here on the supervisor responds to the filter's notifications. */
    if (request.path != NULL) {
        execve(request.path, request.argv, request.envp);
        exec_errno = errno;
    }
    result = Py_BuildValue("(ii)", listener, exec_errno);

done:
    PyMem_Free(code);
    free_exec_request(&request);
    PyBuffer_Release(&program);
    return result;
}
