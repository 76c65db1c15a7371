#!/usr/bin/env bash
# The README's test command (`make test`): start a real Kafka broker on its own port, run
# the whole suite against it, stop it, and fail when any test fails or the broker cannot
# start. pytest's exit code 5 (no test collected) is a failure too.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PORT=${KPGW_TEST_KAFKA_PORT:-29092}
DATA_DIR=${KPGW_TEST_KAFKA_DIR:-$PWD/.kpgw/test-broker}
KPGW="$VENV/bin/kpgw"

rm -rf "$DATA_DIR"  # a fresh broker per run: no state leaks between runs
started=$(date +%s)
if ! "$KPGW" kafka up --port "$PORT" --data-dir "$DATA_DIR" --timeout 180; then
    echo "run-tests: the Kafka broker could not start" >&2
    exit 1
fi
echo "run-tests: broker ready in $(( $(date +%s) - started )) s" >&2
trap '"$KPGW" kafka down --port "$PORT" --data-dir "$DATA_DIR" >/dev/null' EXIT

export KPGW_KAFKA_BOOTSTRAP="127.0.0.1:$PORT"
# The whole suite runs in KPGW_TEST_WORKERS pytest processes (pytest-xdist, a test file
# each at a time): the Kafka tests mostly wait (on the broker, timeouts, restarts), so two
# take about half the time of one. Any argument runs one pytest with those arguments.
WORKERS=${KPGW_TEST_WORKERS:-2}
if [ "$#" -eq 0 ] && [ "$WORKERS" -gt 1 ]; then
    set -- -n "$WORKERS" --dist loadfile
fi
# -p tests.startup: no garbage collection during start-up and collection (see that module).
"$VENV/bin/python" -m pytest -p tests.startup "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "run-tests: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
