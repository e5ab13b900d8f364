#!/usr/bin/env bash
# ci/kube-apiserver.sh builds kube-apiserver and kubectl from the
# k8s.io/kubernetes module of the Go module proxy, installs etcd from Debian's
# etcd-server package when it is missing, and prints the environment podid's
# Kubernetes tests (internal/kubetest) read:
#
#   eval "$(ci/kube-apiserver.sh)"   # sets PODID_KUBE_APISERVER, PODID_KUBECTL, PODID_ETCD
#   go test ./internal/kubetest/...
#
# How: download k8s.io/kubernetes@$PODID_KUBE_VERSION (the module zip holds
# no ./staging: those are modules of their own), copy it to a scratch
# directory, drop its "k8s.io/X => ./staging/src/k8s.io/X" replace directives
# in favour of the published k8s.io/X at the matching v0.MINOR.PATCH, and
# build ./cmd/kube-apiserver and ./cmd/kubectl with GOFLAGS=-mod=mod.
#
# The build costs about 21 CPU-minutes (v1.37.2, measured: 16 min user and
# 5 min system time; so an estimated 12-20 minutes on 2 idle cores; it took
# 90 minutes of wall time at nice 15 on a 2-core machine shared with a load
# of ~20) and 2+ GB of Go build cache, so the binaries are cached outside
# the clone, keyed by version:
#   ${PODID_KUBE_CACHE:-/var/cache/podid-kube}/$PODID_KUBE_VERSION/{kube-apiserver,kubectl}
# and reused when present. Concurrent runs wait for each other (flock).
# The build time in seconds is kept next to the binaries in build-seconds.
#
# Only the export line goes to stdout; progress goes to stderr.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/module-src.sh"

version=${PODID_KUBE_VERSION:-v1.37.2}
cache_root=${PODID_KUBE_CACHE:-/var/cache/podid-kube}
if [[ -z ${PODID_KUBE_CACHE:-} ]] && ! mkdir -p "$cache_root" 2>/dev/null; then
	# Not root: the user's cache (the printed paths say where).
	cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/podid-kube
fi
cache=$cache_root/$version
niceness=${PODID_KUBE_NICE:-10}

log() { echo "kube-apiserver.sh: $*" >&2; }

if [[ ! $version =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
	log "PODID_KUBE_VERSION must be a release like v1.37.2, not $version"
	exit 2
fi
staging_version=v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}

find_etcd() {
	local p
	for p in "${PODID_ETCD:-}" "$(command -v etcd 2>/dev/null || true)" /usr/bin/etcd /usr/sbin/etcd; do
		if [[ -n $p && -x $p ]]; then
			echo "$p"
			return
		fi
	done
}

etcd=$(find_etcd)
if [[ -z $etcd ]]; then
	log "installing etcd-server from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends etcd-server >&2
	# The package starts a system etcd on 2379; the tests run their own.
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now etcd >/dev/null 2>&1 || true
	fi
	etcd=$(find_etcd)
	if [[ -z $etcd ]]; then
		log "no etcd binary after installing etcd-server"
		exit 1
	fi
fi

have_binaries() { [[ -x $cache/kube-apiserver && -x $cache/kubectl ]]; }

build() {
	local start work mods m ldflags
	start=$(date +%s)
	work=$cache_root/.build-$version
	rm -rf "$work"
	mkdir -p "$work"
	module_src "k8s.io/kubernetes" "$version" "$work"
	cd "$work/src"
	# Every module replaced by a ./staging directory gets the published
	# version instead (the module zip does not contain ./staging).
	mods=$(go mod edit -json | sed -n 's/^[[:space:]]*"Path": "\(k8s\.io\/[^"]*\)"$/\1/p' | sort -u)
	local edits=()
	for m in $mods; do
		if grep -q "^[[:space:]]*$m => ./staging/" go.mod; then
			edits+=("-dropreplace=$m")
			if grep -q "^[[:space:]]*$m v0.0.0" go.mod; then
				edits+=("-require=$m@$staging_version")
			fi
		fi
	done
	go mod edit "${edits[@]}"
	log "replaced ${#edits[@]} staging directives with $staging_version modules"
	# The version the binaries report (kubectl warns on client/server skew).
	ldflags="-s -w"
	ldflags+=" -X k8s.io/component-base/version.gitVersion=$version"
	ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
	ldflags+=" -X k8s.io/component-base/version.gitMinor=${BASH_REMATCH[1]}"
	ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
	ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$version"
	ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1"
	ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=${BASH_REMATCH[1]}"
	mkdir -p "$work/out"
	for m in kube-apiserver kubectl; do
		log "building $m (nice $niceness)"
		CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=mod nice -n "$niceness" \
			go build -trimpath -ldflags "$ldflags" -o "$work/out/$m" "./cmd/$m" >&2
	done
	echo $(($(date +%s) - start)) >"$work/out/build-seconds"
	cd /
	rm -rf "$cache"
	mv "$work/out" "$cache"
	rm -rf "$work"
	log "built $version in $(cat "$cache/build-seconds")s into $cache"
}

if ! have_binaries; then
	mkdir -p "$cache_root"
	exec 9>"$cache_root/.lock-$version"
	if ! flock -n 9; then
		log "another run is building $version; waiting for it"
		flock 9
	fi
	if ! have_binaries; then
		build
	fi
	exec 9>&-
fi

printf 'export PODID_KUBE_APISERVER=%q PODID_KUBECTL=%q PODID_ETCD=%q\n' \
	"$cache/kube-apiserver" "$cache/kubectl" "$etcd"
