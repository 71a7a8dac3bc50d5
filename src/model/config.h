/* Model configuration from a Hugging Face config.json (llama, qwen2, qwen3). */
#ifndef GTA_MODEL_CONFIG_H
#define GTA_MODEL_CONFIG_H

typedef enum { GTA_ARCH_LLAMA, GTA_ARCH_QWEN2, GTA_ARCH_QWEN3 } gta_arch;
typedef enum { GTA_ROPE_DEFAULT, GTA_ROPE_LINEAR, GTA_ROPE_LLAMA3 } gta_rope_type;

typedef struct {
    gta_arch arch;
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int num_layers;
    int num_heads;
    int num_kv_heads;
    int head_dim;
    int max_position_embeddings;
    double rms_norm_eps;
    double rope_theta;
    gta_rope_type rope_type;
    double rope_factor;
    double rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_position;
    int tie_word_embeddings;
    int qkv_bias;  /* qwen2 always; llama/qwen3 with attention_bias */
    int o_bias;    /* llama with attention_bias */
    int mlp_bias;  /* llama with mlp_bias */
    int qk_norm;   /* qwen3 */
    int bos_token_id;    /* -1 when absent */
    int eos_token_ids[8]; /* config's eos (int or list) */
    int n_eos;
    char dtype[16];      /* "float32", "bfloat16", ... as stored */
} gta_config;

/* Parses dir/config.json (path names the file in messages). */
int gta_config_load(const char *path, gta_config *c);
/* Parses an already loaded JSON object. */
struct cJSON;
int gta_config_from_json(const char *path, const struct cJSON *j, gta_config *c);
/* Serializes to a config.json that transformers loads (transformers-5 layout with
 * rope_parameters, plus top-level rope_theta for older readers); dtype and torch_dtype say
 * `dtype` ("float32", "bfloat16", "float16": the dtype the weights are written in).
 * Caller frees. */
char *gta_config_to_json(const gta_config *c, const char *dtype);
const char *gta_arch_name(gta_arch a);
/* Number of parameters. */
long long gta_config_num_params(const gta_config *c);

#endif
