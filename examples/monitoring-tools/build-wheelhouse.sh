#!/usr/bin/env bash
# Build the monitoring tier's wheels for offline hosts (x86_64, the CPython of every supported Debian release:
# 3.11 on Debian 12, 3.13 on Debian 13, side by side; pip on a host picks those of its Python).
#
#   examples/monitoring-tools/build-wheelhouse.sh OUTDIR
#
# The exporters role installs the PgBouncer exporter from OUTDIR. Pure-Python packages published only as
# source are built into wheels here (requirements.txt, without their dependencies: their pins are too old
# for Python 3.11); binary packages are downloaded as wheels (requirements-binary.txt), once per host Python.
# PYTHON selects the interpreter that runs pip (default python3); TARGET_PYTHONS the hosts' Pythons (default:
# those of plugins/module_utils/debian_releases.py, see examples/host-pythons).
set -euo pipefail

PYTHON=${PYTHON:-python3}
if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
outdir=$1
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
read -r -a TARGET_PYTHONS <<<"${TARGET_PYTHONS:-$(PYTHON=$PYTHON "$src/../host-pythons")}"
mkdir -p "$outdir"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --use-pep517 --wheel-dir "$outdir" -r "$src/requirements.txt"
for target in "${TARGET_PYTHONS[@]}"; do
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --dest "$outdir" --only-binary=:all: --no-deps \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --python-version "$target" --implementation cp --abi "cp${target/./}" -r "$src/requirements-binary.txt"
done
echo "wheelhouse $outdir: for Python ${TARGET_PYTHONS[*]}, $(find "$outdir" -name '*.whl' | wc -l) wheels," \
    "$(du -sh "$outdir" | cut -f1)"
