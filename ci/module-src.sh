# Sourced by the CI scripts that build a tool from its Go module's source
# (ci/kube-apiserver.sh, ci/eksctl.sh). Needs a log function.

# module_src MODULE VERSION WORK: downloads MODULE@VERSION from the module
# proxy and copies its source, writable, to WORK/src (modules whose go.mod
# has replace directives cannot be built with `go install pkg@version`).
module_src() {
	local module=$1 version=$2 work=$3 dir
	log "downloading $module@$version"
	dir=$(cd "$work" && GOFLAGS=-mod=mod GOWORK=off go mod download -json "$module@$version" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [[ -z $dir || ! -d $dir ]]; then
		log "go mod download $module@$version gave no directory"
		exit 1
	fi
	cp -r "$dir" "$work/src"
	chmod -R u+w "$work/src"
}
