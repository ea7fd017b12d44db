package netconf

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
)

// object is one thing the Manager puts in the kernel: a step as data, like
// u-root's libinit steps. Its String reads like the ip(8) or sysctl(8) line
// that would do the same, so a failure log says exactly which change
// failed. Every object type is a comparable struct, so objects are map keys
// and equal objects are the same change.
type object interface {
	// rank orders changes: lower ranks are added first and removed last
	// (a link before its addresses, addresses before routes through them).
	rank() int
	String() string
	// add makes the change. It returns undo state for del, and an error
	// wrapping errExist if the object was already there, in which case it
	// is not ours to remove.
	add(k kernel) (undo any, err error)
	del(k kernel, undo any) error
	// present reports whether the change is still in effect.
	present(k kernel) (bool, error)
}

const (
	rankDummy = iota
	rankSysctl
	rankUp
	rankAddr
	rankRoute
	rankRule
)

// mainTable is RT_TABLE_MAIN.
const mainTable = 254

// dummyObj is the anycast dummy interface.
type dummyObj struct{ name string }

func (dummyObj) rank() int        { return rankDummy }
func (o dummyObj) String() string { return "ip link add " + o.name + " type dummy" }
func (o dummyObj) add(k kernel) (any, error) {
	return nil, k.dummyAdd(o.name)
}
func (o dummyObj) del(k kernel, _ any) error { return k.linkDel(o.name) }
func (o dummyObj) present(k kernel) (bool, error) {
	_, err := k.link(o.name)
	return err == nil, nil
}

// upObj sets a link up. Links are never set down again: a port the Manager
// stops managing may still be someone's console.
type upObj struct{ link string }

func (upObj) rank() int                   { return rankUp }
func (o upObj) String() string            { return "ip link set " + o.link + " up" }
func (o upObj) add(k kernel) (any, error) { return nil, k.linkUp(o.link) }
func (upObj) del(kernel, any) error       { return nil }
func (o upObj) present(k kernel) (bool, error) {
	li, err := k.link(o.link)
	if err != nil {
		return true, nil // a missing link is port resolution's business
	}
	return li.up, nil
}

// ipv6Obj sets a port's router advertisement handling: accept_ra and
// autoconf. Removing it restores the old values, and if it had turned
// SLAAC on, removes what SLAAC made.
type ipv6Obj struct {
	link               string
	acceptRA, autoconf int
}

func (ipv6Obj) rank() int { return rankSysctl }
func (o ipv6Obj) String() string {
	return fmt.Sprintf("sysctl net.ipv6.conf.%s.accept_ra=%d net.ipv6.conf.%s.autoconf=%d", o.link, o.acceptRA, o.link, o.autoconf)
}

func (o ipv6Obj) keys() [2]string {
	return [2]string{"net/ipv6/conf/" + o.link + "/accept_ra", "net/ipv6/conf/" + o.link + "/autoconf"}
}

func (o ipv6Obj) add(k kernel) (any, error) {
	keys := o.keys()
	vals := [2]string{strconv.Itoa(o.acceptRA), strconv.Itoa(o.autoconf)}
	var old [2]string
	for i, key := range keys {
		v, err := k.sysctl(key)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // IPv6 is off on this port or node
		}
		if err != nil {
			return nil, err
		}
		old[i] = v
	}
	for i, key := range keys {
		if err := k.setSysctl(key, vals[i]); err != nil {
			return old, err
		}
	}
	if o.acceptRA > 0 {
		// Best effort: a port that is down gets its solicitation from
		// the kernel when it comes up.
		_ = k.solicitRouters(o.link)
	}
	return old, nil
}

func (o ipv6Obj) present(k kernel) (bool, error) {
	want := [2]int{o.acceptRA, o.autoconf}
	for i, key := range o.keys() {
		v, err := k.sysctl(key)
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if v != strconv.Itoa(want[i]) {
			return false, nil
		}
	}
	return true, nil
}

func (o ipv6Obj) del(k kernel, undo any) error {
	old, ok := undo.([2]string)
	if !ok {
		return nil
	}
	var errs []error
	for i, key := range o.keys() {
		if err := k.setSysctl(key, old[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if o.autoconf == 1 && old[1] != "1" {
		errs = append(errs, k.flushSLAAC(o.link))
	}
	return errors.Join(errs...)
}

// addrObj is an address on a link.
type addrObj struct {
	link   string
	prefix netip.Prefix
	nodad  bool
}

func (addrObj) rank() int { return rankAddr }
func (o addrObj) String() string {
	s := "ip addr add " + o.prefix.String() + " dev " + o.link
	if o.nodad {
		s += " nodad"
	}
	return s
}
func (o addrObj) add(k kernel) (any, error) { return nil, k.addrAdd(o) }
func (o addrObj) del(k kernel, _ any) error { return k.addrDel(o) }
func (o addrObj) present(k kernel) (bool, error) {
	addrs, err := k.addrs(o.link)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if a.prefix == o.prefix {
			return true, nil
		}
	}
	return false, nil
}

// routeObj is a route through a link, in a table.
type routeObj struct {
	table  int
	dst    netip.Prefix
	gw     netip.Addr // zero: directly connected
	link   string
	onlink bool // the gateway is outside the link's prefixes
}

func (routeObj) rank() int { return rankRoute }
func (o routeObj) String() string {
	s := "ip route add "
	if o.dst.Bits() == 0 {
		s += "default"
	} else {
		s += o.dst.String()
	}
	if o.gw.IsValid() {
		s += " via " + o.gw.String()
	}
	s += " dev " + o.link
	if o.onlink {
		s += " onlink"
	}
	if o.table == mainTable {
		return s + " table main"
	}
	return s + " table " + strconv.Itoa(o.table)
}
func (o routeObj) add(k kernel) (any, error)      { return nil, k.routeAdd(o) }
func (o routeObj) del(k kernel, _ any) error      { return k.routeDel(o) }
func (o routeObj) present(k kernel) (bool, error) { return k.routeHas(o) }

// ruleObj is a policy rule selecting a table by source.
type ruleObj struct {
	pref  int
	src   netip.Prefix
	table int
}

func (ruleObj) rank() int { return rankRule }
func (o ruleObj) String() string {
	return fmt.Sprintf("ip rule add from %s lookup %d pref %d", o.src, o.table, o.pref)
}
func (o ruleObj) add(k kernel) (any, error)      { return nil, k.ruleAdd(o) }
func (o ruleObj) del(k kernel, _ any) error      { return k.ruleDel(o) }
func (o ruleObj) present(k kernel) (bool, error) { return k.ruleHas(o) }
