/* Replays inputs through a fuzz harness without libFuzzer: each argument is a file or a
 * directory of files (the corpus, the regression inputs of past findings). Built with the
 * normal compiler and run by `make check` (and under the sanitizers by `make asan-test`).
 * The harness aborts on a finding, so a passing replay is exit status 0. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)(n > 0 ? n : 1));
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "%s: cannot read\n", path);
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    /* an exact-size copy, so that the sanitizers see reads past the end */
    uint8_t *exact = malloc((size_t)(n > 0 ? n : 1));
    memcpy(exact, buf, (size_t)n);
    free(buf);
    if (getenv("FUZZ_REPLAY_VERBOSE")) fprintf(stderr, "replay %s\n", path);
    LLVMFuzzerTestOneInput(exact, (size_t)n);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
#ifndef FZ_ASAN
    /* without AddressSanitizer (whose shadow needs the address space), an input that makes
     * a parser ask for gigabytes fails here as it would under libFuzzer's -malloc_limit_mb */
    struct rlimit rl = {(rlim_t)4 << 30, (rlim_t)4 << 30};
    setrlimit(RLIMIT_AS, &rl);
#endif
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        char **names = NULL;
        size_t k = 0, cap = 0;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            if (k == cap) names = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
            names[k++] = strdup(e->d_name);
        }
        if (d) closedir(d);
        if (k) qsort(names, k, sizeof *names, cmp);
        for (size_t j = 0; j < k; j++) {
            size_t len = strlen(argv[i]) + strlen(names[j]) + 2;
            char *p = malloc(len);
            snprintf(p, len, "%s/%s", argv[i], names[j]);
            bad |= run_file(p);
            n++;
            free(p);
            free(names[j]);
        }
        free(names);
    }
    printf("%s: %d inputs replayed\n", argv[0], n);
    return bad;
}
