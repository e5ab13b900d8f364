#!/usr/bin/env bash
# ci/faults.sh is podid's fault campaign: faults injected on purpose, many
# times over, each followed by checks of every acknowledged write. It prints
# one table at the end (the README's Reliability section shows a run of it).
#
#   bash ci/faults.sh                          # the full campaign
#   bash ci/faults.sh --cycles 5 --outages 2 --fuzz 0   # a short one
#
# What it runs (internal/durability's TestFault*, the clock edge tests, and
# ci/fuzz.sh):
#   - kill -9 of podid serve at random points of a mixed write load, --cycles
#     times per store (SQLite, PostgreSQL); after each restart every
#     acknowledged write is checked, the store's integrity check runs, and EKS
#     Auth is checked against the store;
#   - a PostgreSQL server of the campaign's own dies (pg_ctl stop -m immediate)
#     and comes back --outages times under a load on two replicas;
#   - SQLite on a small file system of its own filled to the brim (skipped
#     with a message where mounting is not permitted);
#   - tokens and sessions at their expiry edges (injected clocks);
#   - every fuzz target for --fuzz each (ci/fuzz.sh; 0 skips fuzzing).
#
# Flags: --cycles N (default 50), --outages N (default 20), --fuzz D (default
# 10m), --seed N (places the faults; default from the clock), --report FILE
# (the table, also printed; default a temporary file).
#
# PostgreSQL: ci/postgres.sh installs and starts the shared test server unless
# TEST_POSTGRES_DSN is set; the outage test starts its own with ci/postgres.sh
# on another port and data directory. PODID_SKIP_POSTGRES=1 skips both.
set -euo pipefail
cd "$(dirname "$0")/.."

cycles=50
outages=20
fuzztime=10m
seed=
report=
while [[ $# -gt 0 ]]; do
	case $1 in
	--cycles) cycles=$2; shift 2 ;;
	--outages) outages=$2; shift 2 ;;
	--fuzz) fuzztime=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--report) report=$2; shift 2 ;;
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
	*) echo "faults.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [[ -z $report ]]; then
	report=$(mktemp --suffix=.md)
fi

if [[ -z ${TEST_POSTGRES_DSN:-} && ${PODID_SKIP_POSTGRES:-} != 1 ]]; then
	eval "$(bash ci/postgres.sh)"
fi
export TEST_POSTGRES_DSN=${TEST_POSTGRES_DSN:-}

export PODID_FAULT_KILL_CYCLES=$cycles PODID_FAULT_OUTAGES=$outages PODID_FAULT_REPORT=$report
if [[ -n $seed ]]; then
	export PODID_FAULT_SEED=$seed
fi

status=0
start=$(date +%s)
echo "== fault campaign: $cycles kill cycles per store, $outages PostgreSQL outages, a full disk" >&2
if ! nice -n 10 go test -count=1 -timeout 60m -run '^TestFault' ./internal/durability; then
	status=1
fi
echo "== tokens and sessions at their expiry edges" >&2
if ! nice -n 10 go test -count=1 -run 'ClockEdges' ./internal/satoken ./internal/sts; then
	status=1
fi
campaign=$(($(date +%s) - start))

if [[ $fuzztime != 0 ]]; then
	echo "== fuzzing, $fuzztime per target" >&2
	if ! bash ci/fuzz.sh --time "$fuzztime"; then
		status=1
	fi
fi

echo
echo "== fault campaign ($campaign s; $cycles kill cycles per store, $outages outages)"
cat "$report"
exit $status
