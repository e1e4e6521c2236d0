#!/usr/bin/env bash
# Installs everything spanvm needs to build, test and benchmark on Debian 12.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then echo "install-deps: must run as root (apt-get)" >&2; exit 1; fi
pkgs=(build-essential cmake ninja-build pkg-config
      linux-libc-dev libfmt-dev doctest-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
      libboost-dev libssl-dev
      clang libclang-rt-14-dev spin gnuplot-nox iproute2 python3
      pigz xz-utils zstd sysbench coreutils file jq binutils libc6-dev procps bc findutils man-db)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all dependencies present"
