#include "host/cli/options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/error.h"

enum { HELP_COLUMN_MAX = 30 };

static bool is_help(const char *a) { return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0; }

/* "  -o, --output FILE" */
static void option_label(const civ_option *o, char *buf, size_t len)
{
    char shortp[8] = "";
    if (o->short_name) snprintf(shortp, sizeof shortp, "-%c, ", o->short_name);
    snprintf(buf, len, "  %s--%s%s%s", shortp, o->name, o->value_name ? " " : "", o->value_name ? o->value_name : "");
}

/* "HELP (RANGE; default DEFAULT)" */
static void option_text(const civ_option *o, char *buf, size_t len)
{
    char range[64] = "";
    if (o->kind == CIV_OPT_INT) snprintf(range, sizeof range, "%.0f to %.0f", o->min, o->max);
    else if (o->kind == CIV_OPT_NUMBER) snprintf(range, sizeof range, "%g to %g", o->min, o->max);
    if (range[0] && o->default_text) snprintf(buf, len, "%s (%s; default: %s)", o->help, range, o->default_text);
    else if (range[0]) snprintf(buf, len, "%s (%s)", o->help, range);
    else if (o->default_text) snprintf(buf, len, "%s (default: %s)", o->help, o->default_text);
    else snprintf(buf, len, "%s", o->help);
}

/* `text` from column `indent`, wrapped at spaces before column HELP_WIDTH; the first line continues the
 * current one. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
    enum { HELP_WIDTH = 104 };
    int col = indent;
    const char *p = text;
    while (*p) {
        const char *sp = strchr(p, ' ');
        int word = sp ? (int)(sp - p) : (int)strlen(p);
        if (col > indent && col + 1 + word > HELP_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, (size_t)word, out);
        col += word;
        p += word;
        while (*p == ' ') p++;
    }
    fputc('\n', out);
}

void civ_print_usage(const civ_command_spec *spec, FILE *out)
{
    fprintf(out, "usage: civitas %s%s%s\n", spec->name, spec->synopsis[0] ? " " : "", spec->synopsis);
    if (spec->description) fprintf(out, "\n%s\n", spec->description);
    int width = (int)strlen("  -h, --help");
    char label[128], text[1024];
    for (const civ_option *o = spec->options; o && o->name; o++) {
        option_label(o, label, sizeof label);
        if ((int)strlen(label) > width && (int)strlen(label) <= HELP_COLUMN_MAX) width = (int)strlen(label);
    }
    fprintf(out, "\noptions:\n");
    for (const civ_option *o = spec->options; o && o->name; o++) {
        option_label(o, label, sizeof label);
        option_text(o, text, sizeof text);
        if ((int)strlen(label) > width) fprintf(out, "%s\n%*s  ", label, width, "");
        else fprintf(out, "%-*s  ", width, label);
        print_wrapped(out, text, width + 2);
    }
    fprintf(out, "%-*s  %s\n", width, "  -h, --help", "this help");
    if (spec->notes) fprintf(out, "\n%s\n", spec->notes);
}

int civ_usage_error(const civ_command_spec *spec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "civitas: error: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n");
    civ_print_usage(spec, stderr);
    return CIV_ERR_USAGE;
}

/* Levenshtein distance, capped: words here are short. */
static int edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 99;
    int prev[64], cur[64];
    for (size_t j = 0; j <= m; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (m + 1));
    }
    return prev[m];
}

const char *civ_closest(const char *word, const char *const *candidates, int n)
{
    const char *best = NULL;
    int best_d = 3;
    size_t len = strlen(word);
    for (int k = 0; k < n; k++) {
        int d = edit_distance(word, candidates[k]);
        if (len >= 3 && strncmp(candidates[k], word, len) == 0 && d > 1) d = 1;   /* a prefix */
        if (d < best_d) { best_d = d; best = candidates[k]; }
    }
    return best;
}

static const civ_option *find_long(const civ_command_spec *spec, const char *name, size_t len)
{
    for (const civ_option *o = spec->options; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static const civ_option *find_short(const civ_command_spec *spec, char c)
{
    for (const civ_option *o = spec->options; o && o->name; o++)
        if (o->short_name == c) return o;
    return NULL;
}

static int unknown_option(const civ_command_spec *spec, const char *arg)
{
    const char *names[64];
    int n = 0;
    for (const civ_option *o = spec->options; o && o->name && n < 63; o++) names[n++] = o->name;
    names[n++] = "help";
    char word[128];
    snprintf(word, sizeof word, "%s", arg + (arg[1] == '-' ? 2 : 1));
    char *eq = strchr(word, '=');
    if (eq) *eq = 0;
    const char *near = civ_closest(word, names, n);
    if (near) return civ_usage_error(spec, "unknown option '%s' for '%s'; did you mean '--%s'?", arg, spec->name, near);
    return civ_usage_error(spec, "unknown option '%s' for '%s'", arg, spec->name);
}

/* Stores `value` into o->target, checking its kind and range. */
static int store(const civ_command_spec *spec, const civ_option *o, const char *value)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case CIV_OPT_STRING: *(const char **)o->target = value; return -1;
    case CIV_OPT_INT: {
        long long v = strtoll(value, &end, 10);
        if (errno || !*value || *end || (double)v < o->min || (double)v > o->max)
            return civ_usage_error(spec, "--%s '%s': expected %.0f..%.0f", o->name, value, o->min, o->max);
        *(long long *)o->target = v;
        return -1;
    }
    case CIV_OPT_NUMBER: {
        double v = strtod(value, &end);
        if (errno || !*value || *end || !(v >= o->min && v <= o->max))
            return civ_usage_error(spec, "--%s '%s': expected a number in [%g, %g]", o->name, value, o->min, o->max);
        *(double *)o->target = v;
        return -1;
    }
    default: return -1;
    }
}

int civ_parse_options(const civ_command_spec *spec, int argc, char **argv, char **args, int *n_args)
{
    *n_args = 0;
    bool only_args = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == 0) { args[(*n_args)++] = a; continue; }
        if (strcmp(a, "--") == 0) { only_args = true; continue; }
        if (is_help(a)) { civ_print_usage(spec, stdout); return 0; }
        const civ_option *o;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            o = find_long(spec, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
            if (eq) value = eq + 1;
        } else {
            o = find_short(spec, a[1]);
            if (o && a[2]) {
                if (o->kind == CIV_OPT_FLAG || o->kind == CIV_OPT_CUSTOM) o = NULL;   /* no bundled flags */
                else value = a + 2;
            }
        }
        if (!o) return unknown_option(spec, a);
        if (o->kind == CIV_OPT_FLAG) {
            if (value) return civ_usage_error(spec, "--%s takes no value", o->name);
            *(bool *)o->target = true;
            continue;
        }
        if (o->kind == CIV_OPT_CUSTOM) {
            char msg[512] = "";
            if (value) return civ_usage_error(spec, "--%s takes its values as separate words", o->name);
            if (o->parse(o, argc, argv, &i, msg, sizeof msg)) return civ_usage_error(spec, "%s", msg);
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) return civ_usage_error(spec, "--%s needs a value (%s)", o->name, o->value_name);
            value = argv[++i];
        }
        int rc = store(spec, o, value);
        if (rc >= 0) return rc;
    }
    if (*n_args < spec->min_args)
        return civ_usage_error(spec, "missing %s", spec->args_name);
    if (spec->max_args >= 0 && *n_args > spec->max_args)
        return civ_usage_error(spec, *n_args - spec->max_args == 1 && spec->max_args == 0 ? "unexpected argument '%s'"
                                                                                          : "too many arguments ('%s')",
                               args[spec->max_args]);
    return -1;
}
