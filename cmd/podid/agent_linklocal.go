package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/spf13/pflag"

	"github.com/podid/podid/internal/linklocal"
)

// linkLocalOptions are podid agent's flags for the node's link-local
// addresses.
type linkLocalOptions struct {
	setup, remove bool
	iface         string
	addresses     []string
}

func (o *linkLocalOptions) register(f *pflag.FlagSet) {
	f.BoolVar(&o.setup, "setup-link-local", false, "put the agent's link-local addresses on a dummy interface (--link-local-interface) and exit; idempotent")
	f.BoolVar(&o.remove, "remove-link-local", false, "delete the dummy interface --setup-link-local made, and exit")
	f.StringVar(&o.iface, "link-local-interface", linklocal.DefaultInterface, "the dummy interface's name")
	f.StringSliceVar(&o.addresses, "link-local-addresses", []string{linklocal.IPv4.String(), linklocal.IPv6.String()}, "addresses --setup-link-local adds (leave the IPv6 one out on nodes without IPv6)")
}

func (o *linkLocalOptions) requested() bool { return o.setup || o.remove }

func runLinkLocal(o *linkLocalOptions, stderr io.Writer) error {
	if o.setup && o.remove {
		return errors.New("--setup-link-local and --remove-link-local exclude each other")
	}
	if o.remove {
		removed, err := linklocal.Remove(o.iface)
		if err != nil {
			return err
		}
		if removed {
			fmt.Fprintf(stderr, "podid agent: removed interface %s\n", o.iface)
		} else {
			fmt.Fprintf(stderr, "podid agent: no interface %s to remove\n", o.iface)
		}
		return nil
	}
	var addrs []netip.Prefix
	for _, s := range o.addresses {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("--link-local-addresses: %w", err)
		}
		addrs = append(addrs, p)
	}
	if len(addrs) == 0 {
		return errors.New("--link-local-addresses needs at least one address")
	}
	changed, err := linklocal.Setup(o.iface, addrs...)
	if err != nil {
		return err
	}
	state := "already in place"
	if changed {
		state = "set up"
	}
	fmt.Fprintf(stderr, "podid agent: %v on interface %s: %s\n", addrs, o.iface, state)
	return nil
}
