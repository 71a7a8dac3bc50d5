/* Small helpers: whole-file reads, atomic writes, path joining, timing. */
#ifndef GTA_BASE_UTIL_H
#define GTA_BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a NUL-terminated buffer. GTA_EINPUT if it cannot be read. */
int gta_read_file(const char *path, char **data, size_t *len);
/* Writes len bytes to path atomically (path.tmp + fsync + rename); no partial file is
 * ever left at path. */
int gta_write_file_atomic(const char *path, const void *data, size_t len);
/* The same for a file made of nparts pieces written in order (no copy into one buffer). */
int gta_write_parts_atomic(const char *path, int nparts, const void *const *parts, const size_t *lens);
/* fsync of a directory (its entries: renames, creations); of the directory holding path. */
int gta_fsync_dir(const char *dir);
void gta_fsync_dir_of(const char *path);
/* Copies a file, writing the destination atomically. */
int gta_copy_file(const char *from, const char *to);
/* "dir/name" in a fresh allocation. */
char *gta_path_join(const char *dir, const char *name);
int gta_file_exists(const char *path);
int gta_is_dir(const char *path);
/* mkdir -p */
int gta_mkdir_p(const char *path);
/* Monotonic seconds. */
double gta_now(void);
/* 1-based line and column of byte offset off in text. */
void gta_line_col(const char *text, size_t off, int *line, int *col);

#endif
