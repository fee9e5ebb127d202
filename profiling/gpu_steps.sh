# Step runner shared by gpu_session.sh and gpu_checks.sh (sourced, not run). A step runs one command
# with a time limit, appends everything it prints to $CIV_LOG under a header, and records one line
#   STEP NAME STATUS SECONDS
# in $CIV_SUMMARY and on stdout. A failed step never stops the session: later steps still run, and
# every log line is on disk the moment it is written, so a session cut short keeps what it did.
# The whole session shares one deadline ($CIV_DEADLINE, epoch seconds): a step gets at most the time
# left, and is skipped when less than 10 s remain.

: "${OUT:=/tmp/civitas-gpu}"
mkdir -p "$OUT"
: "${CIV_LOG:=$OUT/session.log}"
: "${CIV_SUMMARY:=$OUT/summary.txt}"
: "${CIV_FIGURES:=$OUT/figures.txt}"
: "${CIV_LAST:=${TMPDIR:-/tmp}/civitas_last_step.log}"   # the last step's output alone
: "${CIV_DEADLINE:=$(($(date +%s) + ${CIVITAS_GPU_BUDGET_S:-480}))}"
export OUT CIV_LOG CIV_SUMMARY CIV_FIGURES CIV_LAST CIV_DEADLINE

civ_note() { echo "$*" | tee -a "$CIV_LOG"; }

# civ_step NAME LIMIT_S COMMAND... : STATUS is ok, FAIL(rc), TIMEOUT, SKIPPED(77: the command's own
# reason is in the log) or SKIPPED(budget). Returns the command's exit status.
civ_step() {
    local name="$1" limit="$2" left status rc t0 t1
    shift 2
    left=$((CIV_DEADLINE - $(date +%s)))
    if [ "$left" -lt 10 ]; then
        printf 'STEP %-28s %-14s %6s\n' "$name" "SKIPPED(budget)" "0" | tee -a "$CIV_SUMMARY" "$CIV_LOG"
        return 124
    fi
    [ "$limit" -gt "$((left - 5))" ] && limit=$((left - 5))
    printf '\n===== %s (limit %ss) %s\n$ %s\n' "$name" "$limit" "$(date -u +%H:%M:%S)" "$*" >>"$CIV_LOG"
    t0=$(date +%s)
    # through bash, so that a step may be a shell function (export -f) as well as a program
    timeout --kill-after=5 "$limit" bash -c '"$@"' civ_step "$@" 2>&1 | tee -a "$CIV_LOG" >"$CIV_LAST"
    rc=${PIPESTATUS[0]}
    t1=$(date +%s)
    case $rc in
        0) status=ok ;;
        124|137) status=TIMEOUT ;;
        77) status="SKIPPED(77)" ;;
        *) status="FAIL($rc)" ;;
    esac
    printf 'STEP %-28s %-14s %6s\n' "$name" "$status" "$((t1 - t0))" | tee -a "$CIV_SUMMARY" "$CIV_LOG"
    return $rc
}

# civ_figure TEXT... : a line worth reading first (parity verdicts, ms per day), kept in $CIV_FIGURES.
civ_figure() { echo "$*" | tee -a "$CIV_FIGURES" >>"$CIV_LOG"; }
# civ_figures_from_last PREFIX REGEX : the last step's lines matching REGEX, as figures.
civ_figures_from_last() {
    grep -E "$2" "$CIV_LAST" | while IFS= read -r l; do civ_figure "$1: $l"; done
}

# civ_tool NAME : the path of a tool on PATH, in the CUDA toolkit or in an Nsight install; empty if none.
civ_tool() {
    local p
    p=$(command -v "$1" 2>/dev/null) && { echo "$p"; return; }
    for p in "/usr/local/cuda/bin/$1" /opt/nvidia/nsight-compute/*/"$1" /usr/local/cuda/nsight-compute*/"$1"; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
}
