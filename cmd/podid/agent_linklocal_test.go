//go:build linux

package main

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestAgentSetupLinkLocal runs podid agent --setup-link-local and
// --remove-link-local in a network namespace made for the test (on a
// thread of its own that is discarded afterwards).
func TestAgentSetupLinkLocal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to make a network namespace")
	}
	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"agent"}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare(CLONE_NEWNET): %v", err)
			return
		}
		if lo, err := netlink.LinkByName("lo"); err != nil || netlink.LinkSetUp(lo) != nil {
			t.Errorf("setting lo up: %v", err)
			return
		}
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
	}()
	<-done
}
