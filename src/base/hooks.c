#include "base/hooks.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gta_test_kill_point(const char *point) {
    const char *want = getenv("GTA_TEST_KILL_AT");
    if (want && *want && !strcmp(want, point)) {
        fprintf(stderr, "gta: test hook: SIGKILL at %s\n", point);
        fflush(stderr);
        raise(SIGKILL);
    }
}

void gta_test_kill_point_n(const char *prefix, long long n) {
    const char *want = getenv("GTA_TEST_KILL_AT");
    if (!want || !*want) return;
    char p[128];
    snprintf(p, sizeof p, "%s:%lld", prefix, n);
    gta_test_kill_point(p);
}

int gta_test_kill_in_write(const char *path) {
    const char *want = getenv("GTA_TEST_KILL_IN_WRITE");
    if (!want || !*want) return 0;
    static int seen;
    const char *at = strchr(want, '@');
    size_t n = strlen(path), m = at ? (size_t)(at - want) : strlen(want);
    if (n < m || strncmp(path + n - m, want, m)) return 0;
    return ++seen == (at ? atoi(at + 1) : 1);
}

static volatile sig_atomic_t g_stop;

static void on_stop(int sig) {
    if (g_stop == sig) { /* asked twice: stop now, as without the handler */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_stop = sig;
}

void gta_stop_install(void) {
    g_stop = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

int gta_stop_requested(void) { return (int)g_stop; }

void gta_stop_uninstall(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
}
