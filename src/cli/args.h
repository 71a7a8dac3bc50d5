/* Minimal long-option parsing shared by the commands: "--name value", "--name=value"
 * and boolean "--name".  Unknown options are errors (exit 2) that name the option. */
#ifndef GTA_CLI_ARGS_H
#define GTA_CLI_ARGS_H

typedef enum { ARG_STR, ARG_INT, ARG_DOUBLE, ARG_FLAG, ARG_STR_LIST } arg_kind;

typedef struct {
    const char *name; /* without the leading "--" */
    arg_kind kind;
    void *out;        /* const char **, long long *, double *, int *, or arg_list * */
    const char *help;
} arg_spec;

typedef struct {
    const char **items;
    int n;
} arg_list;

/* Parses argv[0..argc) (argv[0] is the first option, not the command). On error sets the
 * message and returns GTA_EINPUT. "--help" prints usage and returns -1. */
int args_parse(const char *cmd, int argc, char **argv, const arg_spec *specs, int nspecs);
void args_usage(const char *cmd, const char *synopsis, const arg_spec *specs, int nspecs);
void arg_list_free(arg_list *l);

/* The one place a --model argument (or --init, ...) becomes a model directory: a
 * directory as it is, or a Hub name "Org/Name" found offline in the Hugging Face cache at
 * revision (NULL: main), see io/hf_cache.h.  On success *value points to the directory,
 * which *owned holds (free it); a NULL *value is left alone.  Errors name the command
 * and the option. */
int cli_model_arg(const char *cmd, const char *opt, const char **value, const char *revision, char **owned);

/* The one place a --device argument becomes a backend: cpu (the default, also for NULL) or
 * cuda; an unknown or absent one is GTA_EINPUT naming the command. */
struct gta_backend_ops;
int cli_device_arg(const char *cmd, const char *name, const struct gta_backend_ops **be);

/* The one place a --compute argument becomes a precision: f32 (the default, also for NULL)
 * or bf16 (model.h's gta_compute); another value is GTA_EINPUT naming the command. */
int cli_compute_arg(const char *cmd, const char *name, int *compute);
#define CLI_COMPUTE_HELP "f32 | bf16: the linear products' precision (bf16 inputs, fp32 sums) [f32]"

#endif
