#!/usr/bin/env bash
# Debian packages gta builds and tests with. Idempotent; needs root (or sudo).
set -euo pipefail
# clang, libclang-rt-14-dev (libFuzzer) and libomp-dev: `make fuzz` (tests/fuzz);
# libopenmpi-dev and openmpi-bin: data-parallel training (mpirun, tests/cli/mpi.sh);
# libdnnl-dev: oneDNN's bf16 matmul for --compute bf16 (optional: the Makefile detects it)
pkgs=(build-essential libopenblas-openmp-dev libcjson-dev libcmocka-dev libpcre2-dev libutf8proc-dev wordnet-base python3
      clang libclang-rt-14-dev libomp-dev libopenmpi-dev openmpi-bin libdnnl-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
