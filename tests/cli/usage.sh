#!/bin/sh
# usage.sh -- every tool: --help on stdout with exit 0, a bad option exits 2, a man page exists,
# is clean under groff, and documents exactly the long options --help lists.
bin=${BUILD:-build}/bin
found=0
for t in "$bin"/saferlhf-*; do
    [ -x "$t" ] || continue
    found=1
    name=$(basename "$t")
    out=$("$t" --help 2>/dev/null); rc=$?
    if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q '^Usage:'; then
        echo "PASS $name --help"
    else
        echo "FAIL $name --help (exit $rc, no Usage: line)"
    fi
    "$t" --no-such-option >/dev/null 2>&1; rc=$?
    if [ $rc -eq 2 ]; then echo "PASS $name bad option exits 2"; else
        echo "FAIL $name bad option exits $rc, expected 2"; fi
    page=man/$name.1
    if [ ! -f "$page" ]; then echo "FAIL $name has no man page $page"; continue; fi
    if command -v groff >/dev/null 2>&1; then
        warn=$(groff -man -ww -z "$page" 2>&1)
        if [ -z "$warn" ]; then echo "PASS $name man page lints clean"; else
            echo "FAIL $name man page: $warn"; fi
    fi
    # long options in --help vs in the man page (roff writes \- for -)
    help_opts=$(printf '%s\n' "$out" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
    man_opts=$(sed 's/\\-/-/g; s/\\f[BIRP]//g' "$page" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
    missing=$(printf '%s\n' "$help_opts" | while read -r o; do
        printf '%s\n' "$man_opts" | grep -qx -- "$o" || printf '%s ' "$o"; done)
    extra=$(printf '%s\n' "$man_opts" | while read -r o; do
        printf '%s\n' "$help_opts" | grep -qx -- "$o" || printf '%s ' "$o"; done)
    if [ -z "$missing$extra" ]; then echo "PASS $name man page matches --help"; else
        echo "FAIL $name man page vs --help: missing in man: ${missing:-none}; not in --help: ${extra:-none}"
    fi
done
[ $found -eq 1 ] || echo "SKIP usage: no tools built yet"
exit 0
