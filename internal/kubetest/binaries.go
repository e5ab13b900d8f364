package kubetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// DefaultVersion is the Kubernetes release ci/kube-apiserver.sh builds when
// PODID_KUBE_VERSION is not set; keep the two in step.
const DefaultVersion = "v1.37.2"

// DefaultCacheDir is where ci/kube-apiserver.sh keeps the binaries when
// PODID_KUBE_CACHE is not set, one directory per version.
const DefaultCacheDir = "/var/cache/podid-kube"

// BuildHint says how to get the binaries; skip and failure messages end
// with it.
const BuildHint = `build kube-apiserver and kubectl from the k8s.io/kubernetes module and install etcd with ` +
	`eval "$(bash ci/kube-apiserver.sh)" (about 20 minutes on 2 cores, cached under ` +
	DefaultCacheDir + `), or point PODID_KUBE_APISERVER, PODID_KUBECTL and PODID_ETCD at binaries`

// Binaries are the programs a Cluster runs.
type Binaries struct {
	APIServer string // kube-apiserver
	Kubectl   string // kubectl
	Etcd      string // etcd (Debian's etcd-server)
}

// ErrNotBuilt says a binary is neither named by the environment nor in the
// cache; tests skip on it.
var ErrNotBuilt = errors.New("Kubernetes binaries not found")

// FindBinaries finds the binaries: each from its environment variable
// (PODID_KUBE_APISERVER, PODID_KUBECTL, PODID_ETCD) when set, else from
// $PODID_KUBE_CACHE (default DefaultCacheDir) /$PODID_KUBE_VERSION (default
// DefaultVersion), and etcd on the PATH or in /usr/bin. An error wrapping
// ErrNotBuilt means a binary was looked for where the build script puts it
// and is not there; any other error, that a variable names a program that
// is not there.
func FindBinaries() (Binaries, error) {
	version := envOr("PODID_KUBE_VERSION", DefaultVersion)
	cache := filepath.Join(envOr("PODID_KUBE_CACHE", DefaultCacheDir), version)
	var b Binaries
	var errs []error
	for _, f := range []struct {
		field    *string
		env      string
		fallback []string
	}{
		{&b.APIServer, "PODID_KUBE_APISERVER", []string{filepath.Join(cache, "kube-apiserver")}},
		{&b.Kubectl, "PODID_KUBECTL", []string{filepath.Join(cache, "kubectl")}},
		{&b.Etcd, "PODID_ETCD", []string{lookPath("etcd"), "/usr/bin/etcd"}},
	} {
		if p := os.Getenv(f.env); p != "" {
			if !executable(p) {
				errs = append(errs, fmt.Errorf("%s=%s is not an executable file", f.env, p))
			}
			*f.field = p
			continue
		}
		for _, p := range f.fallback {
			if p != "" && executable(p) {
				*f.field = p
				break
			}
		}
		if *f.field == "" {
			errs = append(errs, fmt.Errorf("%w: %s unset and none of %q", ErrNotBuilt, f.env, f.fallback))
		}
	}
	return b, errors.Join(errs...)
}

// RequireBinaries returns the binaries, skipping the test when they were
// never built (saying how to build them) and failing it when the
// environment names a program that is not there (a CI setup error).
func RequireBinaries(tb testing.TB) Binaries {
	tb.Helper()
	b, err := FindBinaries()
	switch {
	case err == nil:
		return b
	case errors.Is(err, ErrNotBuilt) && os.Getenv("PODID_KUBE_REQUIRED") != "1":
		tb.Skipf("skipping: no real Kubernetes API server to test against (%v); %s", err, BuildHint)
	default:
		tb.Fatalf("%v; %s", err, BuildHint)
	}
	return Binaries{}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func lookPath(name string) string {
	p, _ := exec.LookPath(name)
	return p
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
