#!/usr/bin/env bash
# ci/fuzz.sh runs every fuzz target in the repository (every `func FuzzX` in
# a _test.go file, found with grep) for a given time each, one after the
# other, at low priority:
#
#   bash ci/fuzz.sh                 # 10 minutes per target
#   bash ci/fuzz.sh --time 30s      # a short round
#   bash ci/fuzz.sh --time 1m Verify   # only targets whose name matches
#   bash ci/fuzz.sh --list          # list the targets and exit
#
# Interesting inputs the fuzzer found (its corpus in the Go build cache) are
# copied to the package's testdata/fuzz/FuzzX/, so they are kept in the
# repository and every `go test` runs them as seeds. A crasher is written
# there by `go test -fuzz` itself: it becomes a regression test that fails
# until the bug is fixed. The script exits 1 if any target failed, naming
# the crashers.
#
# Flags: --time D (default 10m), --workers N (fuzzing processes per target,
# default 1: the machine is shared), --list.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=10m
workers=1
list=0
pattern=
while [[ $# -gt 0 ]]; do
	case $1 in
	--time) fuzztime=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--list) list=1; shift ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	-*) echo "fuzz.sh: unknown flag $1" >&2; exit 2 ;;
	*) pattern=$1; shift ;;
	esac
done

# Every target as "DIR NAME", DIR relative to the repository.
targets=$(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' . |
	sed -E 's|^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)$|\1 \2|' | sort -u)
if [[ -n $pattern ]]; then
	targets=$(grep -E " Fuzz[A-Za-z0-9_]*${pattern}" <<<"$targets" || true)
fi
if [[ -z $targets ]]; then
	echo "fuzz.sh: no fuzz targets${pattern:+ matching $pattern}" >&2
	exit 1
fi
if [[ $list == 1 ]]; then
	echo "$targets"
	exit 0
fi

cache=$(go env GOCACHE)/fuzz
failed=()
summary=()
n=$(wc -l <<<"$targets")
i=0
while read -r dir name; do
	i=$((i + 1))
	pkg=$(go list "./$dir")
	echo "== [$i/$n] $name ($dir) for $fuzztime" >&2
	log=$(mktemp)
	status=ok
	if ! nice -n 10 go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$workers" "./$dir" >"$log" 2>&1; then
		status=FAILED
		failed+=("$dir $name")
		cat "$log" >&2
	fi
	# The run's last progress line: execs and the corpus size.
	last=$(grep -E '^fuzz: elapsed' "$log" | tail -n 1 || true)
	rm -f "$log"
	# Keep what the fuzzer found interesting with the package.
	kept=0
	if [[ -d $cache/$pkg/$name ]]; then
		mkdir -p "$dir/testdata/fuzz/$name"
		for f in "$cache/$pkg/$name"/*; do
			[[ -f $f ]] || continue
			if [[ ! -e $dir/testdata/fuzz/$name/$(basename "$f") ]]; then
				cp "$f" "$dir/testdata/fuzz/$name/"
				kept=$((kept + 1))
			fi
		done
	fi
	# What was kept must pass as seeds (the regression test every go test
	# runs); an entry that fails is a crasher too.
	if [[ $status == ok ]] && ! go test -count=1 -run "^${name}\$" "./$dir" >/dev/null 2>&1; then
		status=FAILED
		failed+=("$dir $name")
		go test -count=1 -run "^${name}\$" "./$dir" >&2 || true
	fi
	last=$(sed -E 's/^fuzz: //; s/ \([0-9]+\/sec\)//' <<<"$last")
	summary+=("$(printf '%-8s %-50s %s; %d new corpus entries kept' "$status" "$dir.$name" "$last" "$kept")")
done <<<"$targets"

echo "== fuzzing summary ($fuzztime per target)"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "== failing targets; their crashers are in testdata/fuzz and fail plain go test until fixed:"
	for f in "${failed[@]}"; do
		read -r dir name <<<"$f"
		echo "$dir $name:"
		git status --porcelain -- "$dir/testdata/fuzz/$name" | sed 's/^/    /'
	done
	exit 1
fi
