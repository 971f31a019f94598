#!/usr/bin/env bash
# Install the Debian tools some tests use (scripts/test-tools.txt: "command package" per line).
# Idempotent: does nothing when every command is there. Without root or apt-get it installs
# nothing and says so; the tests that need a missing tool skip, naming it.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
while read -r tool package; do
    case "$tool" in ''|'#'*) continue ;; esac
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 \
        || missing+=("$package")
done < test-tools.txt
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: not installed (needs root and apt-get): ${missing[*]}; the tests that need them skip" >&2
    exit 0
fi
echo "installing test tools: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
