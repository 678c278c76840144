/* commands.h — the giftope subcommands; each returns the process exit status
 * (0 success, 1 input fault, 2 usage error). */
#ifndef GOPE_CLI_COMMANDS_H
#define GOPE_CLI_COMMANDS_H

int gope_cmd_replay(int argc, char **argv);
int gope_cmd_consume(int argc, char **argv);
int gope_cmd_merge(int argc, char **argv);
int gope_cmd_agree(int argc, char **argv);
int gope_cmd_truth(int argc, char **argv);
int gope_cmd_sim(int argc, char **argv);
int gope_cmd_validate(int argc, char **argv);
int gope_cmd_calibrate(int argc, char **argv);

#endif /* GOPE_CLI_COMMANDS_H */
