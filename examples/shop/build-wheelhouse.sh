#!/usr/bin/env bash
# Build a wheelhouse for offline hosts (x86_64, the CPython of every supported Debian release: 3.11 on
# Debian 12, 3.13 on Debian 13): the opsforge-shop wheel plus binary wheels of all its dependencies, for
# each of those Pythons side by side; pip on a host picks the ones of its own Python.
#
#   examples/shop/build-wheelhouse.sh OUTDIR
#   SHOP_VERSION=1.0.1 examples/shop/build-wheelhouse.sh OUTDIR   # same code, another version
#
# Hosts then run: pip install --no-index --find-links OUTDIR opsforge-shop==VERSION
# PYTHON selects the interpreter that runs pip (default python3); TARGET_PYTHONS the hosts' Pythons (default:
# those of the releases in plugins/module_utils/debian_releases.py, see examples/host-pythons).
# The opsforge-shop wheel is copied into OUTDIR last, once every Python's dependencies resolve there.
set -euo pipefail

PYTHON=${PYTHON:-python3}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
read -r -a TARGET_PYTHONS <<<"${TARGET_PYTHONS:-$(PYTHON=$PYTHON "$src/../host-pythons")}"
# The oldest glibc of the supported releases (Debian 12's 2.36; Debian 13 has 2.41): wheels for any manylinux
# up to 2_36 run on both.
TARGET_GLIBC_MINOR=36

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
outdir=$1

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

# Dependencies as binary wheels for the hosts' platform, whatever machine runs this script.
# pip does not widen an explicit --platform to older glibc versions, so list every compatible tag.
platforms=()
for ((minor = TARGET_GLIBC_MINOR; minor >= 5; minor--)); do
    platforms+=(--platform "manylinux_2_${minor}_x86_64")
done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
for target in "${TARGET_PYTHONS[@]}"; do
    target_abi=(--python-version "$target" --implementation cp --abi "cp${target/./}")
    "$PYTHON" -m pip download --quiet --dest "$outdir" --only-binary=:all: "${platforms[@]}" "${target_abi[@]}" \
        "$shop_wheel"
    # Prove that this Python's hosts resolve the release from the wheelhouse alone (pip evaluates the
    # dependencies' markers for the target Python, not for the one running it).
    "$PYTHON" -m pip install --quiet --dry-run --target "$work/target" --no-index --find-links "$outdir" \
        --find-links "$work/dist" --only-binary=:all: "${platforms[@]}" "${target_abi[@]}" "opsforge-shop==$version"
done
cp "$shop_wheel" "$outdir/"

echo "wheelhouse $outdir: opsforge-shop $version for Python ${TARGET_PYTHONS[*]}," \
    "$(find "$outdir" -name '*.whl' | wc -l) wheels, $(du -sh "$outdir" | cut -f1), $((SECONDS - start)) s"
