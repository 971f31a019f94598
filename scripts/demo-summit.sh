#!/usr/bin/env bash
# summit's part of `make demo`: build the recipes in examples/ in dependency order with
# `summit build` on an embedded Dask cluster (two workers, 127.0.0.1), publish them as a moss
# repository with a root index, install from it into an empty root and run what was installed.
# `welcome` links the `greet` library through pkg-config: it is built after greet, with greet's
# published packages laid over the host's /usr in its build container.
# Usage: scripts/demo-summit.sh [DIR]   (default: demo/summit)
set -euo pipefail
cd "$(dirname "$0")/.."
run() { printf '\n$ %s\n' "$*"; "$@"; }
RUN="${UV:-uv} run --frozen --no-sync"
DIR="${1:-demo/summit}"

rm -rf "$DIR"
mkdir -p "$DIR/root"
# boulder writes manifests beside the recipes: work on a copy laid out like AerynOS/recipes.
for recipe in examples/*/; do
    name="$(basename "$recipe")"
    mkdir -p "$DIR/recipes/${name:0:1}"
    cp -r "$recipe" "$DIR/recipes/${name:0:1}/$name"
done
ABS="$(cd "$DIR" && pwd)"

probe="$($RUN python -c 'from moss_core.container import namespaces_available as n; print(n() or "")')"
if [ -n "$probe" ]; then
    echo "(containers are not available on this machine, so boulder cannot build here: $probe)"
    exit 0
fi
run $RUN summit build "$DIR/recipes" --repo "$DIR/repo" --workers 2
run $RUN summit status --repo "$DIR/repo"
echo
echo "-- a second run publishes nothing new and rebuilds nothing"
run $RUN summit build "$DIR/recipes" --repo "$DIR/repo" --workers 2
run cat "$DIR/repo/main/moss-root-index.json"

echo
echo "-- moss installs from the published repository (root index, stream volatile)"
MOSS="$RUN moss -D $DIR/root -y"
run $MOSS repo add summit "file://$ABS/repo" --root-index version=stream/volatile
run $MOSS install greet hello welcome
CHROOT=$(PATH="$PATH:/usr/sbin:/sbin" command -v chroot || true)
if [ -n "$CHROOT" ] && unshare --user --map-root-user true 2>/dev/null; then
    run unshare --user --map-root-user "$CHROOT" "$DIR/root" /usr/bin/greet summit
    run unshare --user --map-root-user "$CHROOT" "$DIR/root" /usr/bin/welcome summit
else
    echo "(not run: needs chroot and unprivileged user namespaces)"
fi
