/* gta bench --what grpo-step|gta-step: one whole RL step, with the shape and the work of
 * ../shared/bench/torch_grpo_step.py (TRL's GRPOTrainer step in plain PyTorch), through
 * the trainer's own code: P random prompts of L tokens, G samples each at temperature 1
 * with N new tokens for every sample (no end-of-sequence token, no stop string), random
 * rewards 0/1/2 and their group-normalised advantages, the tree batch (rollout.c), the
 * old and reference log-probs, then U optimizer steps (step.c: clipped ratio + k3 KL,
 * sequence mean, clip 1.0, AdamW; gta-step adds the gold-guess branch, its SFT loss, the
 * second backward and the gate).
 *
 * The work differs from the baseline's where gta's trainer differs: the prompt of a group
 * is prefilled and trained once (prefix sharing), where TRL repeats it G times. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "train/trainer_int.h"

/* the gold-guess branch of a prompt in the GTA step ("<guess>LABEL</guess>": about 8 tokens) */
#define GUESS_LEN 8

typedef struct {
    double generate, batch, old_logps, ref_logps, updates, total;
} phases;

static const char *const phase_name[] = {"generate", "batch", "old_logps", "ref_logps", "updates", "total"};
#define NPHASE 6

static double *phase_at(phases *p, int i) {
    double *v[NPHASE] = {&p->generate, &p->batch, &p->old_logps, &p->ref_logps, &p->updates, &p->total};
    return v[i];
}

/* one step: rollout, batch, old and reference log-probs, U updates */
static int one_step(trainer *t, const gta_tok *const *prompts, const int *plen, int P, int G, int N, int U,
                    uint64_t seed, phases *ph, step_stats *last) {
    rollout *r = &t->ro;
    ro_free(r);
    int nseq = P * G, rc = GTA_OK;
    gta_sample_seq *smp = gta_calloc((size_t)nseq, sizeof *smp);
    gta_sample_params sp;
    memset(&sp, 0, sizeof sp);
    sp.temperature = t->cfg.temperature;
    sp.top_p = t->cfg.top_p;
    sp.bf16_weights = !strcmp(t->cfg.rollout_weights, "bf16");
    sp.max_new_tokens = N;
    sp.seed = seed;
    double t0 = gta_now();
    rc = gta_sample(t->policy, prompts, plen, P, G, NULL, &sp, smp);
    double t1 = gta_now();
    for (int s = 0; s < nseq && !rc; s++)
        if (smp[s].n != N)
            rc = gta_err_set(GTA_EFAIL, "bench: sample %d stopped after %d of %d tokens", s, smp[s].n, N);
    gta_ids *gold = gta_calloc((size_t)P, sizeof *gold);
    const gta_ids **guess = gta_calloc((size_t)P, sizeof *guess);
    if (!rc) {
        /* random rewards (a reward function costs nothing next to the model), advantages */
        float *rew = gta_malloc(sizeof(float) * (size_t)nseq);
        for (int s = 0; s < nseq; s++) rew[s] = (float)(gta_rng_u64(seed, 11, (uint64_t)s) % 3);
        r->nseq = nseq;
        r->seq_adv = gta_malloc(sizeof(float) * (size_t)nseq);
        for (int p = 0; p < P; p++)
            gta_group_advantages(rew + p * G, G, t->cfg.adv_eps, r->seq_adv + p * G, NULL);
        free(rew);
        for (int p = 0; p < P && t->method == M_GTA; p++) {
            gold[p].ids = gta_malloc(sizeof(gta_tok) * GUESS_LEN);
            gold[p].n = gold[p].cap = GUESS_LEN;
            for (int j = 0; j < GUESS_LEN; j++)
                gold[p].ids[j] = (gta_tok)(gta_rng_u64(seed, 13, (uint64_t)(p * GUESS_LEN + j)) %
                                           (uint64_t)t->policy->cfg.vocab_size);
            guess[p] = &gold[p];
        }
        rc = ro_assemble(t, prompts, plen, P, G, smp, guess, NULL);
    }
    double t2 = gta_now();
    if (!rc) rc = ro_logps(t, &ph->old_logps, &ph->ref_logps);
    double t3 = gta_now();
    if (!rc) r->valid = 1;
    for (int u = 0; u < U && !rc; u++) rc = optimizer_step(t, last);
    double t4 = gta_now();
    ph->generate = t1 - t0, ph->batch = t2 - t1, ph->updates = t4 - t3, ph->total = t4 - t0;
    if (!rc && !isfinite(last->loss)) rc = gta_err_set(GTA_EFAIL, "bench: the step's loss is not finite");
    for (int p = 0; p < P; p++) gta_ids_free(&gold[p]);
    free(gold), free(guess);
    gta_sample_seq_free(smp, nseq);
    free(smp);
    return rc;
}

static void add_phases(cJSON *j, const char *key, const phases *p) {
    cJSON *o = cJSON_AddObjectToObject(j, key);
    for (int i = 0; i < NPHASE; i++)
        cJSON_AddNumberToObject(o, phase_name[i], round(*phase_at((phases *)p, i) * 1e4) / 1e4);
}

int gta_bench_step(const gta_config *c, const char *name, int gta, const gta_step_shape *sh, char **json) {
    const int P = sh->prompts, G = sh->group, L = sh->prompt_len, N = sh->new_tokens, U = sh->iterations;
    if (P <= 0 || G < 2 || L <= 0 || N <= 0 || U <= 0 || sh->runs <= 0)
        return gta_err_set(GTA_EINPUT,
                           "bench: --prompts, --prompt-len, --new-tokens, --num-iterations and --runs must "
                           "be positive and --group-size at least 2");
    if ((long long)P * (L + (long long)G * N + GUESS_LEN) > (1LL << 30))
        return gta_err_set(GTA_EINPUT, "bench: the step's shape implies more than 2^30 tokens");
    trainer t;
    memset(&t, 0, sizeof t);
    gta_train_defaults(&t.cfg, gta ? "gta" : "grpo");
    /* the baseline's settings: lr 1e-6, no weight decay, eps 0.2, beta 0.01, clip 1.0,
     * sequence mean, T = 1; no reference refresh, no warm-up */
    t.cfg.batch_prompts = P, t.cfg.group_size = G, t.cfg.num_iterations = U, t.cfg.max_new_tokens = N;
    t.cfg.ref_sync_steps = 0, t.cfg.warmup_ratio = 0;
    t.method = gta ? M_GTA : M_GRPO;
    t.comm = gta_comm_single();
    t.be = gta_bench_backend();
    t.policy = gta_bench_model(c);
    if (!t.policy) return GTA_EINPUT;
    snprintf(t.cfg.compute, sizeof t.cfg.compute, "%s", gta_compute_name(t.policy->compute));
    t.ref = gta_model_clone(t.policy); /* with the policy's compute */
    gta_model_alloc_grads(t.policy);
    if (gta) t.g_sft = t.policy->be->alloc(t.policy->ctx, sizeof(float) * t.policy->n_params);
    gta_adamw_init(&t.opt, t.policy, t.cfg.learning_rate, t.cfg.weight_decay);
    t.total_steps = 1LL << 40;

    gta_tok *buf = gta_malloc(sizeof(gta_tok) * (size_t)P * (size_t)L);
    const gta_tok **prompts = gta_malloc(sizeof *prompts * (size_t)P);
    int *plen = gta_malloc(sizeof(int) * (size_t)P), *wlen = gta_malloc(sizeof(int) * (size_t)P);
    for (int p = 0; p < P; p++) {
        for (int i = 0; i < L; i++)
            buf[(size_t)p * L + i] =
                (gta_tok)(gta_rng_u64(17, (uint64_t)p, (uint64_t)i) % (uint64_t)c->vocab_size);
        prompts[p] = buf + (size_t)p * L;
        plen[p] = L, wlen[p] = L < 32 ? L : 32;
    }
    phases warm, *ph = gta_calloc((size_t)sh->runs, sizeof *ph);
    step_stats st;
    memset(&st, 0, sizeof st);
    /* warm-up at a small shape, as the baseline: 32-token prompts, G = 2, 4 tokens, 1 update */
    int rc = one_step(&t, prompts, wlen, P, 2, N < 4 ? N : 4, 1, 1000, &warm, &st);
    for (int k = 0; k < sh->runs && !rc; k++)
        rc = one_step(&t, prompts, plen, P, G, N, U, (uint64_t)k, &ph[k], &st);
    if (!rc) {
        phases med;
        double *v = gta_malloc(sizeof(double) * (size_t)sh->runs);
        for (int i = 0; i < NPHASE; i++) {
            for (int k = 0; k < sh->runs; k++) v[k] = *phase_at(&ph[k], i);
            *phase_at(&med, i) = gta_bench_median(v, sh->runs);
        }
        free(v);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "what", gta ? "gta-step" : "grpo-step");
        cJSON_AddStringToObject(j, "config", name);
        cJSON_AddNumberToObject(j, "params_m", round(t.policy->n_params / 1e4) / 100);
        cJSON_AddNumberToObject(j, "prompts", P);
        cJSON_AddNumberToObject(j, "group_size", G);
        cJSON_AddNumberToObject(j, "prompt_len", L);
        cJSON_AddNumberToObject(j, "new_tokens", N);
        cJSON_AddNumberToObject(j, "num_iterations", U);
        if (gta) cJSON_AddNumberToObject(j, "guess_len", GUESS_LEN);
        cJSON_AddStringToObject(j, "compute", gta_compute_name(t.policy->compute));
        cJSON_AddStringToObject(j, "bf16_kernel", gta_model_compute_kernel(t.policy));
        if (gta_model_compute_choice(t.policy))
            cJSON_AddStringToObject(j, "bf16_default", gta_model_compute_choice(t.policy));
        cJSON_AddStringToObject(j, "rollout_weights", t.cfg.rollout_weights);
        cJSON_AddNumberToObject(j, "threads", t.policy->be->threads(t.policy->ctx));
        cJSON_AddNumberToObject(j, "runs", sh->runs);
        double lo = ph[0].total, hi = ph[0].total;
        for (int k = 1; k < sh->runs; k++) lo = fmin(lo, ph[k].total), hi = fmax(hi, ph[k].total);
        cJSON_AddNumberToObject(j, "seconds", round(med.total * 1e4) / 1e4);
        cJSON_AddNumberToObject(j, "min", round(lo * 1e4) / 1e4);
        cJSON_AddNumberToObject(j, "max", round(hi * 1e4) / 1e4);
        add_phases(j, "seconds_median", &med);
        cJSON *all = cJSON_AddArrayToObject(j, "seconds_all");
        for (int k = 0; k < sh->runs; k++) {
            cJSON *o = cJSON_CreateObject();
            for (int i = 0; i < NPHASE; i++)
                cJSON_AddNumberToObject(o, phase_name[i], round(*phase_at(&ph[k], i) * 1e4) / 1e4);
            cJSON_AddItemToArray(all, o);
        }
        cJSON_AddNumberToObject(j, "sequences", P * G);
        /* the baseline's count (every sample its own copy of the prompt) and gta's tree batch */
        cJSON_AddNumberToObject(j, "tokens_per_forward", (double)P * G * (L + N));
        cJSON_AddNumberToObject(j, "batch_tokens", t.ro.n);
        cJSON_AddNumberToObject(j, "generated_tokens", (double)P * G * N);
        cJSON_AddNumberToObject(j, "loss", st.loss);
        if (gta) cJSON_AddNumberToObject(j, "gate_cosine", round(st.cos * 1e4) / 1e4);
        cJSON_AddNumberToObject(j, "peak_rss_mib", round(gta_bench_peak_rss_mib()));
        gta_bench_add_blas(j);
        *json = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    free(ph), free(buf), free(prompts), free(plen), free(wlen);
    ro_free(&t.ro);
    gta_adamw_free(&t.opt);
    if (t.g_sft) t.policy->be->free(t.policy->ctx, t.g_sft);
    gta_model_free(t.ref);
    gta_model_free(t.policy);
    return rc;
}
