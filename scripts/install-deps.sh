#!/bin/sh
# install-deps.sh -- install the Debian packages the build needs, where any is missing.
# Runs apt-get only when a package is absent (as root, or through sudo when available).
# libopenblas0-openmp is for tests/cli/openblas_openmp.sh only: at a lower priority than the
# pthreads build it leaves the system's libopenblas.so.0 as it was.
set -e
pkgs="build-essential pkg-config libopenblas-dev libjansson-dev libcurl4-openssl-dev zlib1g-dev
      libopenmpi-dev openmpi-bin libopenblas0-openmp"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; else
    echo "install-deps: need root to install:$missing" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing
