/* gta train: every setting of gta_train_cfg as --name (dashes or underscores), defaults
 * from the paper, overridable by --config F.json and then by flags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "comm/comm.h"
#include "io/dataset.h"
#include "io/json.h"
#include "train/trainer.h"

static void usage(gta_train_opt *o, int n) {
    printf("usage: gta train --method sft|grpo|gta|gta-rl --model DIR --data DIR --out DIR [--config F.json]\n"
           "                 [--steps N | --epochs E] [--seed S] [--resume] [options]\n\noptions (defaults for gta):\n");
    for (int k = 0; k < n; k++) {
        char name[64], def[64];
        snprintf(name, sizeof name, "--%s", o[k].name);
        for (char *p = name; *p; p++)
            if (*p == '_') *p = '-';
        if (o[k].type == 's')
            snprintf(def, sizeof def, "%s", (const char *)o[k].ptr);
        else if (o[k].type == 'i')
            snprintf(def, sizeof def, "%lld", *(long long *)o[k].ptr);
        else if (o[k].type == 'b')
            snprintf(def, sizeof def, "%s", *(long long *)o[k].ptr ? "on" : "off");
        else
            snprintf(def, sizeof def, "%g", *(double *)o[k].ptr);
        printf("  %-22s %s%s%s%s\n", name, o[k].help, def[0] ? " [" : "", def, def[0] ? "]" : "");
    }
    printf("  %-22s %s\n  %-22s %s\n", "--config F.json", "settings as a JSON object (names with underscores)",
           "--resume", "continue the run in --out from its checkpoint");
    printf("  %-22s %s\n", "--stop-at-step N", "checkpoint and stop after step N (continue later with --resume)");
    printf("  %-22s %s\n", "--revision R", "branch, tag or commit of a Hub --model name (Org/Name) [main]");
}

static int norm_eq(const char *flag, const char *name) {
    for (; *flag && *name; flag++, name++)
        if (!(*flag == *name || (*flag == '-' && *name == '_'))) return 0;
    return !*flag && !*name;
}

int cmd_train(int argc, char **argv) {
    /* the method picks defaults, so find it (and --config) first */
    const char *method = "gta", *config = NULL;
    int resume = 0;
    long long stop_at = 0;
    const char *revision = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--method") && i + 1 < argc) method = argv[i + 1];
        if (!strncmp(argv[i], "--method=", 9)) method = argv[i] + 9;
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[i + 1];
        if (!strncmp(argv[i], "--config=", 9)) config = argv[i] + 9;
    }
    gta_train_cfg c;
    gta_train_defaults(&c, method);
    gta_train_opt o[64];
    int n = gta_train_opts(&c, o, 64), rc;
    if (config) {
        cJSON *j = NULL;
        if ((rc = gta_json_load(config, &j))) return cli_fail(rc);
        rc = gta_train_cfg_apply_json(&c, j, config);
        cJSON_Delete(j);
        if (rc) return cli_fail(rc);
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(o, n);
            return 0;
        }
        if (!strcmp(a, "--resume")) {
            resume = 1;
            continue;
        }
        if (!strcmp(a, "--revision") || !strncmp(a, "--revision=", 11)) {
            if (a[10] == '=') {
                revision = a + 11;
            } else {
                if (i + 1 >= argc)
                    return cli_fail(gta_err_set(GTA_EINPUT, "gta train: --revision needs a value"));
                revision = argv[++i];
            }
            continue;
        }
        if (!strcmp(a, "--stop-at-step")) {
            char *end = NULL;
            if (i + 1 >= argc || (stop_at = strtoll(argv[i + 1], &end, 10)) <= 0 || *end)
                return cli_fail(gta_err_set(GTA_EINPUT, "gta train: --stop-at-step expects a positive integer"));
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return cli_fail(gta_err_set(GTA_EINPUT, "gta train: unexpected argument '%s'", a));
        char name[128];
        snprintf(name, sizeof name, "%s", a + 2);
        char *eq = strchr(name, '='), *val = NULL;
        if (eq) {
            *eq = 0;
            val = (char *)a + 2 + (eq - name) + 1;
        }
        if (!strcmp(name, "config")) {
            if (!eq) i++;
            continue;
        }
        int k = 0;
        while (k < n && !norm_eq(name, o[k].name)) k++;
        if (k == n) return cli_fail(gta_err_set(GTA_EINPUT, "gta train: unknown option '--%s' (see gta train --help)", name));
        if (!val && !strcmp(o[k].name, "skip_nonfinite") && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)))
            val = "1"; /* --skip-nonfinite alone */
        if (o[k].type == 'b') {
            /* a switch: --name, or --name=0 / --name=1 */
            if (val && strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
                return cli_fail(gta_err_set(GTA_EINPUT, "gta train: --%s is a switch (--%s or --%s=0)", name,
                                            name, name));
            *(long long *)o[k].ptr = !val || !strcmp(val, "1");
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) return cli_fail(gta_err_set(GTA_EINPUT, "gta train: --%s needs a value", name));
            val = argv[++i];
        }
        char *end = NULL;
        if (o[k].type == 's') {
            if (strlen(val) >= o[k].size) return cli_fail(gta_err_set(GTA_EINPUT, "gta train: --%s is too long", name));
            /* settings are saved as JSON and rendered into prompts: text, so UTF-8 */
            size_t vl = strlen(val), ok = gta_utf8_check(val, vl);
            if (ok != vl)
                return cli_fail(gta_err_set(
                    GTA_EINPUT, "gta train: --%s is not valid UTF-8 (byte offset %zu)", name, ok));
            snprintf(o[k].ptr, o[k].size, "%s", val);
        } else if (o[k].type == 'i') {
            long long v = strtoll(val, &end, 10);
            if (!*val || *end) return cli_fail(gta_err_set(GTA_EINPUT, "gta train: --%s expects an integer, got '%s'", name, val));
            *(long long *)o[k].ptr = v;
        } else {
            double v = strtod(val, &end);
            if (!*val || *end) return cli_fail(gta_err_set(GTA_EINPUT, "gta train: --%s expects a number, got '%s'", name, val));
            *(double *)o[k].ptr = v;
        }
    }
    /* a Hub name in --model (or the config's "model") becomes its cache snapshot */
    const char *model = c.model[0] ? c.model : NULL;
    char *model_owned = NULL;
    if ((rc = cli_model_arg("train", "model", &model, revision, &model_owned))) return cli_fail(rc);
    if (model_owned) {
        if (strlen(model_owned) >= sizeof c.model) {
            free(model_owned);
            return cli_fail(gta_err_set(GTA_EINPUT, "gta train: --model: the path is too long"));
        }
        snprintf(c.model, sizeof c.model, "%s", model_owned);
        free(model_owned);
    }
    rc = gta_train_run(&c, resume, stop_at);
    if (rc) return cli_fail(rc);
    gta_comm_world_finish();
    /* stopped by SIGINT/SIGTERM with a checkpoint: the shell's 128 + signal */
    return gta_train_stopped_by() ? 128 + gta_train_stopped_by() : 0;
}
