#!/usr/bin/env bash
# Runs the differential oracle (TestOracle) and the fault suite (TestChaos)
# of infra/local/e2e verbosely, and shows what each injected, checked and
# concluded. ORACLE_SCALE and CHAOS_SCALE multiply their scenarios;
# ORACLE_SEED replays a run. TESTS picks the tests (a go test -run regex).
set -euo pipefail
cd "$(dirname "$0")/../../.."
tests="${TESTS:-^(TestOracle|TestChaos)$}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if E2E_QUIET=1 go test -count=1 -timeout 60m -run "$tests" -v ./infra/local/e2e/ >"$log" 2>&1; then
  grep -E 'oracle:|chaos:|scenario:|checked:|result:|^(ok|--- |    --- )' "$log"
else
  cat "$log"
  exit 1
fi
