#!/usr/bin/env bash
# `make demo`: the main jobs on an embedded default, printed step by step.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { printf '\n$ %s\n' "$*"; "$@"; }
RUN="uv run --frozen --no-sync"
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
