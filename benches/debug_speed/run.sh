#!/usr/bin/env bash
# Training speed of a user's crate that depends on dl, in four profiles: a plain debug build,
# debug with only dependencies optimised, debug with `[profile.dev] opt-level = 3`, release.
# Each build has its own target directory (the first build of each takes minutes); then three
# interleaved rounds of `debug-speed 3` (3 s per network). README.md's "Debug builds" quotes it.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_INCREMENTAL=0
t=../../target/debug-speed
cargo build --quiet --target-dir "$t/debug"
cargo build --quiet --target-dir "$t/deps3" --config 'profile.dev.package."*".opt-level=3'
cargo build --quiet --target-dir "$t/all3" --config 'profile.dev.opt-level=3'
cargo build --quiet --target-dir "$t/release" --release
for round in 1 2 3; do
    for b in debug/debug deps3/debug all3/debug release/release; do
        echo "round $round, ${b%%/*}: $("$t/$b/debug-speed" 3 2>/dev/null | tr '\n' ' ')"
    done
done
