#!/usr/bin/env bash
# The project's test command (`npm test`).
#
#   bash scripts/test.sh                      # typecheck, all unit/functional tests, then e2e
#   bash scripts/test.sh src/core test/x.test.ts   # only these files / directories
#   TEST_ONLY="src/core/db" npm test          # the same, through npm
#   TYPECHECK=0 bash scripts/test.sh src/core # skip the typecheck in a quick loop
#
# PostgreSQL: store tests always run on SQLite and also on PostgreSQL when PG_URL is set.
# PG_URL is taken from the environment; in CI (CI=true) scripts/pg.sh sets PostgreSQL up
# and it must work; locally the default URL of scripts/pg.sh is used when it answers.
set -uo pipefail
cd "$(dirname "$0")/.."

PG_DEFAULT_URL="postgres://cumulo:cumulo@127.0.0.1:5432/cumulo_test"
failed=()

section() { printf '\n=== %s ===\n' "$*"; }

# True when PostgreSQL at $1 accepts a login.
pg_reachable() {
  node -e '
    const pg = require("pg")
    const c = new pg.Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 })
    c.connect().then(() => c.end()).then(() => process.exit(0), () => process.exit(1))
  ' "$1" >/dev/null 2>&1
}

# The test files under the given files/directories (default: src and test).
test_files() {
  local p
  for p in "$@"; do
    if [ -d "$p" ]; then find "$p" -name '*.test.ts'
    elif [ -f "$p" ]; then echo "$p"
    else echo "no such test file or directory: $p" >&2; return 1
    fi
  done | sort -u
}

run_tests() {
  node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"
}

# --- typecheck ---------------------------------------------------------------------------
if [ "${TYPECHECK:-1}" != 0 ]; then
  section "typecheck (tsc --noEmit)"
  npx tsc --noEmit && echo "typecheck ok" || failed+=("typecheck")
fi

# --- PostgreSQL --------------------------------------------------------------------------
section "database"
if [ -n "${PG_URL:-}" ]; then
  echo "PG_URL given: store tests run on SQLite and PostgreSQL"
elif [ "${CI:-}" = true ]; then
  PG_URL=$(bash scripts/pg.sh) || { echo "CI: PostgreSQL could not be set up (scripts/pg.sh failed)" >&2; exit 1; }
  pg_reachable "$PG_URL" || { echo "CI: PostgreSQL not reachable at $PG_URL" >&2; exit 1; }
  echo "CI: store tests run on SQLite and PostgreSQL ($PG_URL)"
elif pg_reachable "$PG_DEFAULT_URL"; then
  PG_URL=$PG_DEFAULT_URL
  echo "PostgreSQL found at $PG_URL: store tests run on SQLite and PostgreSQL"
else
  echo "PostgreSQL not reachable: store tests run on SQLite only (run scripts/pg.sh to enable it)"
fi
[ -n "${PG_URL:-}" ] && export PG_URL

# --- which tests -------------------------------------------------------------------------
if [ $# -eq 0 ] && [ -n "${TEST_ONLY:-}" ]; then
  read -r -a only <<<"$TEST_ONLY"
  set -- "${only[@]}"
fi
[ $# -eq 0 ] && set -- src test
files=$(test_files "$@") || exit 2
[ -n "$files" ] || { echo "no test files found in: $*" >&2; exit 2; }
unit=(); e2e=()
while IFS= read -r f; do
  case "$f" in test/e2e/*|./test/e2e/*) e2e+=("$f") ;; *) unit+=("$f") ;; esac
done <<<"$files"

# --- run ---------------------------------------------------------------------------------
if [ "${#unit[@]}" -gt 0 ]; then
  section "unit and functional tests (${#unit[@]} files)"
  run_tests "${unit[@]}" || failed+=("unit/functional tests")
fi
# The identity, image and compute stores under every API test again, on PostgreSQL (a fresh
# schema per harness).
store=()
for f in "${unit[@]}"; do
  case "$f" in
    src/compute/virt/*) ;;  # no database there
    src/identity/*|test/functional/identity-*|src/image/*|src/compute/*|test/functional/compute-*) store+=("$f") ;;
  esac
done
if [ -n "${PG_URL:-}" ] && [ "${#store[@]}" -gt 0 ]; then
  section "identity, image and compute API and store tests on PostgreSQL (${#store[@]} files)"
  IDENTITY_TEST_DB=$PG_URL IMAGE_TEST_DB=$PG_URL COMPUTE_TEST_DB=$PG_URL run_tests "${store[@]}" \
    || failed+=("identity/image/compute tests on PostgreSQL")
fi
if [ "${#e2e[@]}" -gt 0 ]; then
  section "e2e tests (${#e2e[@]} files)"
  run_tests "${e2e[@]}" || failed+=("e2e tests")
fi

section "result"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all passed"
