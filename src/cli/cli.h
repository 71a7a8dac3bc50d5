/* One function per `gta <command>`; each takes the arguments after the command name and
 * returns the process exit code (0 ok, 1 failure while running, 2 bad usage or input). */
#ifndef GTA_CLI_CLI_H
#define GTA_CLI_CLI_H

int cmd_forward(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_tokenizer_train(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_eval(int, char **);
int cmd_report(int, char **);
int cmd_predict(int, char **);
int cmd_merge(int, char **);

/* Prints "gta: error: <current message>" and returns code. */
int cli_fail(int code);

#endif
