//go:build !linux

package linklocal

import (
	"errors"
	"net/netip"
)

// DefaultInterface is the dummy interface's name.
const DefaultInterface = "podid0"

// The agent's addresses.
var (
	IPv4 = netip.MustParsePrefix("169.254.170.23/32")
	IPv6 = netip.MustParsePrefix("fd00:ec2::23/128")
)

var errNotLinux = errors.New("link-local setup needs Linux (netlink)")

// Setup is Linux only.
func Setup(string, ...netip.Prefix) (bool, error) { return false, errNotLinux }

// Remove is Linux only.
func Remove(string) (bool, error) { return false, errNotLinux }
