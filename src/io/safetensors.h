/* Safetensors: memory-mapped, validated reading (single file or sharded with an index
 * json) and atomic writing.
 *
 * Validation follows the reference implementation: the header length lies inside the
 * file, the header is a JSON object, every dtype is known, shape x dtype size equals the
 * byte span, and the spans tile the data area exactly (in bounds, no overlap, no gap). */
#ifndef GTA_IO_SAFETENSORS_H
#define GTA_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_NDTYPES
} st_dtype;

#define ST_MAX_DIMS 8
/* Tensors in one file's header: a 4096-layer model has about 60k. */
#define ST_MAX_TENSORS (1 << 20)

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* inside the mapping */
    size_t nbytes;
    int file;         /* index into the set's files */
} st_tensor;

typedef struct st_set st_set;

/* Opens one .safetensors file. */
int st_open_file(const char *path, st_set **out);
/* Opens a model directory: model.safetensors, or model.safetensors.index.json + shards.
 * Tensor names must be unique across shards and match the index. */
int st_open_dir(const char *dir, st_set **out);
void st_close(st_set *s);

int st_count(const st_set *s);
const st_tensor *st_at(const st_set *s, int i);
const st_tensor *st_find(const st_set *s, const char *name);
/* The file a tensor came from (for messages). */
const char *st_file_of(const st_set *s, const st_tensor *t);
size_t st_dtype_size(st_dtype d);
const char *st_dtype_name(st_dtype d);

/* Converts a float tensor (F64/F32/F16/BF16) to f32. */
int st_to_f32(const st_set *s, const st_tensor *t, float *dst);
/* Lets the kernel drop a tensor's mapped pages once it has been read (they come back
 * from the file if touched again): loading a large checkpoint into another dtype then
 * does not hold the file and its copy resident at once. */
void st_drop_pages(const st_tensor *t);
/* Converts an integer tensor (I64/I32) to int64. */
int st_to_i64(const st_set *s, const st_tensor *t, int64_t *dst);

/* Writing: entries are laid out in the order given (sorted by name is conventional). */
typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; /* host-endian (little) values of dtype */
} st_entry;

/* Writes path atomically; metadata_json may be NULL or a JSON object text of string
 * values (e.g. {"format":"pt"}). */
int st_write(const char *path, const st_entry *e, int n, const char *metadata_json);

/* bf16/f16 helpers */
float st_bf16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f); /* round to nearest even, as torch does */
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_f16(float f); /* round to nearest even (subnormals too), overflow to inf */
/* src[0..n) as dtype d (ST_F32, ST_BF16 or ST_F16), rounded to nearest even, into dst. */
void st_f32_to_dtype(const float *src, size_t n, st_dtype d, void *dst);
/* "f32" | "bf16" | "f16" (also fp32, float32, bfloat16, fp16, float16). */
int st_dtype_from_name(const char *name, st_dtype *out);
/* The dtype the float tensors of s share when it is BF16 or F16; ST_F32 otherwise (F32
 * or F64 tensors, or a mix of float dtypes), so that a model written back in it loses
 * nothing it had. */
st_dtype st_float_dtype(const st_set *s);

#endif
