#!/usr/bin/env bash
# `make demo`: the main jobs on an embedded default, printed step by step.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { printf '\n$ %s\n' "$*"; "$@"; }
RUN="${UV:-uv} run --frozen --no-sync"
DEMO=demo
CORPUS=../shared/corpus

rm -rf "$DEMO"
mkdir -p "$DEMO/tree/bin" "$DEMO/tree/share/doc/hello" "$DEMO/tree/lib"
printf '#!/bin/sh\necho "Hello from a stone package"\n' > "$DEMO/tree/bin/hello"
chmod 755 "$DEMO/tree/bin/hello"
ln -s hello "$DEMO/tree/bin/hi"
printf 'hello: a demo package\n' > "$DEMO/tree/share/doc/hello/README"
cp "$DEMO/tree/share/doc/hello/README" "$DEMO/tree/share/doc/hello/README.copy"

echo "== stone: pack a tree, look inside, unpack it again"
run $RUN stone create --root "$DEMO/tree" --name hello --version 1.0 --release 1 \
    --summary "Says hello" --license MIT --provides "binary(hello)" -o "$DEMO/hello-1.0-1-1-x86_64.stone"
run $RUN stone inspect "$DEMO/hello-1.0-1-1-x86_64.stone"
run $RUN stone extract "$DEMO/hello-1.0-1-1-x86_64.stone" "$DEMO/extracted"
run "$DEMO/extracted/bin/hi"

if [ -d "$CORPUS/stones" ]; then
    echo
    echo "== stone: the real AerynOS packages in $CORPUS/stones"
    run $RUN stone inspect "$CORPUS/stones/pineapple-1-1-1-x86_64.stone" "$CORPUS/stones/italian-pizza-1-1-1-x86_64.stone"
    printf '\n$ %s | head -25\n' "$RUN stone inspect $CORPUS/stones/bash-completion-2.11-1-1-x86_64.stone"
    $RUN stone inspect "$CORPUS/stones/bash-completion-2.11-1-1-x86_64.stone" > "$DEMO/bash-completion.txt"
    head -25 "$DEMO/bash-completion.txt"
    run $RUN stone manifest "$CORPUS/recipes/n/nano/manifest.x86_64.bin"
else
    echo "(the real corpus is not at $CORPUS: skipping the real packages)"
fi

echo
echo "== moss: a local repository, a root, states and rollback"
ROOT="$DEMO/root"
REPO="$DEMO/repo"
mkdir -p "$ROOT" "$REPO" "$DEMO/trees/libgreet/lib" "$DEMO/trees/greet/bin" "$DEMO/trees/extra/share/extra"
printf 'greeting library v1\n' > "$DEMO/trees/libgreet/lib/libgreet.so.1"
printf '#!/bin/sh\necho "greetings"\n' > "$DEMO/trees/greet/bin/greet"
chmod 755 "$DEMO/trees/greet/bin/greet"
printf 'extra data\n' > "$DEMO/trees/extra/share/extra/data"
$RUN stone create --root "$DEMO/trees/libgreet" --name libgreet --version 1.0 --release 1 \
    --summary "Greeting library" --provides "soname(libgreet.so.1(x86_64))" -o "$REPO/libgreet-1.0-1-1-x86_64.stone" >/dev/null
$RUN stone create --root "$DEMO/trees/greet" --name greet --version 1.0 --release 1 \
    --summary "Prints a greeting" --depends "soname(libgreet.so.1(x86_64))" -o "$REPO/greet-1.0-1-1-x86_64.stone" >/dev/null
$RUN stone create --root "$DEMO/trees/extra" --name extra --version 2.1 --release 4 \
    --summary "Extra data" -o "$REPO/extra-2.1-4-1-x86_64.stone" >/dev/null
run $RUN moss index "$REPO"
MOSS="$RUN moss -D $ROOT -y"
run $MOSS repo add local "file://$(realpath "$REPO")/stone.index"
run $MOSS list available
run $MOSS install greet
run $MOSS install extra
run $MOSS list installed
run $MOSS remove greet
run $MOSS state list
run $MOSS state activate 2
run ls "$ROOT/usr/bin"
run $MOSS state verify
run $MOSS state prune -k 1
run $MOSS state list

echo
echo "== moss boot: a kernel and systemd-boot, entries per state, a second kernel, a rollback"
BROOT="$DEMO/bootroot"
BOOT="$DEMO/boot"
mkdir -p "$BROOT" "$BOOT/esp" "$BOOT/xbootldr" "$BOOT/os/lib/systemd/boot/efi"
printf '{"metadata":{"identity":{"id":"aerynos","display":"AerynOS demo"}}}\n' > "$BOOT/os/lib/os-info.json"
printf 'not really systemd-boot, but bytes to copy\n' > "$BOOT/os/lib/systemd/boot/efi/systemd-bootx64.efi"
$RUN stone create --root "$BOOT/os" --name os-base --version 1 --release 1 \
    --summary "OS identity and boot loader" -o "$BOOT/os-base.stone" >/dev/null
for version in 6.18.12 6.18.13; do
    mkdir -p "$BOOT/linux-$version/lib/kernel/$version-1.desktop"
    printf 'bzImage %s\n' "$version" > "$BOOT/linux-$version/lib/kernel/$version-1.desktop/vmlinuz"
    printf 'initrd %s\n' "$version" > "$BOOT/linux-$version/lib/kernel/$version-1.desktop/50-default.initrd"
    $RUN stone create --root "$BOOT/linux-$version" --name linux-desktop --version "$version" --release 1 \
        --summary "A demo kernel" -o "$BOOT/linux-$version.stone" >/dev/null
done
BMOSS="$RUN moss -D $BROOT -y"
show_boot() {
    printf '\n$ find %s -type f | sort\n' "$BOOT/esp $BOOT/xbootldr"
    (cd "$BOOT" && find esp xbootldr -type f | sort)
    for entry in "$BOOT"/xbootldr/loader/entries/*.conf; do
        printf '\n$ cat %s\n' "$entry"; cat "$entry"
    done
    run cat "$BOOT/esp/loader/loader.conf"
}
run $BMOSS install "$BOOT/os-base.stone" "$BOOT/linux-6.18.12.stone"
run $BMOSS boot sync --esp "$BOOT/esp" --xbootldr "$BOOT/xbootldr" \
    --root-cmdline "root=PARTUUID=6ca59a0c-e8c9-4ec4-b331-351d120fbb32"
show_boot
echo
echo "-- a second kernel: the transaction resyncs boot by itself"
run $BMOSS install "$BOOT/linux-6.18.13.stone"
show_boot
echo
echo "-- roll back to state 1: its entry becomes the default, state 2 keeps its entry"
run $BMOSS state activate 1
run $BMOSS boot status
run cat "$BOOT/esp/loader/loader.conf"

echo
echo "== boulder: build real C code rootless, then install it with moss"
bash scripts/demo-boulder.sh "$DEMO/boulder"

echo
echo "== summit: build the examples in dependency order on Dask, publish, install with moss"
bash scripts/demo-summit.sh "$DEMO/summit"
