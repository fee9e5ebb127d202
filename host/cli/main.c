/* The civitas command line: dispatches to a command (commands.c). Exit codes: 0 success,
 * 1 runtime failure, 2 usage error, 3 bad input (study/config/population/data), 4 I/O error,
 * 5 requested backend unavailable or LLM server misconfigured, 130 interrupted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "host/cli/commands.h"
#include "host/cli/options.h"
#include "host/util/error.h"
#include "host/util/h5_util.h"
#include "host/util/interrupt.h"
#ifdef CIVITAS_HAVE_CUDA
#include "cuda/backend_cuda.h"
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: civitas <command> [options]\n\n"
                 "GPU-ready agent-based population simulator (COVID-19 model, New York City).\n\ncommands:\n");
    for (const civ_command *c = civ_commands; c->name; c++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", c->name, c->args);
        fprintf(out, "  %-18s %s\n", head, c->summary);
    }
    fprintf(out, "  %-18s %s\n", "version", "print the version and the backends this build has");
    fprintf(out, "\n'civitas <command> --help' describes each command.\n"
                 "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input, 4 I/O, 5 backend or LLM server unavailable, "
                 "130 interrupted\n");
}

static int cmd_version(int argc, char **argv)
{
    civ_option opts[] = {{0}};
    const civ_command_spec spec = {"version", "", "Prints the version and the backends this build has (CPU threads; "
                                   "CUDA architectures, runtime,\nwhether cuBLAS loads, devices).", NULL, 0, 0, "", opts};
    char *args[8];
    int n = 0, rc = argc < 8 ? civ_parse_options(&spec, argc, argv, args, &n)
                             : civ_usage_error(&spec, "unexpected argument '%s'", argv[1]);
    if (rc >= 0) return rc;
    printf("civitas %s (%s)\n", CIVITAS_VERSION, CIVITAS_GIT);
#ifdef _OPENMP
    printf("CPU backend: OpenMP %d, %d threads\n", _OPENMP, omp_get_max_threads());
#else
    printf("CPU backend: single-threaded (built without OpenMP)\n");
#endif
#ifdef CIVITAS_HAVE_CUDA
    char line[1024];
    civ_cuda_describe(line, sizeof line);
    printf("%s\n", line);
#else
    printf("CUDA backend: not built (configured without nvcc, or with -DCIVITAS_ENABLE_CUDA=OFF)\n");
#endif
    return 0;
}

/* What every command ends with: a failed write to standard output (a full disk, a closed pipe) is an
 * I/O error, and a signal that arrived after the work was done still means "interrupted". */
static int finish(int rc)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "civitas: error: standard output: %s\n", strerror(errno ? errno : EIO));
        if (rc == 0 || rc == CIV_ERR_INTERRUPTED) rc = CIV_ERR_IO;
    }
    if (rc == 0 && civ_interrupted) {
        fprintf(stderr, "civitas: error: interrupted (after the command had finished its work)\n");
        rc = CIV_ERR_INTERRUPTED;
    }
    return rc;
}

int main(int argc, char **argv)
{
    civ_install_signal_handlers();   /* first: a signal at any later moment is handled alike */
    civ_h5_init();
    if (argc < 2) { usage(stderr); return CIV_ERR_USAGE; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) { usage(stdout); return finish(0); }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return finish(cmd_version(argc - 1, argv + 1));
    const char *names[32];
    int n = 0;
    for (const civ_command *c = civ_commands; c->name; c++) {
        if (!strcmp(cmd, c->name)) return finish(c->run(argc - 1, argv + 1));
        names[n++] = c->name;
    }
    names[n++] = "version";
    const char *near = civ_closest(cmd, names, n);
    if (near) fprintf(stderr, "civitas: error: unknown command '%s'; did you mean '%s'?\n\n", cmd, near);
    else fprintf(stderr, "civitas: error: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CIV_ERR_USAGE;
}
