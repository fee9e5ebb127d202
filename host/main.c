/* civitas command-line interface. Exit codes: 0 success, 1 runtime failure,
 * 2 usage error, 3 bad input (study/config/population/data), 4 I/O error,
 * 5 requested backend unavailable, 130 interrupted. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "calibrate.h"
#include "ensemble.h"
#include "info.h"
#include "report.h"
#include "population.h"
#include "progress.h"
#include "run.h"
#ifdef CIVITAS_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

#ifndef CIVITAS_DATA_DIR
#define CIVITAS_DATA_DIR "data"
#endif

static const char *usage_main =
    "usage: civitas <command> [options]\n"
    "\n"
    "GPU-ready agent-based population simulator (COVID-19 model, New York City).\n"
    "\n"
    "commands:\n"
    "  run STUDY.json     simulate a study and write an HDF5 trajectory\n"
    "  ensemble STUDY...  run studies for N seeds each (MPI-aware); runs and mean/median/5-95% bands\n"
    "  synth              synthesize a population from census marginals and save it (HDF5)\n"
    "  info FILE.h5       summarise a population or run file\n"
    "  plot RUN.h5        draw epidemic curves by borough (SVG)\n"
    "  calibrate STUDY    fit transmission, initial infections and testing to observed cases\n"
    "  report RUN.h5...   validation report (Markdown + SVG) against observed cases, hospitalisations,\n"
    "                     deaths and LAUS unemployment, with error tables\n"
    "  version            print the version\n"
    "\n"
    "'civitas <command> --help' describes each command.\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input, 4 I/O, 5 backend unavailable, 130 interrupted\n";

static const char *usage_run =
    "usage: civitas run STUDY.json [options]\n"
    "\n"
    "Simulates the study and writes its trajectory (HDF5; path from the study's output.file,\n"
    "default <name>.h5 in the current directory).\n"
    "\n"
    "options:\n"
    "  --scale X          fraction of the real population to synthesize, 1e-5 to 1 (default: the study's)\n"
    "  --population FILE  use a population saved by 'civitas synth' instead of synthesizing\n"
    "  --steps N          number of simulated days (default: the study's)\n"
    "  --seed N           simulation seed (default: the study's)\n"
    "  -o, --output FILE  output file (default: the study's output.file)\n"
    "  --threads N        OpenMP threads (default: all cores); results do not depend on it\n"
    "  --backend B        cpu (default), cuda, or auto (cuda if usable, else cpu with a notice)\n"
    "  --llm MODE [FILE]  behaviour source: heuristic, llm (the study's behavior.llm endpoint), or\n"
    "                     replay FILE (answers recorded by an llm run, no network)\n"
    "  -q, --quiet        no progress output\n"
    "  -h, --help         this help\n";

static const char *usage_synth =
    "usage: civitas synth -o POP.h5 [options]\n"
    "\n"
    "Synthesizes New York City agents (households, schools, workplaces, employment) from the\n"
    "census marginals in the data directory and saves them for studies to reuse.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE        population file to write (required)\n"
    "  --scale X                fraction of the real population, 1e-5 to 1 (default 1 = 8.4M agents)\n"
    "  --seed N                 synthesis seed (default 1)\n"
    "  --data DIR               data directory (default " CIVITAS_DATA_DIR ")\n"
    "  --employment-reference YYYY-MM  LAUS month for the labour force (default 2020-02)\n"
    "  -q, --quiet              no progress output\n"
    "  -h, --help               this help\n";

static const char *usage_ensemble =
    "usage: civitas ensemble STUDY.json [STUDY.json ...] --seeds N -o ENSEMBLE.h5 [options]\n"
    "       mpirun -np R civitas ensemble ...     (runs split over R ranks; same file for any R)\n"
    "\n"
    "Runs every study (e.g. a base and its counterfactuals) for N seeds (the study's seed, +1, ...),\n"
    "and writes every run's series and, per study, mean, median, 5% and 95% per series.\n"
    "Studies must share start_date, steps and output age bands.\n"
    "  --seeds N          runs per study (default 10)\n"
    "  --scale X, --steps N   as for run, applied to every study\n"
    "  --threads N        OpenMP threads per rank (default: cores / ranks)\n"
    "  --backend B        cpu (default), cuda (one GPU per rank: device = rank mod devices) or auto\n"
    "  -o, --output FILE  ensemble file (required)\n"
    "  -q, --quiet        no progress output\n";

static const char *usage_report =
    "usage: civitas report RUN.h5 [RUN2.h5 ...] [-o DIR] [--holdout-from YYYY-MM-DD]\n"
    "\n"
    "Writes DIR/report.md with SVG plots: simulated vs observed reported cases, hospital admissions and\n"
    "deaths per borough, unemployment vs LAUS, and error tables (MAE, RMSE, normalised deviation,\n"
    "correlation) on the fitted and held-out windows, for each run (e.g. heuristic and LLM agents).\n"
    "  -o, --output DIR          report directory (default: RUN_report next to the first run)\n"
    "  --holdout-from DATE       first held-out day (default: the last 28 days are held out)\n";

static const char *usage_calibrate =
    "usage: civitas calibrate STUDY.json --fit-until YYYY-MM-DD -o CALIBRATED.json [options]\n"
    "\n"
    "Fits the transmission scale, the initial infections and (with --fit-testing) the testing level to\n"
    "the observed daily reported cases per borough up to --fit-until (later days are held out), with\n"
    "Nelder-Mead on ensemble means. Writes CALIBRATED.json (a study overriding STUDY.json with the fitted\n"
    "values) and CALIBRATED.json.fit.json (estimates, spread over restarts, losses).\n"
    "  --fit-after-stay-at-home  also fit the transmission scale from the first workplace closure on\n"
    "                         (transmission.after_stay_at_home; moves with the closure in counterfactuals)\n"
    "  --fit-testing          also fit testing.seek_scale, a multiplier of the test-seeking probabilities\n"
    "  --scale X              population fraction for the fit (default 0.01)\n"
    "  --seeds K              runs averaged per evaluation (default 2)\n"
    "  --restarts R           independent fits with different seeds, for the spread (default 3, max 16)\n"
    "  --max-evaluations N    per restart (default 60)\n"
    "  --threads N, -q        as for run\n";

static const char *usage_info = "usage: civitas info FILE.h5\n\nSummarises a population file or a run file.\n";
static const char *usage_version =
    "usage: civitas version\n"
    "\n"
    "Prints the version, the CPU backend (OpenMP threads) and the CUDA backend: whether it is built, its target\n"
    "architecture, the CUDA runtime, whether cuBLAS loads (CIVITAS_CUBLAS names the library) and the devices.\n";
static const char *usage_plot =
    "usage: civitas plot RUN.h5 [-o OUT.svg] [--no-observed]\n"
    "\n"
    "Draws daily infections, reported cases and hospital admissions (7-day means) for the city\n"
    "and each borough, with the observed DOHMH series when the study named them.\n"
    "  -o, --output FILE  SVG file (default: RUN.svg next to the run file)\n"
    "  --no-observed      leave the observed series out\n";

static int report(const civ_error *err)
{
    if (err->status == CIV_OK) return 0;
    fprintf(stderr, "civitas: error: %s\n", err->msg);
    return (int)err->status;
}

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "civitas: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return CIV_ERR_USAGE;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && *s && !*end;
}

static int parse_long(const char *s, long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *s && !*end;
}

/* An integer option value in [lo, hi], or a usage error "NAME 'ARG': expected LO..HI". */
static int int_option(const char *usage, const char *name, const char *arg, long long lo, long long hi, long long *out)
{
    long long v;
    if (!parse_long(arg, &v) || v < lo || v > hi) {
        fprintf(stderr, "civitas: error: %s '%s': expected %lld..%lld\n\n%s", name, arg, lo, hi, usage);
        return CIV_ERR_USAGE;
    }
    *out = v;
    return 0;
}

/* --scale, with the same range and message in every command (and as the study field's) */
static int scale_option(const char *usage, const char *arg, double *out)
{
    double v;
    if (!parse_double(arg, &v) || !(v >= CIV_MIN_SCALE && v <= 1)) {
        fprintf(stderr, "civitas: error: --scale '%s': expected a number in [%g, 1]\n\n%s", arg, CIV_MIN_SCALE, usage);
        return CIV_ERR_USAGE;
    }
    *out = v;
    return 0;
}

/* cmd_run's work; `args` (argc + 1 slots, owned by cmd_run) receives argv without the --llm words. */
static int run_command(int argc, char **argv, char **args)
{
    civ_run_options o = {0};
    o.ov.scale = -1; o.ov.steps = -1; o.ov.seed = -1;
    o.backend = "cpu";
    /* --llm MODE [FILE]: "replay" takes the answer file as a second word, so take it out before getopt */
    int nargs = 0;
    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--llm") == 0) {
            if (k + 1 >= argc) { return usage_error(usage_run, "%s", "--llm needs heuristic, llm or replay FILE"); }
            o.ov.llm_mode = argv[++k];
            if (strcmp(o.ov.llm_mode, "replay") == 0) {
                if (k + 1 >= argc || argv[k + 1][0] == '-') { return usage_error(usage_run, "%s", "--llm replay needs the recorded answer file"); }
                o.ov.llm_replay = argv[++k];
            } else if (strcmp(o.ov.llm_mode, "heuristic") && strcmp(o.ov.llm_mode, "llm")) {
                return usage_error(usage_run, "--llm '%s': expected heuristic, llm or replay FILE", o.ov.llm_mode);
            }
            continue;
        }
        args[nargs++] = argv[k];
    }
    argc = nargs;
    argv = args;
    static const struct option opts[] = {{"scale", 1, 0, 's'}, {"population", 1, 0, 'p'}, {"steps", 1, 0, 'n'},
        {"seed", 1, 0, 'r'}, {"output", 1, 0, 'o'}, {"threads", 1, 0, 't'}, {"backend", 1, 0, 'b'},
        {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    long long v;
    int rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if ((rc = scale_option(usage_run, optarg, &o.ov.scale))) return rc;
            break;
        case 'p': o.ov.population = optarg; break;
        case 'n':
            if ((rc = int_option(usage_run, "--steps", optarg, 1, CIV_MAX_STEPS, &v))) return rc;
            o.ov.steps = (long)v;
            break;
        case 'r':
            if ((rc = int_option(usage_run, "--seed", optarg, 0, CIV_MAX_SEED, &v))) return rc;
            o.ov.seed = v;
            break;
        case 'o': o.ov.output = optarg; break;
        case 't':
            if ((rc = int_option(usage_run, "--threads", optarg, 1, 1024, &v))) return rc;
            o.threads = (int)v;
            break;
        case 'b': o.backend = optarg; break;
        case 'q': o.quiet = true; break;
        case 'h': fputs(usage_run, stdout); return 0;
        default: fprintf(stderr, "\n%s", usage_run); return CIV_ERR_USAGE;
        }
    }
    if (optind != argc - 1) {
        return usage_error(usage_run, "%s", optind >= argc ? "missing STUDY.json" : "too many arguments");
    }
    o.study = argv[optind];
    o.ov.quiet = o.quiet;
    civ_install_signal_handlers();
    civ_error err = {0};
    civ_run(&o, &err);
    return report(&err);
}

static int cmd_run(int argc, char **argv)
{
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    if (!args) {
        fprintf(stderr, "civitas: error: out of memory parsing the command line\n");
        return CIV_ERR_RUNTIME;
    }
    int rc = run_command(argc, argv, args);
    free(args);
    return rc;
}

static int cmd_synth(int argc, char **argv)
{
    civ_synth_options so = {CIVITAS_DATA_DIR, 1.0, 1, 2020, 2, false};
    const char *outp = NULL;
    int rc;
    static const struct option opts[] = {{"scale", 1, 0, 's'}, {"seed", 1, 0, 'r'}, {"data", 1, 0, 'd'},
        {"employment-reference", 1, 0, 'e'}, {"output", 1, 0, 'o'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    long long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if ((rc = scale_option(usage_synth, optarg, &so.scale))) return rc;
            break;
        case 'r':
            if ((rc = int_option(usage_synth, "--seed", optarg, 0, CIV_MAX_POPULATION_SEED, &v))) return rc;
            so.seed = (uint64_t)v;
            break;
        case 'd': so.data_dir = optarg; break;
        case 'e':
            if (sscanf(optarg, "%4d-%2d", &so.laus_year, &so.laus_month) != 2 || strlen(optarg) != 7 ||
                so.laus_month < 1 || so.laus_month > 12)
                return usage_error(usage_synth, "--employment-reference '%s': expected YYYY-MM", optarg);
            break;
        case 'o': outp = optarg; break;
        case 'q': so.quiet = true; break;
        case 'h': fputs(usage_synth, stdout); return 0;
        default: fprintf(stderr, "\n%s", usage_synth); return CIV_ERR_USAGE;
        }
    }
    if (!outp) return usage_error(usage_synth, "%s", "-o FILE is required");
    if (optind != argc) return usage_error(usage_synth, "unexpected argument '%s'", argv[optind]);
    civ_error err = {0};
    civ_population pop;
    double t0 = civ_now();
    if (!so.quiet) fprintf(stderr, "civitas: synthesizing population (scale %g, seed %llu) from %s\n", so.scale,
                           (unsigned long long)so.seed, so.data_dir);
    if (civ_synthesize(&so, &pop, &err)) return report(&err);
    if (!so.quiet) fprintf(stderr, "civitas: %u agents, %u households, %u schools and workplaces (%.1fs); saving %s\n",
                           pop.n_agents, pop.n_households, pop.n_places, civ_now() - t0, outp);
    civ_population_save(&pop, outp, &err);
    civ_population_free(&pop);
    return report(&err);
}

static int cmd_ensemble(int argc, char **argv)
{
    civ_ensemble_options o = {0};
    o.seeds = 10;
    o.ov.scale = -1; o.ov.steps = -1; o.ov.seed = -1;
    o.backend = "cpu";
    static const struct option opts[] = {{"seeds", 1, 0, 'n'}, {"scale", 1, 0, 's'}, {"steps", 1, 0, 'p'},
        {"threads", 1, 0, 't'}, {"backend", 1, 0, 'b'}, {"output", 1, 0, 'o'}, {"quiet", 0, 0, 'q'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    long long v;
    int rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o.backend = optarg; break;
        case 'n':
            if ((rc = int_option(usage_ensemble, "--seeds", optarg, 1, 10000, &v))) return rc;
            o.seeds = (int)v;
            break;
        case 's':
            if ((rc = scale_option(usage_ensemble, optarg, &o.ov.scale))) return rc;
            break;
        case 'p':
            if ((rc = int_option(usage_ensemble, "--steps", optarg, 1, CIV_MAX_STEPS, &v))) return rc;
            o.ov.steps = (long)v;
            break;
        case 't':
            if ((rc = int_option(usage_ensemble, "--threads", optarg, 1, 1024, &v))) return rc;
            o.threads = (int)v;
            break;
        case 'o': o.output = optarg; break;
        case 'q': o.quiet = true; break;
        case 'h': fputs(usage_ensemble, stdout); return 0;
        default: fprintf(stderr, "\n%s", usage_ensemble); return CIV_ERR_USAGE;
        }
    }
    if (optind >= argc) return usage_error(usage_ensemble, "%s", "expected at least one STUDY.json");
    if (!o.output) return usage_error(usage_ensemble, "%s", "-o ENSEMBLE.h5 is required");
    o.studies = (const char **)(argv + optind);
    o.n_studies = argc - optind;
    civ_install_signal_handlers();
    civ_error err = {0};
    civ_ensemble(&o, &err);
    return report(&err);
}

static int cmd_report(int argc, char **argv)
{
    civ_report_options o = {0};
    static const struct option opts[] = {{"output", 1, 0, 'o'}, {"holdout-from", 1, 0, 'f'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_dir = optarg; break;
        case 'f': o.holdout_from = optarg; break;
        case 'h': fputs(usage_report, stdout); return 0;
        default: fprintf(stderr, "\n%s", usage_report); return CIV_ERR_USAGE;
        }
    }
    if (optind >= argc) return usage_error(usage_report, "%s", "expected at least one RUN.h5");
    o.runs = (const char **)(argv + optind);
    o.n_runs = argc - optind;
    char buf[4096];
    if (!o.out_dir) {
        snprintf(buf, sizeof buf, "%s", o.runs[0]);
        char *dot = strrchr(buf, '.');
        if (dot && strcmp(dot, ".h5") == 0) *dot = 0;
        strncat(buf, "_report", sizeof buf - strlen(buf) - 1);
        o.out_dir = buf;
    }
    civ_error err = {0};
    if (civ_report(&o, &err) == CIV_OK) fprintf(stderr, "civitas: wrote %s/report.md\n", o.out_dir);
    return report(&err);
}

static int cmd_calibrate(int argc, char **argv)
{
    civ_calibrate_options o = {0};
    o.scale = 0.01; o.seeds = 2; o.restarts = 3; o.max_evaluations = 60; o.steps = -1;
    static const struct option opts[] = {{"fit-until", 1, 0, 'f'}, {"fit-after-stay-at-home", 0, 0, 'p'}, {"fit-testing", 0, 0, 'T'},
        {"scale", 1, 0, 's'}, {"seeds", 1, 0, 'n'}, {"restarts", 1, 0, 'r'}, {"max-evaluations", 1, 0, 'm'},
        {"threads", 1, 0, 't'}, {"output", 1, 0, 'o'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    long long v;
    int rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f': o.fit_until = optarg; break;
        case 'p': o.fit_after_stay_at_home = true; break;
        case 'T': o.fit_testing = true; break;
        case 's':
            if ((rc = scale_option(usage_calibrate, optarg, &o.scale))) return rc;
            break;
        case 'n':
            if ((rc = int_option(usage_calibrate, "--seeds", optarg, 1, 100, &v))) return rc;
            o.seeds = (int)v;
            break;
        case 'r':
            if ((rc = int_option(usage_calibrate, "--restarts", optarg, 1, 16, &v))) return rc;
            o.restarts = (int)v;
            break;
        case 'm':
            if ((rc = int_option(usage_calibrate, "--max-evaluations", optarg, 5, 10000, &v))) return rc;
            o.max_evaluations = (int)v;
            break;
        case 't':
            if ((rc = int_option(usage_calibrate, "--threads", optarg, 1, 1024, &v))) return rc;
            o.threads = (int)v;
            break;
        case 'o': o.output = optarg; break;
        case 'q': o.quiet = true; break;
        case 'h': fputs(usage_calibrate, stdout); return 0;
        default: fprintf(stderr, "\n%s", usage_calibrate); return CIV_ERR_USAGE;
        }
    }
    if (optind != argc - 1) return usage_error(usage_calibrate, "%s", "expected one STUDY.json");
    if (!o.fit_until) return usage_error(usage_calibrate, "%s", "--fit-until YYYY-MM-DD is required");
    if (!o.output) return usage_error(usage_calibrate, "%s", "-o CALIBRATED.json is required");
    o.study = argv[optind];
    civ_install_signal_handlers();
    civ_error err = {0};
    civ_calibrate(&o, &err);
    return report(&err);
}

static int cmd_info(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) { fputs(usage_info, stdout); return 0; }
    if (argc != 2) return usage_error(usage_info, "%s", "expected one file");
    civ_error err = {0};
    civ_info(argv[1], stdout, &err);
    return report(&err);
}

static int cmd_plot(int argc, char **argv)
{
    const char *outp = NULL;
    int show_obs = 1;
    static const struct option opts[] = {{"output", 1, 0, 'o'}, {"no-observed", 0, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': outp = optarg; break;
        case 'n': show_obs = 0; break;
        case 'h': fputs(usage_plot, stdout); return 0;
        default: fprintf(stderr, "\n%s", usage_plot); return CIV_ERR_USAGE;
        }
    }
    if (optind != argc - 1) return usage_error(usage_plot, "%s", "expected one RUN.h5 file");
    const char *run = argv[optind];
    char buf[4096];
    if (!outp) {
        snprintf(buf, sizeof buf, "%s", run);
        char *dot = strrchr(buf, '.');
        if (dot && strcmp(dot, ".h5") == 0) *dot = 0;
        strncat(buf, ".svg", sizeof buf - strlen(buf) - 1);
        outp = buf;
    }
    civ_error err = {0};
    if (civ_plot(run, outp, show_obs, &err) == CIV_OK) fprintf(stderr, "civitas: wrote %s\n", outp);
    return report(&err);
}

static int cmd_version(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) { fputs(usage_version, stdout); return 0; }
    if (argc > 1) return usage_error(usage_version, "unexpected argument '%s'", argv[1]);
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

int main(int argc, char **argv)
{
    if (argc < 2) { fputs(usage_main, stderr); return CIV_ERR_USAGE; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) { fputs(usage_main, stdout); return 0; }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "synth")) return cmd_synth(argc - 1, argv + 1);
    if (!strcmp(cmd, "ensemble")) return cmd_ensemble(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "calibrate")) return cmd_calibrate(argc - 1, argv + 1);
    fprintf(stderr, "civitas: error: unknown command '%s'\n\n%s", cmd, usage_main);
    return CIV_ERR_USAGE;
}
