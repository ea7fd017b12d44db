//go:build !linux

package tunnel

import (
	"errors"
	"net/netip"
)

// The link is configured over netlink, so a tunnel end runs on Linux only.

func linkUp(string, netip.Prefix, int) error { return errors.ErrUnsupported }

func routeAdd(string, netip.Prefix, netip.Addr) error { return errors.ErrUnsupported }

func routeDel(string, netip.Prefix) error { return errors.ErrUnsupported }
