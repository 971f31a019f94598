#!/usr/bin/env bash
# Install the peers that `bench/peers.py` compares moss with: pacman (Debian's build of Arch's
# package manager), bsdtar (to write pacman packages and their .MTREE), ostree, zstd and taskset.
# Idempotent: does nothing when every tool is already there. Needs root (apt-get), Debian/Ubuntu.
set -euo pipefail

declare -A wanted=(
    [pacman]=pacman-package-manager
    [bsdtar]=libarchive-tools
    [ostree]=ostree
    [zstd]=zstd
    [taskset]=util-linux
)
missing=()
for tool in "${!wanted[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${wanted[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench/setup.sh: missing ${missing[*]} and no apt-get to install them" >&2
    exit 1
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "bench/setup.sh: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
