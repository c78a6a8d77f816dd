#!/usr/bin/env bash
# Side-by-side speed comparison of dl against Keras (tensorflow-cpu) and PyTorch, one thread each.
#
#   bash benches/peers/run.sh                # install (first time), run all three, print the tables
#   bash benches/peers/run.sh --no-dl        # only the Python peers (the report shows dl as n/a)
#   bash benches/peers/run.sh --no-peers     # only dl's criterion bench (reuses earlier peer results)
#   bash benches/peers/run.sh --install-only # only create/update the venv
#   bash benches/peers/run.sh --dfdx         # also build and time benches/peers/dfdx (MLPs, stable)
#   bash benches/peers/run.sh --resnet8      # only ResNet-8 (peers and dl); the other models n/a
#   bash benches/peers/run.sh --tiny         # only MLPerf Tiny's DS-CNN and MobileNetV1 (peers and dl)
#   bash benches/peers/run.sh --compile-time # only: incremental release rebuild (and cargo check)
#                                            # of crates declaring the tutorial networks, VGG-16,
#                                            # ResNet-8 and 3-200-layer stacks, dl against dfdx
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
resnet8_only=0
tiny_only=0
for arg in "$@"; do
    case "$arg" in
        --no-dl) run_dl=0 ;;
        --no-peers) run_peers=0 ;;
        --install-only) install_only=1 ;;
        --dfdx) run_dfdx=1 ;;
        --compile-time) compile_time=1 ;;
        --resnet8) resnet8_only=1 ;;
        --tiny) tiny_only=1 ;;
        -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

log() { printf '\n== %s\n' "$*" >&2; }

# --- compile time ---------------------------------------------------------------------------
# Seconds of `touch <file> && cargo <command>` in a crate that declares the networks
# (benches/peers/compile_time/*: their own workspaces and target dirs), median of 3 after a
# warm-up build: what a user waits for after editing the file that declares their networks.
rebuild_seconds() { # dir, file to touch (relative to dir), cargo subcommand and args...
    local dir="$1" file="$2" t0 t1 times=() i
    shift 2
    (cd "$dir" && cargo "$@" --quiet) || return 1
    for i in 1 2 3; do
        touch "$dir/$file"
        t0="$(date +%s.%N)"
        (cd "$dir" && cargo "$@" --quiet) || return 1
        t1="$(date +%s.%N)"
        times+=("$(echo "$t1 - $t0" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -g | sed -n 2p | xargs printf '%.2f'
    printf ' (runs: %s)' "$(printf '%.2f ' "${times[@]}" | sed 's/ $//')"
}

if [[ $compile_time == 1 ]]; then
    CT="$HERE/compile_time"
    row() { printf '| %-10s | %-78s | %-28s | %s |\n' "$@"; }
    rows=()
    log "compile time: dl (benches/peers/compile_time/dl_models), load $(cut -d' ' -f1-3 /proc/loadavg)"
    main=(--bin dl-models)
    t="$(rebuild_seconds "$CT/dl_models" src/main.rs build --release "${main[@]}")" || t="failed"
    rows+=("dl|MLP + CNN + LSTM|$t|")
    t="$(rebuild_seconds "$CT/dl_models" src/main.rs build --release "${main[@]}" --no-default-features --features cnn)" || t="failed"
    rows+=("dl|MLP + CNN|$t|")
    t="$(rebuild_seconds "$CT/dl_models" src/main.rs build --release "${main[@]}" --no-default-features)" || t="failed"
    rows+=("dl|MLP|$t|")
    # One network per binary (src/bin/*.rs), each built, run forward and trained one Adam step:
    # the release rebuild and `cargo check` after touching the file that declares it.
    for bin in vgg16 resnet8 deep3 deep50 deep100 deep200; do
        log "compile time: dl, $bin, load $(cut -d' ' -f1-3 /proc/loadavg)"
        b="$(rebuild_seconds "$CT/dl_models" "src/bin/$bin.rs" build --release --bin "$bin")" || b="failed"
        c="$(rebuild_seconds "$CT/dl_models" "src/bin/$bin.rs" check --bin "$bin")" || c="failed"
        rows+=("dl|$bin (src/bin/$bin.rs; forward + one Adam step)|$b|$c")
    done
    log "compile time: dfdx 0.13 (benches/peers/compile_time/dfdx_models)"
    [[ -n "${DFDX_TOOLCHAIN:-}" ]] && export RUSTUP_TOOLCHAIN="$DFDX_TOOLCHAIN"
    if ! (cd "$CT/dfdx_models" && cargo build --release --quiet --features cnn 2>/dev/null); then
        echo "run.sh: dfdx's CNN and VGG-16 (feature nightly) do not build with this toolchain; timing dfdx's MLP alone" >&2
        t="$(rebuild_seconds "$CT/dfdx_models" src/main.rs build --release --bin dfdx-models)" || t="failed"
        rows+=("dfdx 0.13|MLP only: the CNN needs dfdx's nightly feature, which does not build here|$t|")
        rows+=("dfdx 0.13|vgg16 (src/bin/vgg16.rs): needs dfdx's nightly feature, does not build here|n/a|n/a")
    else
        t="$(rebuild_seconds "$CT/dfdx_models" src/main.rs build --release --bin dfdx-models --features cnn)" || t="failed"
        rows+=("dfdx 0.13|MLP + CNN|$t|")
        b="$(rebuild_seconds "$CT/dfdx_models" src/bin/vgg16.rs build --release --bin vgg16 --features cnn)" || b="failed"
        c="$(rebuild_seconds "$CT/dfdx_models" src/bin/vgg16.rs check --bin vgg16 --features cnn)" || c="failed"
        rows+=("dfdx 0.13|vgg16 (src/bin/vgg16.rs; forward + one Adam step)|$b|$c")
    fi
    printf '\n%s\n' "Seconds after touching the declaring file, median of 3 (load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
    row crate networks "cargo build --release" "cargo check"
    row ---------- "$(printf -- '-%.0s' {1..78})" "$(printf -- '-%.0s' {1..28})" -----------
    for r in "${rows[@]}"; do
        IFS='|' read -r a b c d <<<"$r"
        row "$a" "$b" "$c" "$d"
    done
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

peer_models=()
[[ $resnet8_only == 1 ]] && peer_models=(--models resnet8)
[[ $tiny_only == 1 ]] && peer_models=(--models ds_cnn,mobilenet_v1)
if [[ $run_peers == 1 ]]; then
    log "Keras (tensorflow-cpu)"
    rm -f "$RESULTS/keras.json"
    "${PIN[@]}" "$VENV/bin/python" "$HERE/keras_bench.py" --out "$RESULTS/keras.json" "${peer_models[@]}" ||
        echo "run.sh: keras_bench.py failed" >&2
    log "PyTorch"
    rm -f "$RESULTS/torch.json"
    "${PIN[@]}" "$VENV/bin/python" "$HERE/torch_bench.py" --out "$RESULTS/torch.json" "${peer_models[@]}" ||
        echo "run.sh: torch_bench.py failed" >&2
fi

target_dir="$ROOT/target"
if [[ $run_dl == 1 ]]; then
    target_dir="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' ||
        echo "$ROOT/target")"
fi
if [[ $run_dl == 1 && $tiny_only == 1 ]]; then
    log "dl (cargo bench --bench tiny)"
    (cd "$ROOT" && "${PIN[@]}" cargo bench --bench tiny -- --noplot) ||
        echo "run.sh: dl's tiny bench failed; ds_cnn's and mobilenet_v1's dl numbers are n/a" >&2
fi
if [[ $run_dl == 1 && $resnet8_only == 0 && $tiny_only == 0 ]]; then
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
if [[ $run_dl == 1 && $tiny_only == 0 ]]; then
    log "dl (cargo bench --bench resnet)"
    (cd "$ROOT" && "${PIN[@]}" cargo bench --bench resnet -- --noplot) ||
        echo "run.sh: dl's resnet bench failed; resnet8's dl numbers are reported as n/a" >&2
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
