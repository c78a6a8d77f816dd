#!/usr/bin/env bash
# dl's embedded forward against TensorFlow Lite Micro and LiteRT on the four MLPerf Tiny models
# (latency, memory, binary size), one core, one run; prints a Markdown table. See
# embedded_tiny.py.
#
#   bash benches/peers/embedded_tiny.sh
#
# Environment: PEERS_VENV (default benches/peers/.venv, created from requirements.txt if
# missing), PEERS_CPU (default 0), PYTHON (default python3), DL_RUSTFLAGS (the RUSTFLAGS of dl's
# side, default "-C target-cpu=native"; "" for the baseline target).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEERS_VENV:-$HERE/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet -r "$HERE/requirements.txt"
exec "$VENV/bin/python" "$HERE/embedded_tiny.py"
