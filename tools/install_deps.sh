#!/usr/bin/env bash
# Installs what rendermesh needs to build, test and render on Debian 12 (as root).
# Only missing packages are installed; nothing is downloaded from outside Debian.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libzmq3-dev libczmq-dev libsodium-dev libmsgpack-dev libcurl4-openssl-dev libjansson-dev
  libinih-dev libssl-dev
  blender bubblewrap python3 iproute2 procps file openimageio-tools
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root (or install: ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
