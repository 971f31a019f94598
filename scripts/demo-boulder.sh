#!/usr/bin/env bash
# boulder's part of `make demo`: build the recipes in examples/ with boulder (rootless
# container, host profile), index the packages with moss, install them into an empty root and
# run what was installed. Usage: scripts/demo-boulder.sh [DIR]   (default: demo/boulder)
set -euo pipefail
cd "$(dirname "$0")/.."
run() { printf '\n$ %s\n' "$*"; "$@"; }
RUN="${UV:-uv} run --frozen --no-sync"
DIR="${1:-demo/boulder}"

rm -rf "$DIR"
mkdir -p "$DIR/out" "$DIR/root"
# Builds write their manifests beside the recipe: work on a copy of the examples.
cp -r examples "$DIR/recipes"
ABS="$(cd "$DIR" && pwd)"

echo "== boulder: build the example recipes (C programs and a library, gcc from the host)"
probe="$($RUN python -c 'from moss_core.container import namespaces_available as n; print(n() or "")')"
if [ -n "$probe" ]; then
    echo "(containers are not available on this machine, so boulder cannot build here: $probe)"
    exit 0
fi
for recipe in hello greet host-libc; do
    printf '\n$ %s\n' "$RUN boulder build $DIR/recipes/$recipe -o $DIR/out --cache-dir $DIR/cache"
    $RUN boulder build "$DIR/recipes/$recipe" -o "$DIR/out" --cache-dir "$DIR/cache" > "$DIR/$recipe.log"
    # The full log is long (every script line is traced): show its shape.
    grep -E '^(boulder|└|Sharing|x86_64|│[A-Z][a-z]+$|│A│|Packaging|Emitted|Build finished)' "$DIR/$recipe.log"
done
run ls "$DIR/out"
run $RUN stone inspect "$DIR/out/greet-2.1-1-1-x86_64.stone"
run cat "$DIR/recipes/greet/manifest.x86_64.jsonc"

echo
echo "== moss: index the packages, install them into an empty root"
run $RUN moss index "$DIR/out"

echo
echo "-- welcome links libgreet through pkg-config: --extra-repo lays greet's packages over /usr"
printf '\n$ %s\n' "$RUN boulder build $DIR/recipes/welcome -o $DIR/out --cache-dir $DIR/cache --extra-repo $ABS/out/stone.index"
$RUN boulder build "$DIR/recipes/welcome" -o "$DIR/out" --cache-dir "$DIR/cache" \
    --extra-repo "$ABS/out/stone.index" > "$DIR/welcome.log"
grep -E '^(Laying|  [a-z]|│[A-Z][a-z]+$|Emitted|Build finished)' "$DIR/welcome.log"
run $RUN moss index "$DIR/out"
run $RUN moss -D "$DIR/root" repo add examples "file://$ABS/out/stone.index"
run $RUN moss -D "$DIR/root" -y install greet hello greet-devel welcome
run $RUN moss -D "$DIR/root" list installed
# chroot lives in /usr/sbin, which an ordinary user's PATH often lacks.
CHROOT=$(PATH="$PATH:/usr/sbin:/sbin" command -v chroot || true)
if [ -n "$CHROOT" ] && unshare --user --map-root-user true 2>/dev/null; then
    run unshare --user --map-root-user "$CHROOT" "$DIR/root" /usr/bin/greet boulder
    run unshare --user --map-root-user "$CHROOT" "$DIR/root" /usr/bin/hello
    run unshare --user --map-root-user "$CHROOT" "$DIR/root" /usr/bin/welcome boulder
else
    echo "(not run: needs chroot and unprivileged user namespaces)"
fi
