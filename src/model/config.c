#include "model/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/json.h"

const char *gta_arch_name(gta_arch a) {
    return a == GTA_ARCH_QWEN2 ? "qwen2" : a == GTA_ARCH_QWEN3 ? "qwen3" : "llama";
}

static int get_int(const char *path, const cJSON *j, const char *key, int *out, int required, long long lo) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!required && (!f || cJSON_IsNull(f))) return GTA_OK; /* absent: the caller's default stands */
    long long v = *out;
    int rc = required ? gta_json_int_req(path, j, key, &v) : gta_json_int_opt(path, j, key, &v);
    if (rc) return rc;
    if (v < lo || v > 1 << 30)
        return gta_err_set(GTA_EINPUT, "%s: field '%s' = %lld: expected an integer >= %lld", path, key, v, lo);
    *out = (int)v;
    return GTA_OK;
}

static int parse_rope(const char *path, const cJSON *r, const char *where, gta_config *c) {
    if (!r || cJSON_IsNull(r)) return GTA_OK;
    if (!cJSON_IsObject(r)) return gta_err_set(GTA_EINPUT, "%s: field '%s': expected an object", path, where);
    int rc = gta_json_num_opt(path, r, "rope_theta", &c->rope_theta);
    if (rc) return rc;
    const char *type = NULL;
    if ((rc = gta_json_str_opt(path, r, "rope_type", &type))) return rc;
    if (!type && (rc = gta_json_str_opt(path, r, "type", &type))) return rc;
    if (!type || !strcmp(type, "default")) {
        c->rope_type = GTA_ROPE_DEFAULT;
        return GTA_OK;
    }
    if (!strcmp(type, "linear")) {
        c->rope_type = GTA_ROPE_LINEAR;
    } else if (!strcmp(type, "llama3")) {
        c->rope_type = GTA_ROPE_LLAMA3;
    } else {
        return gta_err_set(GTA_EINPUT, "%s: %s.rope_type '%s' is not supported (default, linear, llama3)", path,
                           where, type);
    }
    c->rope_factor = 0;
    if ((rc = gta_json_num_opt(path, r, "factor", &c->rope_factor))) return rc;
    if (!(c->rope_factor > 0))
        return gta_err_set(GTA_EINPUT, "%s: %s.factor: expected a positive number", path, where);
    if (c->rope_type == GTA_ROPE_LLAMA3) {
        double lo = -1, hi = -1;
        long long orig = -1;
        if ((rc = gta_json_num_opt(path, r, "low_freq_factor", &lo)) ||
            (rc = gta_json_num_opt(path, r, "high_freq_factor", &hi)) ||
            (rc = gta_json_int_opt(path, r, "original_max_position_embeddings", &orig)))
            return rc;
        if (!(lo > 0) || !(hi > lo) || orig <= 0)
            return gta_err_set(GTA_EINPUT,
                               "%s: %s: llama3 rope needs low_freq_factor > 0, high_freq_factor > low_freq_factor "
                               "and original_max_position_embeddings > 0",
                               path, where);
        c->rope_low_freq_factor = lo;
        c->rope_high_freq_factor = hi;
        c->rope_original_max_position = (int)orig;
    }
    return GTA_OK;
}

int gta_config_from_json(const char *path, const cJSON *j, gta_config *c) {
    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(j)) return gta_err_set(GTA_EINPUT, "%s: expected a JSON object", path);
    const char *mt = NULL;
    int rc = gta_json_str_opt(path, j, "model_type", &mt);
    if (rc) return rc;
    if (!mt) return gta_err_set(GTA_EINPUT, "%s: missing field 'model_type'", path);
    if (!strcmp(mt, "llama"))
        c->arch = GTA_ARCH_LLAMA;
    else if (!strcmp(mt, "qwen2"))
        c->arch = GTA_ARCH_QWEN2;
    else if (!strcmp(mt, "qwen3"))
        c->arch = GTA_ARCH_QWEN3;
    else
        return gta_err_set(GTA_EINPUT, "%s: model_type '%s' is not supported (llama, qwen2, qwen3)", path, mt);

    c->rms_norm_eps = 1e-6;
    c->rope_theta = 10000.0;
    c->max_position_embeddings = 2048;
    c->bos_token_id = -1;
    if ((rc = get_int(path, j, "vocab_size", &c->vocab_size, 1, 1)) ||
        (rc = get_int(path, j, "hidden_size", &c->hidden_size, 1, 1)) ||
        (rc = get_int(path, j, "intermediate_size", &c->intermediate_size, 1, 1)) ||
        (rc = get_int(path, j, "num_hidden_layers", &c->num_layers, 1, 1)) ||
        (rc = get_int(path, j, "num_attention_heads", &c->num_heads, 1, 1)))
        return rc;
    c->num_kv_heads = c->num_heads;
    if ((rc = get_int(path, j, "num_key_value_heads", &c->num_kv_heads, 0, 1))) return rc;
    if (c->num_heads % c->num_kv_heads)
        return gta_err_set(GTA_EINPUT, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", path,
                           c->num_heads, c->num_kv_heads);
    c->head_dim = c->hidden_size / c->num_heads;
    if ((rc = get_int(path, j, "head_dim", &c->head_dim, 0, 2))) return rc;
    if (c->head_dim < 2)
        return gta_err_set(
            GTA_EINPUT, "%s: hidden_size %d / num_attention_heads %d gives head_dim %d: give a head_dim >= 2",
            path, c->hidden_size, c->num_heads, c->head_dim);
    if (c->head_dim % 2) return gta_err_set(GTA_EINPUT, "%s: head_dim %d must be even for RoPE", path, c->head_dim);
    if ((rc = get_int(path, j, "max_position_embeddings", &c->max_position_embeddings, 0, 1))) return rc;
    if ((rc = gta_json_num_opt(path, j, "rms_norm_eps", &c->rms_norm_eps))) return rc;
    if (!(c->rms_norm_eps >= 0)) return gta_err_set(GTA_EINPUT, "%s: rms_norm_eps must be >= 0", path);

    /* both layouts: top-level rope_theta/rope_scaling (published checkpoints) and
     * transformers-5 rope_parameters; rope_parameters wins where both appear */
    if ((rc = gta_json_num_opt(path, j, "rope_theta", &c->rope_theta))) return rc;
    if ((rc = parse_rope(path, cJSON_GetObjectItemCaseSensitive(j, "rope_scaling"), "rope_scaling", c))) return rc;
    if ((rc = parse_rope(path, cJSON_GetObjectItemCaseSensitive(j, "rope_parameters"), "rope_parameters", c)))
        return rc;
    if (!(c->rope_theta > 0)) return gta_err_set(GTA_EINPUT, "%s: rope_theta must be positive", path);

    /* LlamaConfig, Qwen2Config and Qwen3Config all default to untied */
    int tie = 0;
    if ((rc = gta_json_bool_opt(path, j, "tie_word_embeddings", &tie))) return rc;
    c->tie_word_embeddings = tie;

    int attn_bias = 0, mlp_bias = 0;
    if ((rc = gta_json_bool_opt(path, j, "attention_bias", &attn_bias))) return rc;
    if ((rc = gta_json_bool_opt(path, j, "mlp_bias", &mlp_bias))) return rc;
    c->qkv_bias = c->arch == GTA_ARCH_QWEN2 ? 1 : attn_bias;
    c->o_bias = c->arch == GTA_ARCH_LLAMA ? attn_bias : 0;
    c->mlp_bias = c->arch == GTA_ARCH_LLAMA ? mlp_bias : 0;
    c->qk_norm = c->arch == GTA_ARCH_QWEN3;

    /* sizes that no checkpoint can have are input errors, not allocation failures */
    if (c->vocab_size > 1 << 24 || c->hidden_size > 1 << 20 || c->intermediate_size > 1 << 22 ||
        c->num_layers > 4096 || c->num_heads > 4096 || c->head_dim > 4096)
        return gta_err_set(GTA_EINPUT, "%s: implausible sizes (vocab %d, hidden %d, intermediate %d, layers %d, "
                           "heads %d, head_dim %d)", path, c->vocab_size, c->hidden_size, c->intermediate_size,
                           c->num_layers, c->num_heads, c->head_dim);
    long long np = gta_config_num_params(c);
    if (np > 1LL << 38 || (long long)c->vocab_size * c->hidden_size > 1LL << 36)
        return gta_err_set(GTA_EINPUT, "%s: the sizes imply %lld parameters, more than gta can hold", path, np);

    const char *act = NULL;
    if ((rc = gta_json_str_opt(path, j, "hidden_act", &act))) return rc;
    if (act && strcmp(act, "silu") != 0)
        return gta_err_set(GTA_EINPUT, "%s: hidden_act '%s' is not supported (silu)", path, act);
    int sliding = 0;
    if ((rc = gta_json_bool_opt(path, j, "use_sliding_window", &sliding))) return rc;
    if (sliding)
        return gta_err_set(GTA_EINPUT, "%s: use_sliding_window=true is not supported (full attention only)", path);

    if ((rc = get_int(path, j, "bos_token_id", &c->bos_token_id, 0, 0))) return rc;
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(j, "eos_token_id");
    if (cJSON_IsNumber(eos)) {
        c->eos_token_ids[c->n_eos++] = eos->valueint;
    } else if (cJSON_IsArray(eos)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, eos) {
            if (!cJSON_IsNumber(e)) return gta_err_set(GTA_EINPUT, "%s: eos_token_id: expected integers", path);
            if (c->n_eos < 8) c->eos_token_ids[c->n_eos++] = e->valueint;
        }
    } else if (eos && !cJSON_IsNull(eos)) {
        return gta_err_set(GTA_EINPUT, "%s: eos_token_id: expected an integer or a list", path);
    }
    const char *dt = "float32";
    if ((rc = gta_json_str_opt(path, j, "torch_dtype", &dt))) return rc;
    if ((rc = gta_json_str_opt(path, j, "dtype", &dt))) return rc;
    snprintf(c->dtype, sizeof c->dtype, "%s", dt);
    return GTA_OK;
}

int gta_config_load(const char *path, gta_config *c) {
    cJSON *j = NULL;
    int rc = gta_json_load(path, &j);
    if (rc) return rc;
    rc = gta_config_from_json(path, j, c);
    cJSON_Delete(j);
    return rc;
}

long long gta_config_num_params(const gta_config *c) {
    long long d = c->hidden_size, hd = c->head_dim, q = (long long)c->num_heads * hd,
              kv = (long long)c->num_kv_heads * hd, f = c->intermediate_size;
    long long layer = d                                  /* input norm */
                      + d * (q + 2 * kv) + (c->qkv_bias ? q + 2 * kv : 0) + q * d + (c->o_bias ? d : 0) +
                      (c->qk_norm ? 2 * hd : 0) + d      /* post-attention norm */
                      + 3 * d * f + (c->mlp_bias ? 2 * f + d : 0);
    return (long long)c->vocab_size * d * (c->tie_word_embeddings ? 1 : 2) + c->num_layers * layer + d;
}

char *gta_config_to_json(const gta_config *c, const char *dtype) {
    cJSON *j = cJSON_CreateObject();
    const char *arch = c->arch == GTA_ARCH_QWEN2   ? "Qwen2ForCausalLM"
                       : c->arch == GTA_ARCH_QWEN3 ? "Qwen3ForCausalLM"
                                                   : "LlamaForCausalLM";
    cJSON *a = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(a, cJSON_CreateString(arch));
    cJSON_AddStringToObject(j, "model_type", gta_arch_name(c->arch));
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(j, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->num_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->num_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->num_kv_heads);
    cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_position_embeddings);
    cJSON_AddNumberToObject(j, "rms_norm_eps", c->rms_norm_eps);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    cJSON *rp = cJSON_AddObjectToObject(j, "rope_parameters");
    cJSON_AddNumberToObject(rp, "rope_theta", c->rope_theta);
    const char *rt = c->rope_type == GTA_ROPE_LLAMA3 ? "llama3" : c->rope_type == GTA_ROPE_LINEAR ? "linear" : "default";
    cJSON_AddStringToObject(rp, "rope_type", rt);
    if (c->rope_type != GTA_ROPE_DEFAULT) {
        cJSON *rs = cJSON_AddObjectToObject(j, "rope_scaling");
        cJSON_AddStringToObject(rs, "rope_type", rt);
        cJSON_AddNumberToObject(rs, "factor", c->rope_factor);
        cJSON_AddNumberToObject(rp, "factor", c->rope_factor);
        if (c->rope_type == GTA_ROPE_LLAMA3) {
            cJSON *both[2] = {rp, rs};
            for (int i = 0; i < 2; i++) {
                cJSON_AddNumberToObject(both[i], "low_freq_factor", c->rope_low_freq_factor);
                cJSON_AddNumberToObject(both[i], "high_freq_factor", c->rope_high_freq_factor);
                cJSON_AddNumberToObject(both[i], "original_max_position_embeddings", c->rope_original_max_position);
            }
        }
    }
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tie_word_embeddings);
    if (c->arch != GTA_ARCH_QWEN2) cJSON_AddBoolToObject(j, "attention_bias", c->qkv_bias);
    if (c->arch == GTA_ARCH_LLAMA) cJSON_AddBoolToObject(j, "mlp_bias", c->mlp_bias);
    if (c->arch != GTA_ARCH_LLAMA) cJSON_AddBoolToObject(j, "use_sliding_window", 0);
    if (c->bos_token_id >= 0) cJSON_AddNumberToObject(j, "bos_token_id", c->bos_token_id);
    if (c->n_eos == 1) {
        cJSON_AddNumberToObject(j, "eos_token_id", c->eos_token_ids[0]);
    } else if (c->n_eos > 1) {
        cJSON *e = cJSON_AddArrayToObject(j, "eos_token_id");
        for (int i = 0; i < c->n_eos; i++) cJSON_AddItemToArray(e, cJSON_CreateNumber(c->eos_token_ids[i]));
    }
    cJSON_AddStringToObject(j, "dtype", dtype);
    cJSON_AddStringToObject(j, "torch_dtype", dtype);
    cJSON_AddBoolToObject(j, "use_cache", 1);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}
