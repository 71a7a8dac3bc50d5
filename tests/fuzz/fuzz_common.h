/* Shared by the libFuzzer harnesses of tests/fuzz (one header, each harness includes it
 * once). Parsers that read files get their input through a per-process temporary
 * directory; inputs with several files separate them with FZ_SEP (in the dictionaries).
 *
 * Every harness holds the same contract: whatever the bytes, the parser returns GTA_OK
 * or GTA_EINPUT with a message (never GTA_EFAIL, never a crash, a leak or undefined
 * behaviour under the sanitizers, never an allocation out of proportion to the input). */
#ifndef GTA_FUZZ_COMMON_H
#define GTA_FUZZ_COMMON_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

#define FZ_FN static __attribute__((unused))
#define FZ_SEP "\n=====\n"
#define FZ_MAX_PARTS 8

static char fz_dir_path[4096];

FZ_FN void fz_cleanup(void) {
    if (!fz_dir_path[0]) return;
    DIR *d = opendir(fz_dir_path);
    if (d) {
        struct dirent *e;
        char p[8192];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", fz_dir_path, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fz_dir_path);
}

/* The per-process scratch directory (created on first use, removed at exit). */
FZ_FN const char *fz_dir(void) {
    if (!fz_dir_path[0]) {
        const char *base = getenv("TMPDIR");
        if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fz_dir_path, sizeof fz_dir_path, "%s/gta-fuzz-XXXXXX", base);
        if (!mkdtemp(fz_dir_path)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    return fz_dir_path;
}

/* Path of name inside the scratch directory (static buffer per slot). */
FZ_FN const char *fz_path(const char *name) {
    static char buf[4][8192];
    static int slot;
    char *p = buf[slot++ & 3];
    snprintf(p, 8192, "%s/%s", fz_dir(), name);
    return p;
}

/* Writes data[0..n) to name in the scratch directory; returns its path. */
FZ_FN const char *fz_write(const char *name, const void *data, size_t n) {
    const char *p = fz_path(name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) {
        perror(p);
        abort();
    }
    return p;
}

FZ_FN void fz_remove(const char *name) { unlink(fz_path(name)); }

typedef struct {
    const char *p;
    size_t n;
} fz_part;

/* Splits data at FZ_SEP into at most max parts; returns the count (>= 1). */
FZ_FN int fz_split(const uint8_t *data, size_t n, fz_part *parts, int max) {
    const char *s = (const char *)data, *end = s + n;
    size_t sl = strlen(FZ_SEP);
    int k = 0;
    while (k < max - 1) {
        const char *hit = memmem(s, (size_t)(end - s), FZ_SEP, sl);
        if (!hit) break;
        parts[k++] = (fz_part){s, (size_t)(hit - s)};
        s = hit + sl;
    }
    parts[k++] = (fz_part){s, (size_t)(end - s)};
    return k;
}

/* NUL-terminated copy of a part (caller frees). */
FZ_FN char *fz_str(fz_part p) {
    char *s = malloc(p.n + 1);
    if (!s) abort();
    if (p.n) memcpy(s, p.p, p.n);
    s[p.n] = 0;
    return s;
}

/* The contract on a parser's return code: OK, or an input error with a message. */
FZ_FN void fz_check_rc(int rc, const char *what) {
    if (rc == GTA_OK) return;
    const char *m = gta_err_msg();
    if (rc != GTA_EINPUT || !m || !*m) {
        fprintf(stderr, "fuzz: %s returned %d (expected 0 or GTA_EINPUT with a message): %s\n", what, rc,
                m ? m : "(no message)");
        abort();
    }
}

/* Fails the run (a finding) with a message. */
#define FZ_ASSERT(cond, ...)                                                                                 \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

/* Folder of the harness data (tokenizers, chat templates): $GTA_FUZZ_DATA or
 * tests/fuzz/data from the repository root. */
FZ_FN const char *fz_data(const char *rel) {
    static char buf[4][4096];
    static int slot;
    char *p = buf[slot++ & 3];
    const char *d = getenv("GTA_FUZZ_DATA");
    snprintf(p, 4096, "%s/%s", d && *d ? d : "tests/fuzz/data", rel);
    return p;
}

#endif
