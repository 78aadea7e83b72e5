#!/usr/bin/env bash
# Instructions per hot wire operation under callgrind: repeatable where wall-clock timings are
# not (the machine is shared). Builds ParleyWireCounts in release and prints one markdown row per
# operation. ITERATIONS (default 20000) operations are counted inside `measuredLoop` only.
set -euo pipefail
cd "$(dirname "$0")"
ITERATIONS=${ITERATIONS:-20000}
swift build -c release --product ParleyWireCounts >&2
binary=$(swift build -c release --show-bin-path)/ParleyWireCounts
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$binary" --list | while IFS= read -r operation; do
  valgrind --tool=callgrind --toggle-collect='*12measuredLoop*' --callgrind-out-file="$out/cg" \
    "$binary" "$operation" "$ITERATIONS" >/dev/null 2>"$out/log"
  total=$(awk '/^(summary|totals):/ { print $2; exit }' "$out/cg")
  printf '| %s | %s |\n' "$operation" "$(( total / ITERATIONS ))"
done
