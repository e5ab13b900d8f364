#!/usr/bin/env bash
# ci/eksctl.sh builds eksctl from its Go module (github.com/weaveworks/eksctl,
# the module path eksctl-io/eksctl still publishes under; the proxy refuses
# github.com/eksctl-io/eksctl itself) and prints the environment podid's
# eksctl test reads:
#
#   eval "$(ci/eksctl.sh)"   # sets PODID_EKSCTL
#   go test ./internal/e2e/ -run Eksctl
#
# eksctl's go.mod has replace directives, so `go install pkg@version` refuses
# it: the module is downloaded, copied to a scratch directory and built there
# with GOFLAGS=-mod=mod. The build is heavy (about 1,500 packages): v0.215.0
# measured 14 CPU-minutes (650 s user, 196 s system, 4 GB peak RSS; with a
# Go build cache that an interrupted earlier build had partly filled, so a
# cold build costs more), 63 minutes of wall time at nice 10 on 2 cores
# under a load of ~25; on 2 idle cores, an estimated 8-12 minutes. So the
# binary is cached outside the clone, keyed by version:
#   ${PODID_EKSCTL_CACHE:-/var/cache/podid-eksctl}/$PODID_EKSCTL_VERSION/eksctl
# and reused when present. Concurrent runs wait for each other (flock).
#
# Only the export line goes to stdout; progress goes to stderr.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/module-src.sh"

version=${PODID_EKSCTL_VERSION:-v0.215.0}
module=github.com/weaveworks/eksctl
cache_root=${PODID_EKSCTL_CACHE:-/var/cache/podid-eksctl}
if [[ -z ${PODID_EKSCTL_CACHE:-} ]] && ! mkdir -p "$cache_root" 2>/dev/null; then
	cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/podid-eksctl
fi
cache=$cache_root/$version
niceness=${PODID_EKSCTL_NICE:-10}

log() { echo "eksctl.sh: $*" >&2; }

build() {
	local start work
	start=$(date +%s)
	work=$cache_root/.build-$version
	rm -rf "$work"
	mkdir -p "$work"
	module_src "$module" "$version" "$work"
	cd "$work/src"
	mkdir -p "$work/out"
	log "building eksctl (nice $niceness)"
	CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=mod nice -n "$niceness" \
		go build -trimpath -ldflags "-s -w" -o "$work/out/eksctl" ./cmd/eksctl >&2
	echo $(($(date +%s) - start)) >"$work/out/build-seconds"
	cd /
	rm -rf "$cache"
	mv "$work/out" "$cache"
	rm -rf "$work"
	log "built $version in $(cat "$cache/build-seconds")s into $cache"
}

if [[ ! -x $cache/eksctl ]]; then
	mkdir -p "$cache_root"
	exec 9>"$cache_root/.lock-$version"
	if ! flock -n 9; then
		log "another run is building $version; waiting for it"
		flock 9
	fi
	if [[ ! -x $cache/eksctl ]]; then
		build
	fi
	exec 9>&-
fi

printf 'export PODID_EKSCTL=%q\n' "$cache/eksctl"
