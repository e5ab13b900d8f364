//go:build linux

package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/podid/podid/internal/netnstest"
)

// TestAgentSetupLinkLocal runs podid agent --setup-link-local and
// --remove-link-local in a network namespace made for the test.
func TestAgentSetupLinkLocal(t *testing.T) {
	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"agent"}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	netnstest.Run(t, func() {
		for i, want := range []string{"set up", "already in place"} {
			out, err := run("--setup-link-local")
			if err != nil || !strings.Contains(out, want) {
				t.Errorf("run %d: %q, %v; want %q", i+1, out, err, want)
			}
		}
		for _, addr := range []string{"169.254.170.23:0", "[fd00:ec2::23]:0"} {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("after --setup-link-local, listening on %s: %v", addr, err)
				continue
			}
			ln.Close()
		}
		if out, err := run("--remove-link-local"); err != nil || !strings.Contains(out, "removed interface podid0") {
			t.Errorf("--remove-link-local: %q, %v", out, err)
		}
		if _, err := net.Listen("tcp", "169.254.170.23:0"); err == nil {
			t.Error("169.254.170.23 still bindable after --remove-link-local")
		}
		if out, err := run("--remove-link-local"); err != nil || !strings.Contains(out, "no interface podid0") {
			t.Errorf("second --remove-link-local: %q, %v", out, err)
		}
		if _, err := run("--setup-link-local", "--link-local-addresses", "not-an-address"); err == nil {
			t.Error("a bad --link-local-addresses was accepted")
		}
	})
}
