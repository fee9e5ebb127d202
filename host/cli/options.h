/* Command-line options, described by a table per command: one parser for every command, help text
 * generated from the table (with each value's range), and "did you mean" for a mistyped option. */
#ifndef CIV_CLI_OPTIONS_H
#define CIV_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

typedef enum {
    CIV_OPT_FLAG,    /* bool *: set to true */
    CIV_OPT_STRING,  /* const char **: the value as given */
    CIV_OPT_INT,     /* long long *: an integer in [min, max] */
    CIV_OPT_NUMBER,  /* double *: a number in [min, max] */
    CIV_OPT_CUSTOM   /* parse(): consumes its own values */
} civ_opt_kind;

typedef struct civ_option civ_option;
struct civ_option {
    const char *name;        /* long name without dashes: "scale" */
    char short_name;         /* 'o', or 0 */
    civ_opt_kind kind;
    void *target;
    double min, max;         /* CIV_OPT_INT and CIV_OPT_NUMBER */
    const char *value_name;  /* in the help: "X", "N", "FILE" */
    const char *help;
    const char *default_text;   /* "the study's", "10", or NULL */
    /* CIV_OPT_CUSTOM: argv[*i] is the option; consumes its values (advancing *i); 0, or a message in msg */
    int (*parse)(const civ_option *opt, int argc, char **argv, int *i, char *msg, size_t msg_len);
};

typedef struct {
    const char *name;          /* "run" */
    const char *synopsis;      /* after "civitas run ": "STUDY.json [options]" */
    const char *description;   /* paragraph(s) between the synopsis and the options */
    const char *notes;         /* after the options, or NULL */
    int min_args, max_args;    /* positional arguments (max < 0: no limit) */
    const char *args_name;     /* for messages: "STUDY.json" */
    civ_option *options;       /* terminated by an entry with name NULL */
} civ_command_spec;

/* Parses argv[1..argc) (argv[0] is the command). Positional arguments are gathered into args (room for
 * argc entries), their count into *n_args. Returns -1 when the command should go on, 0 after printing
 * --help, or the usage error's exit status after printing the message and the usage. */
int civ_parse_options(const civ_command_spec *spec, int argc, char **argv, char **args, int *n_args);
/* The command's usage text, generated from its table. */
void civ_print_usage(const civ_command_spec *spec, FILE *out);
/* Prints "civitas: error: MESSAGE" and the usage on stderr; returns the usage exit status. */
int civ_usage_error(const civ_command_spec *spec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The candidate closest to `word` (edit distance at most 2, or a prefix), or NULL. */
const char *civ_closest(const char *word, const char *const *candidates, int n);

#endif
