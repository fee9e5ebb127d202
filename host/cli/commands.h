/* The civitas commands (commands.c): name, one-line summary and entry point of each. */
#ifndef CIV_CLI_COMMANDS_H
#define CIV_CLI_COMMANDS_H

typedef struct {
    const char *name, *args, *summary;
    int (*run)(int argc, char **argv);   /* argv[0] is the command name */
} civ_command;

/* Terminated by an entry with name NULL. */
extern const civ_command civ_commands[];

#endif
