//go:build linux

// Package netnstest runs test code in a network namespace of its own, so
// that tests may add interfaces and addresses without touching the
// machine's network.
package netnstest

import (
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Run runs fn on an OS thread of its own in a new network namespace with
// lo up, and returns when fn does. The thread stays locked and is
// discarded with its goroutine, so nothing else ever runs in the
// namespace; fn must do its work on the calling goroutine. It skips the
// test when not root (a namespace needs CAP_SYS_ADMIN, its interfaces
// CAP_NET_ADMIN).
func Run(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare(CLONE_NEWNET): %v", err)
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			t.Errorf("setting lo up: %v", err)
			return
		}
		fn()
	}()
	<-done
}
