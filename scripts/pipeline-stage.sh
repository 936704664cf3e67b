#!/bin/sh
# pipeline-stage.sh -- run one stage of scripts/pipeline.mk and record its wall time.
# Usage: scripts/pipeline-stage.sh TIMINGS.tsv NAME COMMAND [ARG...]
# Prints "pipeline: NAME" on stderr, runs COMMAND, appends "NAME<TAB>SECONDS<TAB>STATUS" to
# TIMINGS.tsv and exits with COMMAND's status.
timings=$1 name=$2
shift 2
mkdir -p "$(dirname "$timings")"
echo "pipeline: $name" >&2
start=$(date +%s.%N)
"$@"
rc=$?
end=$(date +%s.%N)
awk -v n="$name" -v s="$start" -v e="$end" -v rc="$rc" \
    'BEGIN { printf "%s\t%.1f\t%d\n", n, e - s, rc }' >>"$timings"
[ "$rc" -eq 0 ] || echo "pipeline: $name failed (exit $rc)" >&2
exit "$rc"
