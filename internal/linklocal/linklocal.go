//go:build linux

// Package linklocal puts the node agent's link-local addresses,
// 169.254.170.23 and fd00:ec2::23, on a dummy interface of the node, so
// that podid agent can bind them and pods reach it there (the addresses
// EKS's webhook, and podid's, tell pods about). It talks netlink to the
// kernel, as ip(8) does, without running ip.
package linklocal

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultInterface is the dummy interface's name.
const DefaultInterface = "podid0"

// alias marks the interfaces Setup makes (IFLA_IFALIAS): Setup and
// Remove touch no other interface than a dummy or one of those.
const alias = "podid agent link-local addresses"

// The agent's addresses.
var (
	IPv4 = netip.MustParsePrefix("169.254.170.23/32")
	IPv6 = netip.MustParsePrefix("fd00:ec2::23/128")
)

// Setup makes sure the dummy interface name exists, is up and has the
// addresses (IPv4 and IPv6 when addrs is empty); it changes nothing that
// is already so, and reports whether it changed anything. On a kernel
// built without the dummy driver it makes a veth pair instead, which
// holds local addresses the same way. An interface of
// that name that is neither a dummy nor made by Setup is an error, not
// something to take over. IPv6 addresses are added without duplicate
// address detection, so the agent can bind them at once.
func Setup(name string, addrs ...netip.Prefix) (changed bool, err error) {
	if len(addrs) == 0 {
		addrs = []netip.Prefix{IPv4, IPv6}
	}
	link, err := netlink.LinkByName(name)
	if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
		if link, err = add(name); err != nil {
			return false, err
		}
		changed = true
	}
	if err != nil {
		return changed, fmt.Errorf("interface %s: %w", name, err)
	}
	if !ours(link) {
		return changed, fmt.Errorf("interface %s exists and is a %s, not a dummy interface", name, link.Type())
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return changed, fmt.Errorf("setting %s up: %w", name, err)
		}
		changed = true
	}
	// IPv6 installs an address's local route only on a running link: an
	// address added before the carrier is up may never become reachable.
	if err := waitRunning(name, 5*time.Second); err != nil {
		return changed, err
	}
	have, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return changed, fmt.Errorf("listing the addresses of %s: %w", name, err)
	}
	for _, p := range addrs {
		if hasAddr(have, p) {
			continue
		}
		a := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, a); err != nil {
			if p.Addr().Is6() && errors.Is(err, unix.EACCES) {
				err = fmt.Errorf("%w (is IPv6 disabled on this node? leave %s out)", err, p)
			}
			return changed, fmt.Errorf("adding %s to %s: %w", p, name, err)
		}
		changed = true
	}
	return changed, nil
}

// Remove deletes the dummy interface name (or the one Setup made
// instead), and so its addresses; it reports whether there was one. An
// interface of that name that Setup would not use is left alone, with an
// error.
func Remove(name string) (bool, error) {
	link, err := netlink.LinkByName(name)
	if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("interface %s: %w", name, err)
	}
	if !ours(link) {
		return false, fmt.Errorf("interface %s is a %s, not a dummy interface: not removing it", name, link.Type())
	}
	if err := netlink.LinkDel(link); err != nil {
		return false, fmt.Errorf("deleting %s: %w", name, err)
	}
	return true, nil
}

// add makes the interface: a dummy, or where the kernel has no dummy
// driver a veth pair made to behave as one: its other end (name + "p")
// up too, so that the link has carrier (a bridge without ports has
// none), and ARP/ND off as on a dummy (with it on, connections to the
// IPv6 address were seen to go out to the link and fail).
func add(name string) (netlink.Link, error) {
	attrs := netlink.LinkAttrs{Name: name}
	err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: attrs})
	if errors.Is(err, unix.EOPNOTSUPP) {
		peer := name + "p"
		if err = netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: peer}); err == nil {
			var p netlink.Link
			if p, err = netlink.LinkByName(peer); err == nil {
				err = netlink.LinkSetUp(p)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("adding dummy interface %s: %w", name, err)
	}
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetAlias(link, alias)
	}
	if err == nil && link.Type() == "veth" {
		err = netlink.LinkSetARPOff(link)
	}
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	return netlink.LinkByName(name)
}

// waitRunning waits until the link has carrier (the kernel reports it
// after its link watcher runs, up to a second after the link is set up).
func waitRunning(name string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		link, err := netlink.LinkByName(name)
		if err != nil {
			return fmt.Errorf("interface %s: %w", name, err)
		}
		if link.Attrs().RawFlags&unix.IFF_RUNNING != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("interface %s is up but not running after %s", name, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ours(link netlink.Link) bool {
	return link.Type() == "dummy" || link.Attrs().Alias == alias
}

// Kind is the kind of interface name is: "dummy", or "veth" where the
// kernel has no dummy driver.
func Kind(name string) (string, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return "", err
	}
	return link.Type(), nil
}

// Addrs lists the addresses of interface name.
func Addrs(name string) ([]netip.Prefix, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	have, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, a := range have {
		if p, ok := prefix(a.IPNet); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func hasAddr(have []netlink.Addr, p netip.Prefix) bool {
	for _, a := range have {
		if q, ok := prefix(a.IPNet); ok && q == p {
			return true
		}
	}
	return false
}

func prefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), ones), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}
