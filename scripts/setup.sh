#!/usr/bin/env bash
# One idempotent setup: Debian cross toolchains + QEMU, then a virtual environment in .venv
# with every Python dependency. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-riscv64-unknown-elf
          picolibc-riscv64-unknown-elf qemu-system-arm qemu-system-misc binutils cmake make gcc
          clang libclang-rt-14-dev)  # clang + libFuzzer/sanitizer runtimes: scripts/fuzz.py
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages already installed"
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
# torch first, with this exact pin: it is the local CPU build (anything else pulls a CUDA build).
$VPY -m pip install -q --upgrade pip
$VPY -m pip install -q "torch==2.13.0"
$VPY -m pip install -q -e ".[train,dev]"
echo "setup: done. Activate with: source .venv/bin/activate"
