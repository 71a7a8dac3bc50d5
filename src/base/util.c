
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/hooks.h"

int gta_read_file(const char *path, char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return gta_err_set(GTA_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = gta_malloc(cap + 1);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        buf = gta_realloc(buf, cap + 1);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return gta_err_set(GTA_EINPUT, "%s: read error", path);
    }
    buf[n] = 0;
    *data = buf;
    if (len) *len = n;
    return GTA_OK;
}

int gta_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return gta_err_set(GTA_EFAIL, "%s: cannot open: %s", dir, strerror(errno));
    int bad = fsync(fd) != 0 && errno != EINVAL; /* some file systems cannot sync a directory */
    int e = errno;
    close(fd);
    return bad ? gta_err_set(GTA_EFAIL, "%s: fsync failed: %s", dir, strerror(e)) : GTA_OK;
}

void gta_fsync_dir_of(const char *path) {
    const char *sl = strrchr(path, '/');
    if (!sl) {
        gta_fsync_dir(".");
        return;
    }
    size_t n = (size_t)(sl - path);
    char *d = gta_malloc(n + 2);
    memcpy(d, path, n ? n : 1);
    d[n ? n : 1] = 0;
    gta_fsync_dir(d);
    free(d);
}

int gta_write_file_atomic(const char *path, const void *data, size_t len) {
    return gta_write_parts_atomic(path, 1, &data, &len);
}

int gta_write_parts_atomic(const char *path, int nparts, const void *const *parts, const size_t *lens) {
    size_t n = strlen(path);
    char *tmp = gta_malloc(n + 16);
    snprintf(tmp, n + 16, "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int rc = gta_err_set(GTA_EFAIL, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    size_t len = 0, done = 0;
    for (int i = 0; i < nparts; i++) len += lens[i];
    size_t stop = gta_test_kill_in_write(path) ? len / 2 : SIZE_MAX;
    for (int i = 0; i < nparts; i++) {
        const char *p = parts[i];
        size_t left = lens[i];
        while (left) {
            if (done >= stop) { /* test hook: killed inside the write */
                fprintf(stderr, "gta: test hook: SIGKILL after %zu of %zu bytes of %s\n", done, len, path);
                raise(SIGKILL);
            }
            size_t chunk = left < stop - done ? left : stop - done;
            if (chunk > ((size_t)1 << 30)) chunk = (size_t)1 << 30;
            ssize_t w = write(fd, p, chunk);
            if (w < 0) {
                if (errno == EINTR) continue;
                /* a full disk (ENOSPC) or a file-size limit (EFBIG): the target is untouched */
                int rc = gta_err_set(GTA_EFAIL, "%s: write failed after %zu of %zu bytes: %s", path, done, len,
                                     strerror(errno));
                close(fd);
                unlink(tmp);
                free(tmp);
                return rc;
            }
            p += w;
            left -= (size_t)w;
            done += (size_t)w;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int rc = gta_err_set(GTA_EFAIL, "%s: cannot finish writing: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return rc;
    }
    /* the rename itself on disk: the directory entry */
    gta_fsync_dir_of(path);
    free(tmp);
    return GTA_OK;
}

int gta_copy_file(const char *from, const char *to) {
    char *data;
    size_t len;
    int rc = gta_read_file(from, &data, &len);
    if (rc) return rc;
    rc = gta_write_file_atomic(to, data, len);
    free(data);
    return rc;
}

char *gta_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = gta_malloc(a + b + 2);
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int gta_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int gta_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int gta_mkdir_p(const char *path) {
    char *p = gta_strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) goto fail;
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) goto fail;
    free(p);
    return GTA_OK;
fail:;
    int rc = gta_err_set(GTA_EFAIL, "%s: cannot create directory: %s", path, strerror(errno));
    free(p);
    return rc;
}

double gta_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gta_line_col(const char *text, size_t off, int *line, int *col) {
    int l = 1, c = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}
