#!/bin/sh
# setup.sh — one step from a fresh Debian 12 machine to a built m3ret.
#
#   ./setup.sh            install packages, build, run the bundled demo
#   ./setup.sh --build    install packages and build only (what CI does)
#
# Packages are installed with apt-get (as root, or through sudo); those
# already present are skipped. The build is in-tree so that `make check`
# and `make bench` run from the top folder afterwards.
set -eu

cd "$(dirname "$0")"

run_demo=yes
case "${1:-}" in
  --build) run_demo=no ;;
  "") ;;
  *) echo "usage: $0 [--build]" >&2; exit 2 ;;
esac

# Everything the build, the tests, the benchmarks and the fuzzers need.
packages="build-essential autoconf automake libtool pkg-config
  libglib2.0-dev libopenblas-dev libpng-dev libjpeg62-turbo-dev libjpeg-turbo-progs
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  libnifti2-dev zlib1g-dev libcairo2-dev libjson-glib-dev check libhnswlib-dev libtorch-dev
  valgrind clang libclang-rt-14-dev
  python3-numpy libopenmpi-dev openmpi-bin
  mricron-data python3-nibabel python3-matplotlib
  libgdcm-dev libgdcm-tools python3-pydicom
  libsoup-3.0-dev glib-networking chromium chromium-driver python3-selenium"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
  autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
  ./configure
fi
make -j"$jobs"

if [ "$run_demo" = yes ]; then
  make demo
fi
