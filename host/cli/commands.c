/* The civitas commands: each one's option table (host/cli/options.h) and what it runs. */
#include "host/cli/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/cli/options.h"
#include "host/output/info.h"
#include "host/output/plot.h"
#include "host/output/report.h"
#include "host/population/population.h"
#include "host/util/file.h"
#include "host/util/progress.h"
#include "host/workflows/calibrate.h"
#include "host/workflows/ensemble.h"
#include "host/workflows/run.h"

#ifndef CIVITAS_DATA_DIR
#define CIVITAS_DATA_DIR "data"
#endif

/* The error's message once, and its status as the exit code. */
static int report(const civ_error *err)
{
    if (err->status == CIV_OK) return 0;
    fprintf(stderr, "civitas: error: %s\n", err->msg);
    return (int)err->status;
}

/* argv without the command, and room for the positional arguments */
typedef struct {
    char **args;
    int n;
} positional;

static int parse(const civ_command_spec *spec, int argc, char **argv, positional *p)
{
    p->args = civ_xcalloc((size_t)argc + 1, sizeof(char *));
    return civ_parse_options(spec, argc, argv, p->args, &p->n);
}

#define SCALE_OPTION(target, what, dflt)                                                                       \
    {"scale", 0, CIV_OPT_NUMBER, (target), CIV_MIN_SCALE, 1, "X", "fraction of the real population " what, dflt, 0}
#define THREADS_OPTION(target, what, dflt)                                                                     \
    {"threads", 0, CIV_OPT_INT, (target), 1, 1024, "N", "OpenMP threads" what, dflt, 0}
#define QUIET_OPTION(target) {"quiet", 'q', CIV_OPT_FLAG, (target), 0, 0, NULL, "no progress output", NULL, 0}
#define BACKEND_HELP "cpu (default), cuda, or auto (cuda if usable, else cpu with a notice)"

/* ---- run ---------------------------------------------------------------------------------------- */

/* --llm MODE [FILE]: replay takes the recorded answers as a second word */
static int parse_llm(const civ_option *o, int argc, char **argv, int *i, char *msg, size_t msg_len)
{
    civ_study_overrides *ov = o->target;
    if (*i + 1 >= argc) {
        snprintf(msg, msg_len, "--llm needs heuristic, llm or replay FILE");
        return 1;
    }
    ov->llm_mode = argv[++*i];
    if (strcmp(ov->llm_mode, "replay") == 0) {
        if (*i + 1 >= argc || argv[*i + 1][0] == '-') {
            snprintf(msg, msg_len, "--llm replay needs the recorded answer file");
            return 1;
        }
        ov->llm_replay = argv[++*i];
    } else if (strcmp(ov->llm_mode, "heuristic") && strcmp(ov->llm_mode, "llm")) {
        snprintf(msg, msg_len, "--llm '%s': expected heuristic, llm or replay FILE", ov->llm_mode);
        return 1;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    civ_run_options o = {0};
    o.ov.scale = -1;
    o.backend = "cpu";
    long long steps = -1, seed = -1, threads = 0;
    civ_option opts[] = {
        SCALE_OPTION(&o.ov.scale, "to synthesize", "the study's"),
        {"population", 0, CIV_OPT_STRING, &o.ov.population, 0, 0, "FILE",
         "use a population saved by 'civitas synth' instead of synthesizing", NULL, 0},
        {"steps", 0, CIV_OPT_INT, &steps, 1, CIV_MAX_STEPS, "N", "number of simulated days", "the study's", 0},
        {"seed", 0, CIV_OPT_INT, &seed, 0, (double)CIV_MAX_SEED, "N", "simulation seed", "the study's", 0},
        {"output", 'o', CIV_OPT_STRING, &o.ov.output, 0, 0, "FILE", "output file", "the study's output.file", 0},
        THREADS_OPTION(&threads, "; results do not depend on it", "all cores"),
        {"backend", 0, CIV_OPT_STRING, &o.backend, 0, 0, "B", BACKEND_HELP, NULL, 0},
        {"llm", 0, CIV_OPT_CUSTOM, &o.ov, 0, 0, "MODE [FILE]",
         "behaviour source: heuristic, llm (the study's behavior.llm endpoint), or replay FILE (answers "
         "recorded by an llm run, no network)", "the study's behavior.mode", parse_llm},
        QUIET_OPTION(&o.quiet),
        {0}};
    const civ_command_spec spec = {
        "run", "STUDY.json [options]",
        "Simulates the study and writes its trajectory (HDF5; path from the study's output.file,\n"
        "default <name>.h5 in the current directory).",
        NULL, 1, 1, "STUDY.json", opts};
    positional p;
    int rc = parse(&spec, argc, argv, &p);
    if (rc < 0) {
        o.study = p.args[0];
        o.ov.steps = (long)steps;
        o.ov.seed = seed;
        o.threads = (int)threads;
        o.ov.quiet = o.quiet;
        civ_error err = {0};
        civ_run(&o, &err);
        rc = report(&err);
    }
    free(p.args);
    return rc;
}

/* ---- synth -------------------------------------------------------------------------------------- */

static int parse_month(const civ_option *o, int argc, char **argv, int *i, char *msg, size_t msg_len)
{
    civ_synth_options *so = o->target;
    const char *v = *i + 1 < argc ? argv[++*i] : "";
    if (sscanf(v, "%4d-%2d", &so->laus_year, &so->laus_month) != 2 || strlen(v) != 7 || so->laus_month < 1 ||
        so->laus_month > 12) {
        snprintf(msg, msg_len, "--employment-reference '%s': expected YYYY-MM", v);
        return 1;
    }
    return 0;
}

static int cmd_synth(int argc, char **argv)
{
    civ_synth_options so = {CIVITAS_DATA_DIR, 1.0, 1, 2020, 2, false};
    const char *outp = NULL;
    long long seed = 1;
    civ_option opts[] = {
        {"output", 'o', CIV_OPT_STRING, &outp, 0, 0, "FILE", "population file to write (required)", NULL, 0},
        SCALE_OPTION(&so.scale, "", "1 = 8.4M agents"),
        {"seed", 0, CIV_OPT_INT, &seed, 0, (double)CIV_MAX_POPULATION_SEED, "N", "synthesis seed", "1", 0},
        {"data", 0, CIV_OPT_STRING, &so.data_dir, 0, 0, "DIR", "data directory", "the data/ folder of the source tree", 0},
        {"employment-reference", 0, CIV_OPT_CUSTOM, &so, 0, 0, "YYYY-MM", "LAUS month for the labour force",
         "2020-02", parse_month},
        QUIET_OPTION(&so.quiet),
        {0}};
    const civ_command_spec spec = {
        "synth", "-o POP.h5 [options]",
        "Synthesizes New York City agents (households, schools, workplaces, employment) from the\n"
        "census marginals in the data directory and saves them for studies to reuse.",
        NULL, 0, 0, "", opts};
    positional p;
    int rc = parse(&spec, argc, argv, &p);
    free(p.args);
    if (rc >= 0) return rc;
    if (!outp) return civ_usage_error(&spec, "-o FILE is required");
    so.seed = (uint64_t)seed;
    civ_error err = {0};
    civ_population pop;
    double t0 = civ_now();
    if (civ_output_check(outp, &err)) return report(&err);   /* before the synthesis, not after it */
    if (!so.quiet) fprintf(stderr, "civitas: synthesizing population (scale %g, seed %llu) from %s\n", so.scale,
                           (unsigned long long)so.seed, so.data_dir);
    if (civ_synthesize(&so, &pop, &err)) return report(&err);
    if (!so.quiet) fprintf(stderr, "civitas: %u agents, %u households, %u schools and workplaces (%.1fs); saving %s\n",
                           pop.n_agents, pop.n_households, pop.n_places, civ_now() - t0, outp);
    civ_population_save(&pop, outp, &err);
    civ_population_free(&pop);
    return report(&err);
}

/* ---- ensemble ----------------------------------------------------------------------------------- */

static int cmd_ensemble(int argc, char **argv)
{
    civ_ensemble_options o = {0};
    o.ov.scale = -1; o.ov.seed = -1;
    o.backend = "cpu";
    long long seeds = 10, steps = -1, threads = 0;
    civ_option opts[] = {
        {"seeds", 0, CIV_OPT_INT, &seeds, 1, 10000, "N", "runs per study", "10", 0},
        SCALE_OPTION(&o.ov.scale, "to synthesize, for every study", "each study's"),
        {"steps", 0, CIV_OPT_INT, &steps, 1, CIV_MAX_STEPS, "N", "simulated days, for every study", "each study's", 0},
        THREADS_OPTION(&threads, " per rank", "cores / ranks"),
        {"backend", 0, CIV_OPT_STRING, &o.backend, 0, 0, "B",
         "cpu (default), cuda (one GPU per rank: device = rank mod devices) or auto", NULL, 0},
        {"output", 'o', CIV_OPT_STRING, &o.output, 0, 0, "FILE", "ensemble file (required)", NULL, 0},
        QUIET_OPTION(&o.quiet),
        {0}};
    const civ_command_spec spec = {
        "ensemble", "STUDY.json [STUDY.json ...] --seeds N -o ENSEMBLE.h5 [options]\n"
                    "       mpirun -np R civitas ensemble ...     (runs split over R ranks; same file for any R)",
        "Runs every study (the first is the base, the others its counterfactuals) for N seeds (the study's\n"
        "seed, +1, ...; with a posterior, run k of every study also shares its parameter draw), and writes\n"
        "every run's series and, per study, mean, median, 5% and 95% per series (xarray: /runs is\n"
        "(run, date, borough, age_band)). Studies must share start_date, steps and output age bands.\n"
        "'civitas report ENSEMBLE.h5' compares them.",
        NULL, 1, -1, "STUDY.json (at least one)", opts};
    positional p;
    int rc = parse(&spec, argc, argv, &p);
    if (rc < 0 && !o.output) rc = civ_usage_error(&spec, "-o ENSEMBLE.h5 is required");
    if (rc < 0) {
        o.studies = (const char **)p.args;
        o.n_studies = p.n;
        o.seeds = (int)seeds;
        o.ov.steps = (long)steps;
        o.threads = (int)threads;
        civ_error err = {0};
        civ_ensemble(&o, &err);
        rc = report(&err);
    }
    free(p.args);
    return rc;
}

/* ---- report ------------------------------------------------------------------------------------- */

/* "RUN.h5" -> "RUN" + suffix */
static void beside(const char *path, const char *suffix, char *buf, size_t len)
{
    snprintf(buf, len, "%s", path);
    char *dot = strrchr(buf, '.');
    if (dot && strcmp(dot, ".h5") == 0) *dot = 0;
    strncat(buf, suffix, len - strlen(buf) - 1);
}

static int cmd_report(int argc, char **argv)
{
    civ_report_options o = {0};
    o.data_dir = CIVITAS_DATA_DIR;
    civ_option opts[] = {
        {"output", 'o', CIV_OPT_STRING, &o.out_dir, 0, 0, "DIR", "report directory", "FILE_report next to the first input", 0},
        {"holdout-from", 0, CIV_OPT_STRING, &o.holdout_from, 0, 0, "DATE", "first held-out day, YYYY-MM-DD",
         "the study's calibration.held_out_from, else 2020-06-01 when simulated, else (runs) the last 28 days", 0},
        {"from", 0, CIV_OPT_STRING, &o.from, 0, 0, "DATE", "first day of an ensemble's outcome tables, YYYY-MM-DD",
         "the first simulated day", 0},
        {"to", 0, CIV_OPT_STRING, &o.to, 0, 0, "DATE", "last day of an ensemble's outcome tables, YYYY-MM-DD",
         "the last simulated day", 0},
        {"data", 0, CIV_OPT_STRING, &o.data_dir, 0, 0, "DIR",
         "folder with nyc_laus_monthly_by_borough.csv, when it is not beside the study's observed data",
         "the data/ folder of the source tree", 0},
        {0}};
    const civ_command_spec spec = {
        "report", "ENSEMBLE.h5 [--from DATE] [--to DATE] [-o DIR] [--holdout-from DATE]\n"
                  "       civitas report RUN.h5 [RUN2.h5 ...] [-o DIR] [--holdout-from DATE]",
        "Writes DIR/report.html (one self-contained page: inline SVG, no network) and DIR/report.md with\n"
        "its SVG files, in real-city units.\n"
        "An ensemble file (a base study and its counterfactuals): every study per borough and citywide with\n"
        "its median and 5-95% band, the observed data and the held-out boundary; the infections, reported\n"
        "cases, hospital admissions, deaths and unemployment-months each counterfactual averts, paired run\n"
        "by run (same seed, same posterior draw), with 5-95% intervals, over --from to --to; and the base\n"
        "alone against the observed data (counterfactuals are scenarios, never scored against it).\n"
        "Run files: simulated vs observed reported cases, hospital admissions and deaths per borough,\n"
        "unemployment vs LAUS, and error tables (MAE, RMSE, normalised deviation, correlation) on the\n"
        "fitted and held-out windows, for each run (e.g. heuristic and LLM agents); runs of studies marked\n"
        "\"scenario\": true are drawn, not scored.",
        NULL, 1, -1, "ENSEMBLE.h5 or RUN.h5 (at least one)", opts};
    positional p;
    int rc = parse(&spec, argc, argv, &p);
    if (rc < 0) {
        o.runs = (const char **)p.args;
        o.n_runs = p.n;
        char dir[4096];
        if (!o.out_dir) {
            beside(o.runs[0], "_report", dir, sizeof dir);
            o.out_dir = dir;
        }
        civ_error err = {0};
        if (civ_report(&o, &err) == CIV_OK) fprintf(stderr, "civitas: wrote %s/report.html and %s/report.md\n", o.out_dir, o.out_dir);
        rc = report(&err);
    }
    free(p.args);
    return rc;
}

/* ---- calibrate ---------------------------------------------------------------------------------- */

static int cmd_calibrate(int argc, char **argv)
{
    civ_calibrate_options o = {0};
    o.scale = -1;
    long long particles = -1, generations = -1, sims = -1, seed = -1, threads = 0;
    civ_option opts[] = {
        {"output", 'o', CIV_OPT_STRING, &o.output, 0, 0, "FILE", "calibrated study to write (required)", NULL, 0},
        {"fit-until", 0, CIV_OPT_STRING, &o.fit_until, 0, 0, "DATE",
         "last fitted day, YYYY-MM-DD (never inside calibration.held_out_from and after)", "calibration.fit_until", 0},
        SCALE_OPTION(&o.scale, "for the fit", "calibration.method.scale, else the study's"),
        {"particles", 0, CIV_OPT_INT, &particles, 10, 100000, "N", "particles per generation",
         "calibration.method.particles, else 100", 0},
        {"generations", 0, CIV_OPT_INT, &generations, 1, 100, "G", "most generations",
         "calibration.method.max_generations, else 10", 0},
        {"max-simulations", 0, CIV_OPT_INT, &sims, 10, 100000000, "N", "most simulations in all",
         "calibration.method.max_simulations, else 50 x particles", 0},
        {"seed", 0, CIV_OPT_INT, &seed, 0, (double)CIV_MAX_SEED, "N",
         "calibration seed (every draw and every particle's simulation seed follow from it)",
         "calibration.method.seed, else 1", 0},
        THREADS_OPTION(&threads, " per rank", "cores / ranks"),
        QUIET_OPTION(&o.quiet),
        {0}};
    const civ_command_spec spec = {
        "calibrate", "STUDY.json -o CALIBRATED.json [options]\n"
                     "       mpirun -np R civitas calibrate ...     (particles split over R ranks; same result for any R)",
        "Fits the free parameters named in the study's 'calibration' section to its observed data with\n"
        "ABC-SMC (population Monte Carlo) and returns a posterior, not one point. Each parameter is a JSON\n"
        "path into the study (\"parameters.beta\", \"testing.seek_scale\", \"interventions[3].factor\", ...)\n"
        "with a prior (lognormal {median, sd_log}, uniform or log_uniform {min, max}, beta {a, b}, normal\n"
        "{mean, sd}) and its source. The distance is the negative log-likelihood of the targets: reported\n"
        "cases, hospital admissions and deaths (per borough, weekly sums, negative binomial with a stated\n"
        "dispersion; simulated counts / population scale = real-city units) and serosurveys (share ever\n"
        "infected by a date, normal on the logit scale from the 95% interval). Days after fit_until, and\n"
        "never any from calibration.held_out_from on, are held out. Behaviour is heuristic while fitting.\n"
        "Writes CALIBRATED.json (STUDY.json as its base, the fitted fields at their posterior medians,\n"
        "'posterior' naming the sample), CALIBRATED.posterior.csv (weighted particles: one column per\n"
        "path, weight, distance; ensembles of the calibrated study draw one per run) and\n"
        "CALIBRATED.json.fit.json (settings, every generation's tolerance, acceptance rate, ESS and\n"
        "posterior medians and 90% intervals, the best particle, why it stopped, timings).",
        "It stops when the acceptance rate falls below calibration.method.min_acceptance or the tolerance\n"
        "falls by less than min_tolerance_decrease (converged), or when max_generations or max_simulations\n"
        "run out (a warning: not converged).",
        1, 1, "STUDY.json", opts};
    positional p;
    int rc = parse(&spec, argc, argv, &p);
    if (rc < 0 && !o.output) rc = civ_usage_error(&spec, "-o CALIBRATED.json is required");
    if (rc < 0) {
        o.study = p.args[0];
        o.particles = particles;
        o.generations = generations;
        o.max_simulations = sims;
        o.seed = seed;
        o.threads = (int)threads;
        civ_error err = {0};
        civ_calibrate(&o, &err);
        rc = report(&err);
    }
    free(p.args);
    return rc;
}

/* ---- info, plot --------------------------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    civ_option opts[] = {{0}};
    const civ_command_spec spec = {"info", "FILE.h5",
                                   "Summarises a population, run or ensemble file (counts in real-city units, with\n"
                                   "the population scale stated).", NULL, 1, 1, "FILE.h5", opts};
    positional p;
    int rc = parse(&spec, argc, argv, &p);
    if (rc < 0) {
        civ_error err = {0};
        civ_info(p.args[0], stdout, &err);
        rc = report(&err);
    }
    free(p.args);
    return rc;
}

static int cmd_plot(int argc, char **argv)
{
    civ_plot_options o = {0};
    bool no_observed = false;
    civ_option opts[] = {
        {"output", 'o', CIV_OPT_STRING, &o.svg_path, 0, 0, "FILE", "SVG file", "FILE.svg next to the input", 0},
        {"log", 0, CIV_OPT_FLAG, &o.log_y, 0, 0, NULL, "logarithmic y axes", NULL, 0},
        {"holdout-from", 0, CIV_OPT_STRING, &o.holdout_from, 0, 0, "DATE",
         "first held-out day, YYYY-MM-DD, drawn as a dashed line",
         "the study's calibration.held_out_from, else 2020-06-01 when simulated", 0},
        {"no-observed", 0, CIV_OPT_FLAG, &no_observed, 0, 0, NULL, "leave the observed series out", NULL, 0},
        {0}};
    const civ_command_spec spec = {
        "plot", "RUN.h5|ENSEMBLE.h5 [-o OUT.svg] [--log] [--holdout-from DATE] [--no-observed]",
        "Draws, for New York City and each borough, daily infections, reported cases, hospital admissions\n"
        "and deaths (7-day means) and people unemployed, in real-city units (simulated counts divided by the\n"
        "population scale), with the observed DOHMH series when the study named them. For an ensemble file:\n"
        "every study's median over its runs with the 5-95% band.",
        NULL, 1, 1, "RUN.h5 or ENSEMBLE.h5", opts};
    positional p;
    int rc = parse(&spec, argc, argv, &p);
    if (rc < 0) {
        char buf[4096];
        o.input = p.args[0];
        if (!o.svg_path) {
            beside(p.args[0], ".svg", buf, sizeof buf);
            o.svg_path = buf;
        }
        o.show_observed = !no_observed;
        civ_error err = {0};
        if (civ_plot(&o, &err) == CIV_OK) fprintf(stderr, "civitas: wrote %s\n", o.svg_path);
        rc = report(&err);
    }
    free(p.args);
    return rc;
}

/* ---- the table of commands ---------------------------------------------------------------------- */

const civ_command civ_commands[] = {
    {"run", "STUDY.json", "simulate a study and write an HDF5 trajectory", cmd_run},
    {"ensemble", "STUDY...", "run studies for N seeds each (MPI-aware); runs and mean/median/5-95% bands", cmd_ensemble},
    {"synth", "", "synthesize a population from census marginals and save it (HDF5)", cmd_synth},
    {"info", "FILE.h5", "summarise a population, run or ensemble file", cmd_info},
    {"plot", "RUN.h5|ENS.h5", "draw daily series by borough in real-city units (SVG); ensembles with bands", cmd_plot},
    {"calibrate", "STUDY", "fit the study's calibration parameters to observed data (ABC-SMC posterior; MPI-aware)",
     cmd_calibrate},
    {"report", "ENS.h5|RUN.h5...", "HTML + Markdown report: an ensemble's counterfactuals with bands and outcomes\n"
                                   "                     averted; runs against observed cases, admissions, deaths and LAUS", cmd_report},
    {NULL, NULL, NULL, NULL}};
