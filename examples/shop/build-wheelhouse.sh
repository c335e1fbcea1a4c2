#!/usr/bin/env bash
# Build a wheelhouse for offline hosts (Debian 12, CPython 3.11, x86_64):
# the opsforge-shop wheel plus binary wheels of all its dependencies.
#
#   examples/shop/build-wheelhouse.sh OUTDIR
#   SHOP_VERSION=1.0.1 examples/shop/build-wheelhouse.sh OUTDIR   # same code, another version
#
# Hosts then run: pip install --no-index --find-links OUTDIR opsforge-shop==VERSION
# PYTHON selects the interpreter that runs pip (default python3).
set -euo pipefail

PYTHON=${PYTHON:-python3}
TARGET_PYTHON=3.11
TARGET_GLIBC_MINOR=36  # Debian 12 has glibc 2.36: wheels for any manylinux up to 2_36 run there

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
outdir=$1
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/pyproject.toml")
if [[ -n ${SHOP_VERSION:-} ]]; then
    if [[ ! $SHOP_VERSION =~ ^[0-9]+(\.[0-9]+)*((a|b|rc|\.post|\.dev)[0-9]+)*$ ]]; then
        echo "$0: SHOP_VERSION '$SHOP_VERSION' is not a release version such as 1.0.1" >&2
        exit 2
    fi
    version=$SHOP_VERSION
fi

start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Build from a clean copy so the version can be rewritten without touching the checkout.
mkdir "$work/src"
cp -R "$src/pyproject.toml" "$src/README.md" "$src/shop" "$work/src/"
find "$work/src" -name __pycache__ -type d -prune -exec rm -rf {} +
sed -i "s/^version = \".*\"$/version = \"$version\"/" "$work/src/pyproject.toml"

mkdir -p "$outdir"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$work/src"
shop_wheel=$(find "$work/dist" -name "opsforge_shop-$version-*.whl" -print -quit)
if [[ -z $shop_wheel ]]; then
    echo "$0: pip wheel did not produce opsforge_shop-$version" >&2
    exit 1
fi
cp "$shop_wheel" "$outdir/"

# Dependencies as binary wheels for the hosts' platform, whatever machine runs this script.
# pip does not widen an explicit --platform to older glibc versions, so list every compatible tag.
platforms=()
for ((minor = TARGET_GLIBC_MINOR; minor >= 5; minor--)); do
    platforms+=(--platform "manylinux_2_${minor}_x86_64")
done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
"$PYTHON" -m pip download --quiet --dest "$outdir" \
    --only-binary=:all: "${platforms[@]}" \
    --python-version "$TARGET_PYTHON" --implementation cp --abi "cp${TARGET_PYTHON/./}" \
    "$outdir/$(basename "$shop_wheel")"

# When this interpreter matches the hosts, prove the wheelhouse resolves without an index.
if "$PYTHON" -c 'import platform, sys; sys.exit(not (sys.version_info[:2] == (3, 11) and platform.machine() == "x86_64"))'; then
    "$PYTHON" -m pip install --quiet --dry-run --ignore-installed --no-index --find-links "$outdir" \
        "opsforge-shop==$version"
fi

echo "wheelhouse $outdir: opsforge-shop $version, $(find "$outdir" -name '*.whl' | wc -l) wheels," \
    "$(du -sh "$outdir" | cut -f1), $((SECONDS - start)) s"
