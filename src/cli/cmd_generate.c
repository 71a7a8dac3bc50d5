#include "base/error.h"
#include "cli/cli.h"

int cmd_generate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    gta_err_set(GTA_EFAIL, "this command is not available in this build yet");
    return cli_fail(GTA_EFAIL);
}
