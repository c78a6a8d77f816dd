#!/usr/bin/env bash
# Side-by-side speed comparison of dl against Keras (tensorflow-cpu) and PyTorch, one thread each.
#
#   bash benches/peers/run.sh                # install (first time), run all three, print the tables
#   bash benches/peers/run.sh --no-dl        # only the Python peers (the report shows dl as n/a)
#   bash benches/peers/run.sh --no-peers     # only dl's criterion bench (reuses earlier peer results)
#   bash benches/peers/run.sh --install-only # only create/update the venv
#   bash benches/peers/run.sh --dfdx         # also build and time benches/peers/dfdx (MLPs, stable)
#   bash benches/peers/run.sh --compile-time # only: incremental release rebuild of a crate declaring
#                                            # the tutorial networks, dl against dfdx (median of 3)
#
# Environment: PEERS_VENV overrides the venv location (default benches/peers/.venv);
# PEERS_CPU picks the core every process is pinned to (default 0); PYTHON the interpreter
# used to create the venv (default python3); DFDX_TOOLCHAIN a rustup toolchain for the dfdx
# crate of --compile-time (e.g. nightly, for its CNN; default: the active one).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${PEERS_VENV:-$HERE/.venv}"
CPU="${PEERS_CPU:-0}"
RESULTS="$HERE/results"

run_dl=1
run_peers=1
install_only=0
run_dfdx=0
compile_time=0
for arg in "$@"; do
    case "$arg" in
        --no-dl) run_dl=0 ;;
        --no-peers) run_peers=0 ;;
        --install-only) install_only=1 ;;
        --dfdx) run_dfdx=1 ;;
        --compile-time) compile_time=1 ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

log() { printf '\n== %s\n' "$*" >&2; }

# --- compile time ---------------------------------------------------------------------------
# Seconds of `touch src/main.rs && cargo build --release` in a crate that declares the networks
# (benches/peers/compile_time/*: their own workspaces and target dirs), median of 3 after a
# warm-up build: what a user waits for after editing the file that declares their networks.
rebuild_seconds() { # dir, cargo args...
    local dir="$1" t0 t1 times=() i
    shift
    (cd "$dir" && cargo build --release --quiet "$@") || return 1
    for i in 1 2 3; do
        touch "$dir/src/main.rs"
        t0="$(date +%s.%N)"
        (cd "$dir" && cargo build --release --quiet "$@") || return 1
        t1="$(date +%s.%N)"
        times+=("$(echo "$t1 - $t0" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -g | sed -n 2p | xargs printf '%.2f'
    printf ' (runs: %s)' "$(printf '%.2f ' "${times[@]}" | sed 's/ $//')"
}

if [[ $compile_time == 1 ]]; then
    CT="$HERE/compile_time"
    log "compile time: dl (benches/peers/compile_time/dl_models), load $(cut -d' ' -f1-3 /proc/loadavg)"
    dl_all="$(rebuild_seconds "$CT/dl_models")" || dl_all="failed"
    dl_mlp_cnn="$(rebuild_seconds "$CT/dl_models" --no-default-features --features cnn)" || dl_mlp_cnn="failed"
    dl_mlp="$(rebuild_seconds "$CT/dl_models" --no-default-features)" || dl_mlp="failed"
    log "compile time: dfdx 0.13 (benches/peers/compile_time/dfdx_models)"
    [[ -n "${DFDX_TOOLCHAIN:-}" ]] && export RUSTUP_TOOLCHAIN="$DFDX_TOOLCHAIN"
    dfdx_what="MLP + CNN"
    if ! (cd "$CT/dfdx_models" && cargo build --release --quiet --features cnn 2>/dev/null); then
        dfdx_what="MLP only: the CNN needs dfdx's nightly feature, which does not build here"
        echo "run.sh: dfdx's CNN (feature nightly) does not build with this toolchain; timing dfdx's MLP alone" >&2
        dfdx="$(rebuild_seconds "$CT/dfdx_models")" || dfdx="failed"
    else
        dfdx="$(rebuild_seconds "$CT/dfdx_models" --features cnn)" || dfdx="failed"
    fi
    printf '\n%s\n' "Incremental release rebuild after touching src/main.rs (seconds, median of 3; load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
    printf '| %-10s | %-70s | %s |\n' crate networks seconds
    printf '| %-10s | %-70s | %s |\n' ---------- "$(printf -- '-%.0s' {1..70})" -------
    printf '| %-10s | %-70s | %s |\n' dl "MLP + CNN + LSTM" "$dl_all"
    printf '| %-10s | %-70s | %s |\n' dl "MLP + CNN" "$dl_mlp_cnn"
    printf '| %-10s | %-70s | %s |\n' dl "MLP" "$dl_mlp"
    printf '| %-10s | %-70s | %s |\n' "dfdx 0.13" "$dfdx_what" "$dfdx"
    exit 0
fi

# --- venv -----------------------------------------------------------------------------------
ensure_venv() {
    local stamp="$VENV/.peers-requirements.txt"
    if [[ -x "$VENV/bin/python" ]] && cmp -s "$HERE/requirements.txt" "$stamp"; then
        return
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating venv $VENV"
        "${PYTHON:-python3}" -m venv "$VENV"
    fi
    log "installing pinned peers into $VENV (torch from PyPI pulls large CUDA wheels; this takes a while)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --disable-pip-version-check -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$stamp"
}

if [[ $run_peers == 1 || $install_only == 1 ]]; then
    ensure_venv
fi
[[ $install_only == 1 ]] && exit 0

# --- one thread, one core -------------------------------------------------------------------
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
export TF_CPP_MIN_LOG_LEVEL=2 KERAS_BACKEND=tensorflow CUDA_VISIBLE_DEVICES=""
export PYTHONHASHSEED=0
if command -v taskset >/dev/null; then
    PIN=(taskset -c "$CPU")
else
    echo "run.sh: taskset not found; processes are NOT pinned to one core" >&2
    PIN=()
fi

# Other processes on the machine skew every number: say so when the CPUs are not idle.
cpu_busy_percent() {
    local a b
    a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
    local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
    echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
busy="$(cpu_busy_percent 2>/dev/null || echo 0)"
PEERS_LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
export PEERS_LOAD_START
if (( busy > 10 )); then
    echo "run.sh: warning: the CPUs were ${busy}% busy before the run; expect noisy numbers" >&2
fi

mkdir -p "$RESULTS"
start_epoch="$(date +%s)"

if [[ $run_peers == 1 ]]; then
    log "Keras (tensorflow-cpu)"
    rm -f "$RESULTS/keras.json"
    "${PIN[@]}" "$VENV/bin/python" "$HERE/keras_bench.py" --out "$RESULTS/keras.json" ||
        echo "run.sh: keras_bench.py failed" >&2
    log "PyTorch"
    rm -f "$RESULTS/torch.json"
    "${PIN[@]}" "$VENV/bin/python" "$HERE/torch_bench.py" --out "$RESULTS/torch.json" ||
        echo "run.sh: torch_bench.py failed" >&2
fi

target_dir="$ROOT/target"
if [[ $run_dl == 1 ]]; then
    target_dir="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' ||
        echo "$ROOT/target")"
    log "dl (cargo bench --bench mlp --bench cnn)"
    (cd "$ROOT" && "${PIN[@]}" cargo bench --bench mlp --bench cnn -- --noplot) ||
        echo "run.sh: dl's mlp/cnn bench failed; the missing numbers are reported as n/a" >&2
    # Separate invocation, so that a broken or unregistered lstm bench cannot cost the others.
    if [[ -f "$ROOT/benches/lstm.rs" ]]; then
        log "dl (cargo bench --bench lstm)"
        (cd "$ROOT" && "${PIN[@]}" cargo bench --bench lstm -- --noplot) ||
            echo "run.sh: dl's lstm bench failed; text_lstm's dl numbers are reported as n/a" >&2
    else
        echo "run.sh: benches/lstm.rs does not exist yet; text_lstm's dl numbers are n/a" >&2
    fi
fi

if [[ $run_dfdx == 1 ]]; then
    log "dfdx (benches/peers/dfdx: its own workspace and target dir; MLPs only)"
    rm -f "$RESULTS/dfdx.json"
    (cd "$HERE/dfdx" && cargo build --release --quiet &&
        RAYON_NUM_THREADS=1 "${PIN[@]}" ./target/release/dfdx-peer --out "$RESULTS/dfdx.json") ||
        echo "run.sh: the dfdx bench failed" >&2
elif [[ $run_peers == 1 ]]; then
    rm -f "$RESULTS/dfdx.json" # never mix an old dfdx run into a fresh table
fi

since=()
[[ $run_dl == 1 ]] && since=(--dl-since "$start_epoch")
python_for_report="$VENV/bin/python"
[[ -x "$python_for_report" ]] || python_for_report=python3
log "report"
"$python_for_report" "$HERE/report.py" --results "$RESULTS" \
    --criterion "$target_dir/criterion" "${since[@]}"
echo "run.sh: $(( $(date +%s) - start_epoch )) s after installation" >&2
