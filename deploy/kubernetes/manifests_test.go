// Package kubernetes holds podid's manifests (base and overlays, kustomize)
// and their tests against a real API server (internal/kubetest).
package kubernetes_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/podid/podid/internal/kubetest"
	"github.com/podid/podid/internal/proctest"
)

var podid string // the built binary

func TestMain(m *testing.M) {
	bins, remove, err := proctest.Build(proctest.PodidPackage)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	podid = bins[0]
	code := m.Run()
	remove()
	os.Exit(code)
}

var dirs = []string{"base", "overlays/postgres"}

// TestDryRunServer applies each kustomization with --dry-run=server: the
// API server validates every object (schemas, RBAC escalation checks,
// admission) without keeping them.
func TestDryRunServer(t *testing.T) {
	c := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Namespaced objects are checked in their namespace, which a dry run
	// does not create: it is applied for real first.
	if _, err := c.Kubectl(ctx, "apply", "-f", "base/namespace.yaml"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			out, err := c.Kubectl(ctx, "apply", "--dry-run=server", "-k", dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"mutatingwebhookconfiguration.admissionregistration.k8s.io/podid-webhook created (server dry run)",
				"daemonset.apps/podid-agent created (server dry run)",
				"deployment.apps/podid-webhook created (server dry run)",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "Warning") {
				t.Errorf("the API server warned:\n%s", out)
			}
		})
	}
}

// TestManifests checks what the API server does not: the shipped choices
// the issue fixes, and that every podid command line in the manifests
// parses (each flag exists on that subcommand of the built binary).
func TestManifests(t *testing.T) {
	bins := kubetest.RequireBinaries(t)
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, bins.Kubectl, dir)
			byKind := map[string]*unstructured.Unstructured{}
			for _, o := range objs {
				byKind[o.GetKind()+"/"+o.GetName()] = o
			}

			mwc := byKind["MutatingWebhookConfiguration/podid-webhook"]
			hooks, _, _ := unstructured.NestedSlice(mwc.Object, "webhooks")
			if len(hooks) != 1 || hooks[0].(map[string]any)["failurePolicy"] != "Ignore" {
				t.Errorf("webhooks = %v, want one with failurePolicy Ignore", hooks)
			}
			if byKind["PodDisruptionBudget/podid-webhook"] == nil {
				t.Error("no PodDisruptionBudget for the webhook")
			}

			agent := byKind["DaemonSet/podid-agent"]
			if host, _, _ := unstructured.NestedBool(agent.Object, "spec", "template", "spec", "hostNetwork"); !host {
				t.Error("the agent DaemonSet does not use the host network")
			}
			server := byKind["StatefulSet/podid-server"]
			if dir != "base" {
				server = byKind["Deployment/podid-server"]
				if byKind["StatefulSet/podid-server"] != nil {
					t.Error("the PostgreSQL overlay keeps the SQLite StatefulSet")
				}
			}
			if server == nil {
				t.Fatal("no podid-server workload")
			}

			for _, o := range objs {
				if o.GetKind() == "Secret" {
					t.Errorf("the manifests ship a Secret (%s): credentials are the operator's", o.GetName())
				}
				for _, ctr := range containers(o) {
					checkCommandLine(t, o.GetKind()+"/"+o.GetName(), ctr)
				}
			}
			// The agent's credentials are the node ones.
			for _, ctr := range containers(agent) {
				if strings.Contains(fmt.Sprint(ctr["env"]), "podid-admin") {
					t.Errorf("the agent's container %s reads the admin keys", ctr["name"])
				}
			}
		})
	}
}

// render is `kubectl kustomize dir` decoded.
func render(t *testing.T, kubectl, dir string) []*unstructured.Unstructured {
	t.Helper()
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(out)), 4096)
	var objs []*unstructured.Unstructured
	for {
		o := &unstructured.Unstructured{}
		if err := dec.Decode(&o.Object); err == io.EOF {
			return objs
		} else if err != nil {
			t.Fatalf("decoding kubectl kustomize %s: %v", dir, err)
		}
		if len(o.Object) > 0 {
			objs = append(objs, o)
		}
	}
}

// containers are a workload's containers and init containers.
func containers(o *unstructured.Unstructured) []map[string]any {
	var out []map[string]any
	for _, field := range []string{"containers", "initContainers"} {
		list, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", field)
		for _, c := range list {
			out = append(out, c.(map[string]any))
		}
	}
	return out
}

var flagName = regexp.MustCompile(`^(--[a-z0-9-]+)`)

// checkCommandLine runs `podid SUBCOMMAND... --help` for a podid container
// and checks that each flag it is given is one the subcommand has.
func checkCommandLine(t *testing.T, where string, ctr map[string]any) {
	t.Helper()
	if !strings.HasPrefix(fmt.Sprint(ctr["image"]), "ghcr.io/podid/podid") {
		return
	}
	raw, _ := ctr["args"].([]any)
	var sub, flags []string
	for _, a := range raw {
		s := fmt.Sprint(a)
		if m := flagName.FindString(s); m != "" {
			flags = append(flags, m)
		} else if len(flags) == 0 {
			sub = append(sub, s)
		}
	}
	if len(sub) == 0 {
		t.Errorf("%s container %s: no podid subcommand in %q", where, ctr["name"], raw)
		return
	}
	help, err := exec.Command(podid, append(sub, "--help")...).CombinedOutput()
	if err != nil {
		t.Errorf("%s container %s: podid %s --help: %v\n%s", where, ctr["name"], strings.Join(sub, " "), err, help)
		return
	}
	for _, f := range flags {
		if !regexp.MustCompile(`(?m)^\s+(-[a-z], )?` + regexp.QuoteMeta(f) + `\b`).Match(help) {
			t.Errorf("%s container %s: podid %s has no flag %s", where, ctr["name"], strings.Join(sub, " "), f)
		}
	}
}
