/* Per-system-call cost inside a container, for benches/seccomp.sh.
 *
 *   seccomp_bench CALLS REPEATS   time CALLS getppid(), CALLS read(fd, buf, 0) on
 *                                 /dev/null and CALLS personality(0xffffffff) (a query),
 *                                 REPEATS times each; print the median ns/call
 *   seccomp_bench pause           wait for a signal (the driver reads the filter size)
 *
 * Output: `getppid_ns=X read_ns=Y personality_ns=Z filters=N ssb=...` on one line.
 * getppid and read are allowed whatever their arguments, so since Linux 5.11 the kernel's
 * seccomp action cache answers them without running the filter; personality is allowed
 * only for some argument values, so every call runs the filter. Built with
 * `gcc -static -O2`: the busybox rootfs has no libc. Raw syscall(2), so that no libc
 * caching or vDSO path stands in for the kernel entry the filter sits on.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A line of /proc/self/status, value only ("?" when absent). */
static void status_field(const char *key, char *out, size_t len) {
    snprintf(out, len, "?");
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, k) && line[k] == ':') {
            char *v = line + k + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            for (char *p = v; *p; p++)
                if (*p == ' ') *p = '_';
            snprintf(out, len, "%s", v);
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "pause")) {
        pause();
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: seccomp_bench CALLS REPEATS | pause\n");
        return 2;
    }
    long calls = atol(argv[1]);
    int repeats = atoi(argv[2]);
    if (calls <= 0 || repeats <= 0 || repeats > 1000) return 2;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror("open /dev/null");
        return 1;
    }
    char buf[1];
    double *g = calloc(repeats, sizeof *g), *r = calloc(repeats, sizeof *r), *p = calloc(repeats, sizeof *p);
    /* Warm up caches and the branch predictor. */
    for (long i = 0; i < calls / 10; i++) {
        syscall(SYS_getppid);
        syscall(SYS_read, fd, buf, 0);
        syscall(SYS_personality, 0xffffffffUL);
    }
    for (int k = 0; k < repeats; k++) {
        double t0 = now_ns();
        for (long i = 0; i < calls; i++) syscall(SYS_getppid);
        double t1 = now_ns();
        for (long i = 0; i < calls; i++)
            if (syscall(SYS_read, fd, buf, 0) != 0) {
                perror("read");
                return 1;
            }
        double t2 = now_ns();
        for (long i = 0; i < calls; i++)
            if (syscall(SYS_personality, 0xffffffffUL) < 0) {
                perror("personality");
                return 1;
            }
        double t3 = now_ns();
        g[k] = (t1 - t0) / calls;
        r[k] = (t2 - t1) / calls;
        p[k] = (t3 - t2) / calls;
    }
    char filters[32], ssb[96];
    status_field("Seccomp_filters", filters, sizeof filters);
    status_field("Speculation_Store_Bypass", ssb, sizeof ssb);
    printf("getppid_ns=%.1f read_ns=%.1f personality_ns=%.1f filters=%s ssb=%s\n", median(g, repeats),
           median(r, repeats), median(p, repeats), filters, ssb);
    return 0;
}
