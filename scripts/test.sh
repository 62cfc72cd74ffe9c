#!/usr/bin/env bash
# The whole test command: setup, lint, format check, then every test (SQLite + local
# files), then the API suites again on PostgreSQL + S3 (docs/storage.md, "Running the
# suite on PostgreSQL + S3"). Arguments go to the first run; a run with arguments skips
# the second one unless CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -q -ra "$@"

# The API suites (not the browser, end-to-end or slow tests) with every app on its own
# throwaway PostgreSQL database and storing its files in S3 (a moto server on loopback).
api_suites=(tests/workflows tests/platform tests/security)
postgres_reachable() {
  .venv/bin/python -c 'import psycopg
psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3").close()' \
    >/dev/null 2>&1
}
if [ "${CI:-}" != "true" ] && [ $# -gt 0 ]; then
  echo "test.sh: PostgreSQL + S3 run skipped (a targeted run: arguments were given)."
elif postgres_reachable; then
  echo "test.sh: the API suites again on PostgreSQL + S3: ${api_suites[*]}"
  SOUNDSTAGE_TEST_DATABASE=postgres SOUNDSTAGE_TEST_STORAGE=s3 \
    .venv/bin/python -m pytest -q -ra -m "not slow and not e2e and not browser" "${api_suites[@]}"
elif [ "${CI:-}" = "true" ]; then
  echo "test.sh: PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres);" \
    "CI=true requires the PostgreSQL + S3 run." >&2
  exit 1
else
  echo "test.sh: PostgreSQL + S3 run SKIPPED: PostgreSQL is not reachable at" \
    "127.0.0.1:5432 (user postgres, trust auth). Start it to run the API suites on it."
fi
