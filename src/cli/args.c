#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/error.h"
#include "io/hf_cache.h"
#include "model/model.h"

void arg_list_free(arg_list *l) {
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void args_usage(const char *cmd, const char *synopsis, const arg_spec *specs, int nspecs) {
    printf("usage: gta %s %s\n\noptions:\n", cmd, synopsis ? synopsis : "[options]");
    for (int i = 0; i < nspecs; i++) {
        const char *v = specs[i].kind == ARG_FLAG ? "" : specs[i].kind == ARG_INT ? " N"
                        : specs[i].kind == ARG_DOUBLE ? " X" : specs[i].kind == ARG_STR_LIST ? " F..." : " S";
        char left[64];
        snprintf(left, sizeof left, "--%s%s", specs[i].name, v);
        printf("  %-26s %s\n", left, specs[i].help ? specs[i].help : "");
    }
}

static int set_value(const char *cmd, const arg_spec *s, const char *val) {
    char *end;
    switch (s->kind) {
    case ARG_STR:
        *(const char **)s->out = val;
        return GTA_OK;
    case ARG_INT: {
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end)
            return gta_err_set(GTA_EINPUT, "gta %s: --%s expects an integer, got '%s'", cmd, s->name, val);
        *(long long *)s->out = v;
        return GTA_OK;
    }
    case ARG_DOUBLE: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end)
            return gta_err_set(GTA_EINPUT, "gta %s: --%s expects a number, got '%s'", cmd, s->name, val);
        *(double *)s->out = v;
        return GTA_OK;
    }
    case ARG_STR_LIST: {
        arg_list *l = s->out;
        l->items = gta_realloc(l->items, sizeof(char *) * (size_t)(l->n + 1));
        l->items[l->n++] = val;
        return GTA_OK;
    }
    case ARG_FLAG:
        break;
    }
    return GTA_EINPUT;
}

int args_parse(const char *cmd, int argc, char **argv, const arg_spec *specs, int nspecs) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return -1;
        if (strncmp(a, "--", 2) != 0)
            return gta_err_set(GTA_EINPUT, "gta %s: unexpected argument '%s'", cmd, a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const arg_spec *s = NULL;
        for (int k = 0; k < nspecs; k++)
            if (strlen(specs[k].name) == nlen && !strncmp(specs[k].name, name, nlen)) s = &specs[k];
        if (!s) return gta_err_set(GTA_EINPUT, "gta %s: unknown option '%.*s' (see gta %s --help)", cmd,
                                   (int)nlen + 2, a, cmd);
        if (s->kind == ARG_FLAG) {
            if (eq) return gta_err_set(GTA_EINPUT, "gta %s: --%s takes no value", cmd, s->name);
            *(int *)s->out = 1;
            continue;
        }
        if (eq) {
            int rc = set_value(cmd, s, eq + 1);
            if (rc) return rc;
            continue;
        }
        if (i + 1 >= argc) return gta_err_set(GTA_EINPUT, "gta %s: --%s needs a value", cmd, s->name);
        int rc = set_value(cmd, s, argv[++i]);
        if (rc) return rc;
        /* a list option takes every following word that is not an option */
        if (s->kind == ARG_STR_LIST)
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) set_value(cmd, s, argv[++i]);
    }
    return GTA_OK;
}

int cli_model_arg(const char *cmd, const char *opt, const char **value, const char *revision, char **owned) {
    *owned = NULL;
    if (!*value) {
        if (revision) return gta_err_set(GTA_EINPUT, "gta %s: --revision needs --%s", cmd, opt);
        return GTA_OK;
    }
    int rc = gta_model_ref_resolve(*value, revision, owned);
    if (rc) return gta_err_prefix(rc, "gta %s: --%s", cmd, opt);
    *value = *owned;
    return GTA_OK;
}

int cli_device_arg(const char *cmd, const char *name, const gta_backend_ops **be) {
    *be = gta_backend(name ? name : "cpu");
    return *be ? GTA_OK : gta_err_prefix(GTA_EINPUT, "gta %s", cmd);
}

int cli_compute_arg(const char *cmd, const char *name, int *compute) {
    *compute = GTA_COMPUTE_F32;
    if (!name) return GTA_OK;
    int rc = gta_compute_parse(name, compute);
    return rc ? gta_err_prefix(rc, "gta %s: --compute", cmd) : GTA_OK;
}
