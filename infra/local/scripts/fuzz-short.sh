#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME (default 5s) each.
set -euo pipefail
fuzztime="${FUZZTIME:-5s}"
# Go minimizes each new interesting input for up to 60s by default: with
# seeds of a few KB that is the whole budget, spent before any search.
minimize="${FUZZMINIMIZETIME:-1s}"
cd "$(dirname "$0")/../../.."
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "fuzz $dir $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$dir" >/tmp/ndrtrace-fuzz.log 2>&1 || { cat /tmp/ndrtrace-fuzz.log; exit 1; }
  done
done
