#!/usr/bin/env bash
# Build the monitoring tier's wheels for offline hosts (Debian 12, CPython 3.11, x86_64).
#
#   examples/monitoring-tools/build-wheelhouse.sh OUTDIR
#
# The exporters role installs the PgBouncer exporter from OUTDIR. Pure-Python packages published only as
# source are built into wheels here (requirements.txt, without their dependencies: their pins are too old
# for Python 3.11); binary packages are downloaded as wheels (requirements-binary.txt).
# PYTHON selects the interpreter that runs pip (default python3).
set -euo pipefail

PYTHON=${PYTHON:-python3}
if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
outdir=$1
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$outdir"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --use-pep517 --wheel-dir "$outdir" -r "$src/requirements.txt"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --dest "$outdir" --only-binary=:all: --no-deps \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --python-version 3.11 --implementation cp --abi cp311 -r "$src/requirements-binary.txt"
echo "wheelhouse $outdir: $(find "$outdir" -name '*.whl' | wc -l) wheels, $(du -sh "$outdir" | cut -f1)"
