#!/usr/bin/env bash
# Runs the differential oracle (infra/local/e2e TestOracle) and shows its
# seed, sizes and verdict. ORACLE_SCALE multiplies the scenario; ORACLE_SEED
# replays one.
set -euo pipefail
cd "$(dirname "$0")/../../.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if E2E_QUIET=1 go test -count=1 -timeout 60m -run '^TestOracle$' -v ./infra/local/e2e/ >"$log" 2>&1; then
  grep -E 'oracle:|^(ok|---)' "$log"
else
  cat "$log"
  exit 1
fi
