/* The in-container side of crates/coracle-cli/tests/seccomp.rs: makes the system
 * calls named on its command line and prints one `name=result` line for each, the
 * result being the return value or -errno. Built with `gcc -static` (no libc in the
 * busybox rootfs), non-PIE so that static data sits below 4 GiB and its address can
 * go through the 32-bit int 0x80 entry.
 *
 *   sethostname NAME | socket DOMAIN TYPE PROTO | personality N | syscall NR |
 *   i386 NR [ARG]    | x32 NR [ARG]             | mkdir PATH    | catch-sigsys
 *
 * i386/x32: ARG "name" passes the address of a static string, a number passes itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char static_name[] = "probe-host";

static void report(const char *what, long ret) {
    printf("%s=%ld\n", what, ret < 0 ? -(long)errno : ret);
    fflush(stdout);
}

/* A raw result (already -errno on failure), as the int 0x80 entry returns it. */
static void report_raw(const char *what, long ret) {
    printf("%s=%ld\n", what, ret);
    fflush(stdout);
}

static long i386_call(long nr, long arg) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(arg), "c"(sizeof static_name - 1), "d"(0)
                     : "memory");
    return ret;
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    char buf[96];
    int n = snprintf(buf, sizeof buf, "sigsys=%d code=%d syscall=%d\n", sig, si->si_code, si->si_syscall);
    (void)!write(1, buf, n);
}

static long arg_value(const char *s) {
    return strcmp(s, "name") == 0 ? (long)(unsigned long)static_name : strtol(s, NULL, 0);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *op = argv[i];
        char label[128];
        if (!strcmp(op, "sethostname") && i + 1 < argc) {
            const char *name = argv[++i];
            report("sethostname", sethostname(name, strlen(name)));
        } else if (!strcmp(op, "socket") && i + 3 < argc) {
            long d = atol(argv[i + 1]), t = atol(argv[i + 2]), p = atol(argv[i + 3]);
            snprintf(label, sizeof label, "socket(%ld,%ld,%ld)", d, t, p);
            i += 3;
            int fd = socket(d, t, p);
            report(label, fd < 0 ? -1 : 0);
            if (fd >= 0) close(fd);
        } else if (!strcmp(op, "personality") && i + 1 < argc) {
            long n = strtol(argv[++i], NULL, 0);
            snprintf(label, sizeof label, "personality(%ld)", n);
            report(label, syscall(SYS_personality, n));
        } else if (!strcmp(op, "syscall") && i + 1 < argc) {
            long nr = strtol(argv[++i], NULL, 0);
            snprintf(label, sizeof label, "syscall(%ld)", nr);
            report(label, syscall(nr, 0, 0, 0, 0, 0, 0));
        } else if (!strcmp(op, "i386") && i + 1 < argc) {
            long nr = strtol(argv[++i], NULL, 0);
            long arg = i + 1 < argc && (argv[i + 1][0] == 'n' || (argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')) ? arg_value(argv[++i]) : 0;
            snprintf(label, sizeof label, "i386(%ld)", nr);
            report_raw(label, i386_call(nr, arg));
        } else if (!strcmp(op, "x32") && i + 1 < argc) {
            long nr = strtol(argv[++i], NULL, 0);
            long arg = i + 1 < argc && (argv[i + 1][0] == 'n' || (argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')) ? arg_value(argv[++i]) : 0;
            snprintf(label, sizeof label, "x32(%ld)", nr);
            report(label, syscall(nr | 0x40000000L, arg, sizeof static_name - 1, 0, 0, 0, 0));
        } else if (!strcmp(op, "mkdir") && i + 1 < argc) {
            report("mkdir", mkdir(argv[++i], 0755));
        } else if (!strcmp(op, "catch-sigsys")) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_sigaction = on_sigsys;
            sa.sa_flags = SA_SIGINFO;
            report("catch-sigsys", sigaction(SIGSYS, &sa, NULL));
        } else {
            fprintf(stderr, "probe: bad arguments at %s\n", op);
            return 2;
        }
    }
    return 0;
}
