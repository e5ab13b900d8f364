//go:build linux

package linklocal_test

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/podid/podid/internal/linklocal"
	"github.com/podid/podid/internal/netnstest"
)

func TestSetupAndRemove(t *testing.T) {
	netnstest.Run(t, func() {
		changed, err := linklocal.Setup("podid-test0")
		if err != nil || !changed {
			t.Errorf("first Setup = %v, %v; want changed", changed, err)
			return
		}
		kind, _ := linklocal.Kind("podid-test0")
		t.Logf("interface kind: %s", kind)
		got, err := linklocal.Addrs("podid-test0")
		if err != nil {
			t.Error(err)
			return
		}
		for _, want := range []netip.Prefix{linklocal.IPv4, linklocal.IPv6} {
			if !slices.Contains(got, want) {
				t.Errorf("addresses %v lack %v", got, want)
			}
		}
		// Idempotent: a second run changes nothing.
		if changed, err := linklocal.Setup("podid-test0"); err != nil || changed {
			t.Errorf("second Setup = %v, %v; want unchanged", changed, err)
		}
		if again, _ := linklocal.Addrs("podid-test0"); len(again) != len(got) {
			t.Errorf("addresses after the second Setup: %v, before %v", again, got)
		}

		// The agent can bind both addresses and be reached there.
		for _, addr := range []string{"169.254.170.23:0", "[fd00:ec2::23]:0"} {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("listening on %s: %v", addr, err)
				continue
			}
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Errorf("connecting to %s: %v", ln.Addr(), err)
			} else {
				c.Close()
			}
			ln.Close()
		}

		if removed, err := linklocal.Remove("podid-test0"); err != nil || !removed {
			t.Errorf("Remove = %v, %v; want removed", removed, err)
		}
		if _, err := net.Listen("tcp", "169.254.170.23:0"); err == nil {
			t.Error("169.254.170.23 still bindable after Remove")
		}
		if removed, err := linklocal.Remove("podid-test0"); err != nil || removed {
			t.Errorf("second Remove = %v, %v; want nothing to remove", removed, err)
		}
	})
}

func TestSetupRefusesOtherInterfaces(t *testing.T) {
	netnstest.Run(t, func() {
		if _, err := linklocal.Setup("lo"); err == nil {
			t.Error("Setup took over lo")
		}
		if _, err := linklocal.Remove("lo"); err == nil {
			t.Error("Remove deleted lo")
		}
		// Only the IPv4 address when asked for it alone.
		if _, err := linklocal.Setup("podid-test1", linklocal.IPv4); err != nil {
			t.Error(err)
			return
		}
		got, _ := linklocal.Addrs("podid-test1")
		if slices.Contains(got, linklocal.IPv6) || !slices.Contains(got, linklocal.IPv4) {
			t.Errorf("addresses %v, want %v alone", got, linklocal.IPv4)
		}
	})
}
