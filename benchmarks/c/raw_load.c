/*
 * Load a finished BPF program with prctl(PR_SET_NO_NEW_PRIVS) and a raw
 * seccomp(2) call: the kernel's share of loading a filter, with no
 * libseccomp and no interpreter.
 *
 * Usage: raw_load BPF_FILE FLAGS SAMPLES
 *
 * BPF_FILE contains struct sock_filter instructions in native byte order (the
 * output of seccomp_export_bpf).  FLAGS are SECCOMP_FILTER_FLAG_* bits.
 * Prints one line per sample, "LOAD_NS FAULTS", each from a freshly forked
 * child; FAULTS counts the minor page faults of the whole child.  BPF_FILE
 * "-" samples a child that does nothing, for the page faults of forking
 * and exiting alone.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t
now_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Read the whole program; returns NULL and prints why on failure. */
static struct sock_filter *
read_program(const char *path, unsigned short *count)
{
    struct sock_filter *code = NULL;
    struct stat info;
    FILE *file;

    file = fopen(path, "rb");
    if (file == NULL || fstat(fileno(file), &info) < 0) {
        perror(path);
        goto done;
    }
    if (info.st_size == 0 || info.st_size % sizeof(*code) != 0
        || info.st_size / sizeof(*code) > BPF_MAXINSNS) {
        fprintf(stderr, "%s: size %lld is not 1 to %d BPF instructions\n",
                path, (long long)info.st_size, BPF_MAXINSNS);
        goto done;
    }
    code = malloc((size_t)info.st_size);
    if (code == NULL
        || fread(code, 1, (size_t)info.st_size, file)
           != (size_t)info.st_size) {
        perror(path);
        free(code);
        code = NULL;
        goto done;
    }
    *count = (unsigned short)(info.st_size / sizeof(*code));

done:
    if (file != NULL)
        fclose(file);
    return code;
}

/* The body of one sample; without a program it reports 0. */
static int
run_child(const struct sock_fprog *program, unsigned int flags, int fd)
{
    int64_t start, elapsed = 0;

    if (program == NULL)
        return write(fd, &elapsed, sizeof(elapsed)) == (ssize_t)sizeof(elapsed)
               ? 0 : 3;
    start = now_ns();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return 1;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, program) < 0)
        return 2;
    elapsed = now_ns() - start;
    if (write(fd, &elapsed, sizeof(elapsed)) != (ssize_t)sizeof(elapsed))
        return 3;
    return 0;
}

static int
take_sample(const struct sock_fprog *program, unsigned int flags)
{
    struct rusage usage;
    int64_t elapsed;
    int fds[2], status;
    ssize_t got;
    pid_t pid;

    if (pipe(fds) < 0) {
        perror("pipe");
        return -1;
    }
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        _exit(run_child(program, flags, fds[1]));
    }

    close(fds[1]);
    got = read(fds[0], &elapsed, sizeof(elapsed));
    close(fds[0]);
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("wait4");
        return -1;
    }
    if (got != (ssize_t)sizeof(elapsed) || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "raw_load: sample child failed (status 0x%x): "
                "exit code 1 is prctl, 2 is seccomp(2)\n", status);
        return -1;
    }
    printf("%lld %ld\n", (long long)elapsed, usage.ru_minflt);
    return 0;
}

int
main(int argc, char **argv)
{
    struct sock_fprog program;
    unsigned int flags;
    long samples, i;

    if (argc != 4) {
        fprintf(stderr, "usage: %s BPF_FILE FLAGS SAMPLES\n", argv[0]);
        return 2;
    }
    flags = (unsigned int)strtoul(argv[2], NULL, 0);
    samples = strtol(argv[3], NULL, 10);
    if (samples < 1) {
        fprintf(stderr, "%s: invalid sample count '%s'\n", argv[0], argv[3]);
        return 2;
    }
    if (strcmp(argv[1], "-") == 0) {
        for (i = 0; i < samples; i++)
            if (take_sample(NULL, flags) < 0)
                return 1;
        return 0;
    }
    program.filter = read_program(argv[1], &program.len);
    if (program.filter == NULL)
        return 1;
    for (i = 0; i < samples; i++)
        if (take_sample(&program, flags) < 0)
            return 1;
    free(program.filter);
    return 0;
}
