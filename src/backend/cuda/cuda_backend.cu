/* The CUDA backend: backend.h's table over the kernels of cuda_*.cu and cuBLASLt. A
 * context is a device stream, a cuBLASLt handle with its workspace, and scratch. Ops are
 * enqueued on the context's stream; whatever returns host values (to_host, read_begin,
 * the head's log-probs, draws, dot3, sumsq) waits for it.
 *
 * Products: fp32 by default (the fixtures' parity mode); GTA_CUDA_MATH=bf16 multiplies in
 * bfloat16 with fp32 accumulation (tensor cores; storage and master weights stay fp32),
 * GTA_CUDA_MATH=tf32 in TensorFloat-32.
 *
 * cuBLASLt is loaded with dlopen when the first CUDA backend is asked for: linked, its
 * 500 MiB of relocations would slow every start of gta, GPU or not (0.6 s for --help). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_int.h"

/* ---------------------------------------------------------------- cuBLASLt, loaded */

#define LT_FUNCS(X)                                                                                          \
    X(cublasLtCreate)                                                                                        \
    X(cublasLtDestroy)                                                                                       \
    X(cublasLtGetStatusString)                                                                               \
    X(cublasLtMatmul)                                                                                        \
    X(cublasLtMatmulAlgoGetHeuristic)                                                                        \
    X(cublasLtMatmulDescCreate)                                                                              \
    X(cublasLtMatmulDescDestroy)                                                                             \
    X(cublasLtMatmulDescSetAttribute)                                                                        \
    X(cublasLtMatmulPreferenceCreate)                                                                        \
    X(cublasLtMatmulPreferenceDestroy)                                                                       \
    X(cublasLtMatmulPreferenceSetAttribute)                                                                  \
    X(cublasLtMatrixLayoutCreate)                                                                            \
    X(cublasLtMatrixLayoutDestroy)
#define LT_DECL(f) static decltype(&f) p_##f;
LT_FUNCS(LT_DECL)
#define STR2(x) #x
#define STR(x) STR2(x)
#define LT_SONAME "libcublasLt.so." STR(CUBLAS_VER_MAJOR)
#ifndef GTA_CUDA_LIB
#define GTA_CUDA_LIB "/usr/local/cuda/lib64"
#endif

/* GTA_CUBLASLT (a path), the loader's search, then the toolkit's lib64 of the build */
static int lt_load(char *why, size_t n) {
    static int loaded;
    if (loaded) return 1;
    const char *env = getenv("GTA_CUBLASLT");
    void *h = env && *env ? dlopen(env, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!h) h = dlopen(LT_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen(GTA_CUDA_LIB "/" LT_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, n, "--device cuda: cuBLASLt (%s) not found (%s); set GTA_CUBLASLT to its path",
                 LT_SONAME, dlerror());
        return 0;
    }
#define LT_LOAD(f)                                                                                           \
    if (!(p_##f = (decltype(&f))dlsym(h, #f))) {                                                             \
        snprintf(why, n, "--device cuda: %s lacks %s", LT_SONAME, #f);                                       \
        return 0;                                                                                            \
    }
    LT_FUNCS(LT_LOAD)
    loaded = 1;
    return 1;
}

#define LT(x)                                                                                                \
    do {                                                                                                     \
        cublasStatus_t s_ = (p_##x);                                                                         \
        if (s_ != CUBLAS_STATUS_SUCCESS) cu_fail(#x, p_cublasLtGetStatusString(s_), __FILE__, __LINE__);     \
    } while (0)

void cu_fail(const char *what, const char *msg, const char *file, int line) {
    fprintf(stderr, "gta: error: CUDA: %s failed: %s (%s:%d)\n", what, msg, file, line);
    abort();
}

/* ---------------------------------------------------------------- contexts and buffers */

static int math_mode(void) {
    const char *m = getenv("GTA_CUDA_MATH");
    if (!m || !*m || !strcmp(m, "fp32")) return 0;
    if (!strcmp(m, "bf16")) return 1;
    if (!strcmp(m, "tf32")) return 2;
    fprintf(stderr, "gta: error: GTA_CUDA_MATH='%s': expected fp32, bf16 or tf32\n", m);
    exit(2);
}

static gta_ctx *ctx_new(void) {
    gta_ctx *c = (gta_ctx *)calloc(1, sizeof *c);
    if (!c) cu_fail("calloc", "out of host memory", __FILE__, __LINE__);
    CU(cudaGetDevice(&c->dev));
    CU(cudaStreamCreateWithFlags(&c->st, cudaStreamNonBlocking));
    LT(cublasLtCreate(&c->lt));
    c->lt_ws_bytes = (size_t)32 << 20;
    CU(cudaMalloc(&c->lt_ws, c->lt_ws_bytes));
    c->math = math_mode();
    return c;
}

void cu_scratch_free(gta_ctx *c) {
    CU(cudaStreamSynchronize(c->st));
    for (int i = 0; i < CS_NSLOT; i++) {
        if (c->buf[i]) CU(cudaFree(c->buf[i]));
        c->buf[i] = NULL;
        c->cap[i] = 0;
    }
}

static void ctx_free(gta_ctx *c) {
    if (!c) return;
    cu_scratch_free(c);
    CU(cudaFree(c->lt_ws));
    p_cublasLtDestroy(c->lt);
    CU(cudaStreamDestroy(c->st));
    free(c);
}

static void *b_alloc(gta_ctx *c, size_t bytes) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 256);
    if (e != cudaSuccess) {
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        fprintf(
            stderr,
            "gta: error: CUDA: out of device memory allocating %.1f MiB (%.1f MiB free of %.1f MiB): %s\n",
            bytes / 1048576.0, fr / 1048576.0, tot / 1048576.0, cudaGetErrorString(e));
        abort();
    }
    (void)c;
    return p;
}

static void b_free(gta_ctx *c, void *p) {
    if (!p) return;
    /* no kernel of this context's stream still uses the buffer */
    if (c) CU(cudaStreamSynchronize(c->st));
    CU(cudaFree(p));
}

void *cu_scratch(gta_ctx *c, int slot, size_t bytes) {
    if (c->cap[slot] < bytes) {
        if (c->buf[slot]) b_free(c, c->buf[slot]);
        c->buf[slot] = b_alloc(c, bytes);
        c->cap[slot] = bytes;
    }
    return c->buf[slot];
}

void *cu_stage(gta_ctx *c, int slot, const void *host, size_t bytes) {
    void *d = cu_scratch(c, slot, bytes ? bytes : 4);
    if (bytes) CU(cudaMemcpyAsync(d, host, bytes, cudaMemcpyHostToDevice, c->st));
    return d;
}

static void to_host(gta_ctx *c, void *host, const void *dev, size_t bytes) {
    if (!bytes) return;
    CU(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, c->st));
    CU(cudaStreamSynchronize(c->st));
}

static void from_host(gta_ctx *c, void *dev, const void *host, size_t bytes) {
    if (!bytes) return;
    CU(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, c->st));
    CU(cudaStreamSynchronize(c->st)); /* the caller may reuse host at once */
}

static void b_copy(gta_ctx *c, void *dst, const void *src, size_t bytes) {
    if (dst == src || !bytes) return;
    CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->st));
}

static void b_zero(gta_ctx *c, void *dev, size_t bytes) {
    if (bytes) CU(cudaMemsetAsync(dev, 0, bytes, c->st));
}

/* host views: pinned buffers (plain memory when pinning fails) */
static void *host_buf(size_t bytes) {
    void *h = NULL;
    if (cudaMallocHost(&h, bytes ? bytes : 4) != cudaSuccess) {
        cudaGetLastError();
        h = malloc(bytes ? bytes : 4);
        if (!h) cu_fail("malloc", "out of host memory", __FILE__, __LINE__);
    }
    return h;
}

static void host_buf_free(void *h) {
    cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, h) == cudaSuccess && a.type == cudaMemoryTypeHost)
        CU(cudaFreeHost(h));
    else {
        cudaGetLastError();
        free(h);
    }
}

static const void *read_begin(gta_ctx *c, const void *dev, size_t bytes) {
    void *h = host_buf(bytes);
    to_host(c, h, dev, bytes);
    return h;
}

static void read_end(gta_ctx *c, const void *view) {
    (void)c;
    if (view) host_buf_free((void *)view);
}

static void *write_begin(gta_ctx *c, void *dev, size_t bytes) {
    void *h = host_buf(bytes);
    to_host(c, h, dev, bytes); /* bytes the caller leaves alone stay as they were */
    return h;
}

static void write_end(gta_ctx *c, void *dev, void *view, size_t bytes) {
    from_host(c, dev, view, bytes);
    host_buf_free(view);
}

static size_t mem_free(gta_ctx *c) {
    (void)c;
    size_t fr = 0, tot = 0;
    CU(cudaMemGetInfo(&fr, &tot));
    /* leave room for the CUDA context's own allocations and cuBLASLt's workspace */
    size_t keep = (size_t)256 << 20;
    return fr > keep ? fr - keep : 0;
}

static size_t scratch_bytes(gta_ctx *c, int n, int nlp, int d, int kvdim, int V, int backward) {
    (void)kvdim;
    gta_ctx none;
    memset(&none, 0, sizeof none);
    size_t head = cu_head_scratch_bytes(c ? c : &none, nlp, d, V, backward);
    /* staged index arrays, column-sum partials, attention tasks */
    size_t misc =
        sizeof(int) * (size_t)(n + nlp + 64) * 4 + sizeof(float) * ((size_t)(n / 64 + 2) * (size_t)d);
    return head + misc + ((size_t)32 << 20);
}

static void set_head_chunk(gta_ctx *c, size_t logits) { c->head_chunk = logits; }
static void scratch_release(gta_ctx *c) { cu_scratch_free(c); }

/* ---------------------------------------------------------------- products */

static uint32_t align_of(const void *p) {
    uintptr_t a = (uintptr_t)p;
    return a % 16 == 0 ? 16 : a % 8 == 0 ? 8 : 4;
}

void cu_gemm(gta_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (beta == 0.0f)
            CU(cudaMemset2DAsync(C, sizeof(float) * (size_t)ldc, 0, sizeof(float) * (size_t)N, M, c->st));
        return;
    }
    /* row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: B first */
    cublasComputeType_t ct = c->math == 1   ? CUBLAS_COMPUTE_32F_FAST_16BF
                             : c->math == 2 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                            : CUBLAS_COMPUTE_32F;
    cublasLtMatmulDesc_t op;
    LT(cublasLtMatmulDescCreate(&op, ct, CUDA_R_32F));
    cublasOperation_t oa = tb ? CUBLAS_OP_T : CUBLAS_OP_N, ob = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &oa, sizeof oa));
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &ob, sizeof ob));
    cublasLtMatrixLayout_t la, lb, lc;
    /* stored (column-major) shapes: A' = B is N x K (op N) or K x N (op T); B' = A is
     * K x M (op N) or M x K (op T); C' is N x M */
    LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, tb ? K : N, tb ? N : K, ldb));
    LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, ta ? M : K, ta ? K : M, lda));
    LT(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, N, M, ldc));
    /* pointers into a buffer may sit at any float: tell the heuristic how they align */
    uint32_t al[3] = {align_of(B), align_of(A), align_of(C)};
    int key[12] = {ta, tb, M, N, K, lda, ldb, ldc, (int)al[0], (int)al[1], (int)al[2], c->math};
    const cublasLtMatmulAlgo_t *algo = NULL;
    for (int i = 0; i < c->nalgos && !algo; i++)
        if (!memcmp(c->algos[i].key, key, sizeof key)) algo = &c->algos[i].algo;
    if (!algo) {
        cublasLtMatmulPreference_t pref;
        LT(cublasLtMatmulPreferenceCreate(&pref));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                &c->lt_ws_bytes, sizeof c->lt_ws_bytes));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0], 4));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1], 4));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2], 4));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[2], 4));
        cublasLtMatmulHeuristicResult_t h;
        int found = 0;
        LT(cublasLtMatmulAlgoGetHeuristic(c->lt, op, la, lb, lc, lc, pref, 1, &h, &found));
        p_cublasLtMatmulPreferenceDestroy(pref);
        if (!found)
            cu_fail("cublasLtMatmulAlgoGetHeuristic", "no algorithm for this product", __FILE__, __LINE__);
        int slot = c->nalgos < 128 ? c->nalgos++ : (int)((unsigned)(M * 31 + N * 7 + K) % 128u);
        memcpy(c->algos[slot].key, key, sizeof key);
        c->algos[slot].algo = h.algo;
        algo = &c->algos[slot].algo;
    }
    LT(cublasLtMatmul(c->lt, op, &alpha, B, la, A, lb, &beta, C, lc, C, lc, algo, c->lt_ws, c->lt_ws_bytes,
                      c->st));
    p_cublasLtMatrixLayoutDestroy(la);
    p_cublasLtMatrixLayoutDestroy(lb);
    p_cublasLtMatrixLayoutDestroy(lc);
    p_cublasLtMatmulDescDestroy(op);
}

static void linear(gta_ctx *c, float *y, const float *x, const float *w, const float *b, int n, int in,
                   int out, float beta) {
    if (b) {
        cu_bias_rows(c, y, b, n, out, beta == 0.0f);
        beta = 1.0f;
    }
    cu_gemm(c, 0, 1, n, out, in, 1.0f, x, in, w, in, beta, y, out);
}

static void linear_dx(gta_ctx *c, float *dx, const float *dy, const float *w, int n, int in, int out,
                      float beta) {
    cu_gemm(c, 0, 0, n, in, out, 1.0f, dy, out, w, in, beta, dx, in);
}

static void linear_dw(gta_ctx *c, float *dw, float *db, const float *dy, const float *x, int n, int in,
                      int out) {
    cu_gemm(c, 1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (db) cu_colsum(c, db, dy, NULL, NULL, n, 1, out, out);
}

/* ---------------------------------------------------------------- decode preparation */

/* fp32: decode from W as it is; bf16: W rounded to bfloat16, [out, in] */
static size_t pack_bytes(gta_ctx *c, int out, int in, int bf16) {
    (void)c;
    return bf16 ? sizeof(uint16_t) * (size_t)out * (size_t)in : 0;
}

static void pack(gta_ctx *c, void *dst, const float *w, int out, int in, int bf16) {
    if (bf16) cu_to_bf16(c, (uint16_t *)dst, w, (size_t)out * (size_t)in);
}

static void linear_packed(gta_ctx *c, float *y, const float *x, const void *packed, int bf16, const float *b,
                          int n, int in, int out, float beta) {
    if (bf16)
        cu_linear_bf16w(c, y, x, (const uint16_t *)packed, b, n, in, out, beta);
    else
        linear(c, y, x, (const float *)packed, b, n, in, out, beta);
}

/* ---------------------------------------------------------------- thin wrappers */

static void embed(gta_ctx *c, float *x, const float *t, const int *ids, int n, int d) {
    cu_embed(c, x, t, ids, n, d);
}
static void logprob_head(gta_ctx *c, float *lp, float *dx, float *dw, const float *dlp, const float *x,
                         const float *w, const int *row, const int *target, int nlp, int n, int d, int V) {
    cu_logprob_head(c, lp, NULL, dlp, NULL, NULL, dx, dw, x, w, row, target, nlp, n, d, V);
}
static void logprob_head_fused(gta_ctx *c, float *lp, float *dlp_out, gta_dlp_fn fn, void *fctx, float *dx,
                               float *dw, const float *x, const float *w, const int *row, const int *target,
                               int nlp, int n, int d, int V) {
    cu_logprob_head(c, lp, dlp_out, NULL, fn, fctx, dx, dw, x, w, row, target, nlp, n, d, V);
}
static size_t sample_bytes(gta_ctx *c, int V) {
    (void)c;
    return cu_sample_bytes(V);
}
static int threads(gta_ctx *c) {
    (void)c;
    return 1; /* host threads: the work runs on the device */
}
static void set_threads(gta_ctx *c, int n) { (void)c, (void)n; }

/* ---------------------------------------------------------------- for the comm seam */

static int device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

static int set_device(int k, char *why, size_t n) {
    cudaError_t e = cudaSetDevice(k);
    if (e != cudaSuccess) {
        snprintf(why, n, "--device cuda: cudaSetDevice(%d) failed: %s", k, cudaGetErrorString(e));
        cudaGetLastError();
        return -1;
    }
    return 0;
}

static void *cuda_stream(gta_ctx *c) { return (void *)c->st; }

static gta_backend_ops cuda_ops;

static void fill_table(void) {
    gta_backend_ops *o = &cuda_ops;
    o->version = GTA_BACKEND_VERSION;
    o->name = "cuda";
    o->ctx_new = ctx_new;
    o->ctx_free = ctx_free;
    o->alloc = b_alloc;
    o->free = b_free;
    o->to_host = to_host;
    o->from_host = from_host;
    o->copy = b_copy;
    o->zero = b_zero;
    o->read_begin = read_begin;
    o->read_end = read_end;
    o->write_begin = write_begin;
    o->write_end = write_end;
    o->mem_free = mem_free;
    o->scratch_bytes = scratch_bytes;
    o->set_head_chunk = set_head_chunk;
    o->scratch_release = scratch_release;
    o->embed = embed;
    o->embed_backward = cu_embed_backward;
    o->rmsnorm = cu_rmsnorm;
    o->rmsnorm_apply = cu_rmsnorm_apply;
    o->rmsnorm_backward = cu_rmsnorm_backward;
    o->headnorm = cu_headnorm;
    o->headnorm_backward = cu_headnorm_backward;
    o->rope_table = cu_rope_table;
    o->rope = cu_rope;
    o->linear = linear;
    o->linear_dx = linear_dx;
    o->linear_dw = linear_dw;
    /* LoRA: the general product and the adapters' dropout. The frozen-bf16-weight ops
     * (linear_bf16, linear_dx_bf16, embed_bf16, logprob_head*_bf16) are not provided: their
     * callers check for NULL and ask for an fp32 base / reference instead. */
    o->gemm = cu_gemm;
    o->dropout = cu_dropout;
    o->attention = cu_attention;
    o->attention_backward = cu_attention_backward;
    o->attention_decode = cu_attention_decode;
    o->scatter_rows = cu_scatter_rows;
    o->gather_rows = cu_gather_rows;
    o->swiglu = cu_swiglu;
    o->swiglu_backward = cu_swiglu_backward;
    o->add = cu_add;
    o->logprob_head = logprob_head;
    o->logprob_head_fused = logprob_head_fused;
    o->pack_bytes = pack_bytes;
    o->pack = pack;
    o->linear_packed = linear_packed;
    o->to_bf16 = cu_to_bf16;
    o->from_bf16 = cu_from_bf16;
    o->sample = cu_sample;
    o->sample_bytes = sample_bytes;
    o->dot3 = cu_dot3;
    o->sumsq = cu_sumsq;
    o->axpby = cu_axpby;
    o->scale = cu_scale;
    o->adamw = cu_adamw;
    o->fill_normal = cu_fill_normal;
    o->fill = cu_fill;
    o->threads = threads;
    o->set_threads = set_threads;
    o->peak_gflops = cu_peak_gflops;
    o->device_count = device_count;
    o->set_device = set_device;
    o->cuda_stream = cuda_stream;
}

extern "C" const gta_backend_ops *gta_backend_cuda_probe(char *why, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count <= 0) {
        const char *what = e == cudaErrorInsufficientDriver
                               ? "no NVIDIA driver, or one older than this build's CUDA runtime"
                           : e == cudaErrorNoDevice || e == cudaSuccess ? "no CUDA device found"
                                                                        : cudaGetErrorString(e);
        snprintf(why, n, "--device cuda: no usable CUDA device (%s)", what);
        cudaGetLastError();
        return NULL;
    }
    if (!lt_load(why, n)) return NULL;
    if (!cuda_ops.version) fill_table();
    return &cuda_ops;
}
