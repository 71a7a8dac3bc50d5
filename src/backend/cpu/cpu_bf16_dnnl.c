/* bf16 GEMM through oneDNN's matmul primitive (Debian's libdnnl, when the build finds it:
 * GTA_HAVE_DNNL). oneDNN picks AMX tiles or AVX512-BF16 itself and runs on the same
 * OpenMP threads as the rest of the backend. Primitives are made once per shape and kept
 * (a training step has a few dozen distinct shapes). */
#include "backend/cpu/cpu_bf16.h"

#ifdef GTA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>

int cpu_bf16_dnnl_built(void) { return 1; }

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc, acc;
    dnnl_memory_desc_t ad, bd, cd;
    dnnl_primitive_t p;
} entry;

enum { NCACHE = 128 };
static entry cache[NCACHE];
static int ncache, next_evict;
static dnnl_engine_t eng;
static dnnl_stream_t stream;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static entry *find(int ta, int tb, int M, int N, int K, int lda, int ldb, int ldc, int acc) {
    for (int i = 0; i < ncache; i++) {
        entry *e = &cache[i];
        if (e->ta == ta && e->tb == tb && e->M == M && e->N == N && e->K == K && e->lda == lda &&
            e->ldb == ldb && e->ldc == ldc && e->acc == acc)
            return e;
    }
    return NULL;
}

static int make(entry *e, float beta) {
    /* logical A [M, K], B [K, N], C [M, N], by strides over the stored layouts */
    dnnl_dims_t da = {e->M, e->K}, db = {e->K, e->N}, dc = {e->M, e->N};
    dnnl_dims_t sa = {e->ta ? 1 : e->lda, e->ta ? e->lda : 1}, sb = {e->tb ? 1 : e->ldb, e->tb ? e->ldb : 1},
                sc = {e->ldc, 1};
    if (dnnl_memory_desc_init_by_strides(&e->ad, 2, da, dnnl_bf16, sa) ||
        dnnl_memory_desc_init_by_strides(&e->bd, 2, db, dnnl_bf16, sb) ||
        dnnl_memory_desc_init_by_strides(&e->cd, 2, dc, dnnl_f32, sc))
        return 1;
    dnnl_matmul_desc_t md;
    if (dnnl_matmul_desc_init(&md, &e->ad, &e->bd, NULL, &e->cd)) return 1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (e->acc) { /* C = beta C + A B: the sum post-op */
        if (dnnl_primitive_attr_create(&attr) || dnnl_post_ops_create(&po) ||
            dnnl_post_ops_append_sum(po, beta) || dnnl_primitive_attr_set_post_ops(attr, po))
            return 1;
    }
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s) return 1;
    s = dnnl_primitive_create(&e->p, pd);
    dnnl_primitive_desc_destroy(pd);
    return s != dnnl_success;
}

int cpu_bf16_dnnl_gemm(int ta, int tb, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                       int ldb, float beta, float *C, int ldc) {
    /* beta is 0 or 1 in every use; another beta gets its own primitive key only through acc */
    int acc = beta != 0.0f ? (beta == 1.0f ? 1 : 2) : 0, rc = 1;
    if (acc == 2) return 1;
    pthread_mutex_lock(&lock);
    if (!eng && (dnnl_engine_create(&eng, dnnl_cpu, 0) ||
                 dnnl_stream_create(&stream, eng, dnnl_stream_default_flags)))
        goto out;
    entry *e = find(ta, tb, M, N, K, lda, ldb, ldc, acc);
    if (!e) {
        int slot = ncache < NCACHE ? ncache++ : (next_evict++ % NCACHE);
        e = &cache[slot];
        if (e->p) dnnl_primitive_destroy(e->p);
        *e = (entry){ta, tb, M, N, K, lda, ldb, ldc, acc, {0}, {0}, {0}, NULL};
        if (make(e, beta)) {
            e->M = -1; /* never matches */
            goto out;
        }
    }
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL;
    if (!dnnl_memory_create(&ma, &e->ad, eng, (void *)A) &&
        !dnnl_memory_create(&mb, &e->bd, eng, (void *)B) && !dnnl_memory_create(&mc, &e->cd, eng, C)) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
        rc = dnnl_primitive_execute(e->p, stream, 3, args) || dnnl_stream_wait(stream);
    }
    if (ma) dnnl_memory_destroy(ma);
    if (mb) dnnl_memory_destroy(mb);
    if (mc) dnnl_memory_destroy(mc);
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

int cpu_dnnl_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc) {
    return dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc) !=
           dnnl_success;
}

#else

int cpu_bf16_dnnl_built(void) { return 0; }

int cpu_dnnl_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc) {
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)beta,
        (void)C, (void)ldc;
    return 1;
}

int cpu_bf16_dnnl_gemm(int ta, int tb, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                       int ldb, float beta, float *C, int ldc) {
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)beta,
        (void)C, (void)ldc;
    return 1;
}

#endif
