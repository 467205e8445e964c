/*
 * Build and load a benchmark policy with libseccomp from C: the baseline
 * that seccompx is compared with.
 *
 * Usage: libseccomp_bench POLICY SAMPLES
 *
 * Prints one line per sample, "BUILD_NS LOAD_NS FAULTS": the time to create
 * the context, set its attributes and add the rules, the time of
 * seccomp_load, and the minor page faults of the whole child.  Each sample
 * runs in a freshly forked child.  POLICY "-" samples a child that does
 * nothing, for the page faults of forking and exiting alone.  Before
 * sampling, the parent builds and exports the policy once, so that
 * libseccomp's first-use probe of the kernel happens there, as it does in
 * the Python benchmarks.
 *
 * The policies come from policies.h, which benchmarks/run.py generates
 * from seccompx.bench, with syscall numbers resolved for the native
 * architecture (what SCMP_SYS() gives a C program at compile time).
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policies.h"

static int64_t
now_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Set the attributes seccompx.Filter sets by default. */
static int
set_attributes(scmp_filter_ctx ctx, const struct bench_policy *policy)
{
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
                         SCMP_ACT_KILL_PROCESS) < 0)
        return -1;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) < 0)
        return -1;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1) < 0)
        return -1;
    if (seccomp_api_get() >= 2
        && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
        return -1;
    if (policy->optimize != 0
        && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE,
                            (uint32_t)policy->optimize) < 0)
        return -1;
    return 0;
}

static scmp_filter_ctx
build_policy(const struct bench_policy *policy)
{
    scmp_filter_ctx ctx;
    size_t i;

    ctx = seccomp_init(policy->default_action);
    if (ctx == NULL)
        return NULL;
    if (set_attributes(ctx, policy) < 0)
        goto error;
    for (i = 0; i < policy->nallow; i++)
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, policy->allow[i], 0) < 0)
            goto error;
    for (i = 0; i < policy->nrules; i++) {
        const struct bench_rule *rule = &policy->rules[i];

        if (seccomp_rule_add_array(ctx, rule->action, rule->syscall,
                                   rule->count, rule->cmp) < 0)
            goto error;
    }
    return ctx;

error:
    seccomp_release(ctx);
    return NULL;
}

/* The body of one sample; returns the child's exit status.  Without a
 * policy it reports two zeros. */
static int
run_child(const struct bench_policy *policy, int fd)
{
    int64_t start, built, times[2] = {0, 0};
    scmp_filter_ctx ctx;

    if (policy == NULL)
        return write(fd, times, sizeof(times)) == (ssize_t)sizeof(times)
               ? 0 : 3;
    start = now_ns();
    ctx = build_policy(policy);
    if (ctx == NULL)
        return 1;
    built = now_ns();
    if (seccomp_load(ctx) < 0)
        return 2;
    times[1] = now_ns() - built;
    times[0] = built - start;
    if (write(fd, times, sizeof(times)) != (ssize_t)sizeof(times))
        return 3;
    return 0;
}

static int
take_sample(const struct bench_policy *policy)
{
    struct rusage usage;
    int64_t times[2];
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
        _exit(run_child(policy, fds[1]));
    }

    close(fds[1]);
    got = read(fds[0], times, sizeof(times));
    close(fds[0]);
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("wait4");
        return -1;
    }
    if (got != (ssize_t)sizeof(times) || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "libseccomp_bench: sample child failed (status "
                "0x%x); did seccomp_load succeed?\n", status);
        return -1;
    }
    printf("%lld %lld %ld\n", (long long)times[0], (long long)times[1],
           usage.ru_minflt);
    return 0;
}

/* Build and export once in the parent, as the Python benchmarks do. */
static int
warm_up(const struct bench_policy *policy)
{
    scmp_filter_ctx ctx;
    int fd, rc;

    ctx = build_policy(policy);
    if (ctx == NULL)
        return -1;
    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    rc = fd < 0 ? -1 : seccomp_export_bpf(ctx, fd);
    if (fd >= 0)
        close(fd);
    seccomp_release(ctx);
    return rc < 0 ? -1 : 0;
}

static const struct bench_policy *
find_policy(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
        if (strcmp(policies[i].name, name) == 0)
            return &policies[i];
    return NULL;
}

int
main(int argc, char **argv)
{
    const struct bench_policy *policy;
    long samples, i;
    int empty;

    if (argc != 3) {
        fprintf(stderr, "usage: %s POLICY SAMPLES\n", argv[0]);
        return 2;
    }
    empty = strcmp(argv[1], "-") == 0;
    policy = empty ? NULL : find_policy(argv[1]);
    samples = strtol(argv[2], NULL, 10);
    if ((policy == NULL && !empty) || samples < 1) {
        fprintf(stderr, "%s: unknown policy '%s' or invalid sample count "
                "'%s'\n", argv[0], argv[1], argv[2]);
        return 2;
    }
    if (!empty && warm_up(policy) < 0) {
        fprintf(stderr, "%s: building policy '%s' failed\n", argv[0],
                argv[1]);
        return 1;
    }
    for (i = 0; i < samples; i++)
        if (take_sample(policy) < 0)
            return 1;
    return 0;
}
