#!/bin/sh
# fetch-llama2c.sh -- download llama2.c's run.c (the baseline of bench_generate) at the pinned
# commit into bench/third_party/llama2c/run.c and check its sha256 (see the README there).
# Usage: scripts/fetch-llama2c.sh        (from the repository root; needs network access)
set -eu
commit=bd182289c596fa6059eb7b3b7c8ccd04b5c90fc3
sha=9af3a7e37f0d6b1c864cb35b4c71e7bac4b4d2253e0b921084a6e252108dfb07
dst=bench/third_party/llama2c/run.c
tmp=$dst.tmp.$$
trap 'rm -f "$tmp"' EXIT
curl -fsSL "https://raw.githubusercontent.com/karpathy/llama2.c/$commit/run.c" -o "$tmp"
got=$(sha256sum "$tmp" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
    echo "fetch-llama2c.sh: $dst: sha256 $got, expected $sha" >&2
    exit 1
fi
mv "$tmp" "$dst"
echo "fetch-llama2c.sh: $dst (llama2.c $commit)"
