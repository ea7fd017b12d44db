package netconf

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
)

// planInput is everything the wanted kernel state depends on.
type planInput struct {
	w      want
	ix     string   // resolved IX port; "" if none
	oob    string   // resolved (or probed and won) OOB port; "" if none
	probes []string // OOB candidates being probed: they only need to be up
	// staticLink is where the static fallback goes: oob, or while
	// probing the first candidate with carrier.
	staticLink     string
	anyLink        string // where anycast addresses go; "" if nowhere yet
	dummy          bool   // anyLink is a dummy this Manager creates
	lease4, lease6 *lease
	static         *staticOOB // the seed fallback, when active
	table          int
}

var (
	default4 = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	default6 = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
)

// plan is the kernel state the Manager wants, in the order to add it. It is
// a pure function of its input, so the whole role model (which address,
// route and rule goes where) is table-tested without a kernel.
func plan(in planInput) []object {
	var out []object
	seen := map[object]bool{}
	add := func(o object) {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	if in.dummy {
		add(dummyObj{in.anyLink})
		add(upObj{in.anyLink})
	}
	if in.anyLink != "" {
		for _, a := range in.w.anycastAddrs {
			add(addrObj{link: in.anyLink, prefix: netip.PrefixFrom(a, a.BitLen()), nodad: a.Is6()})
		}
	}
	if in.ix != "" {
		ix := in.w.ix
		add(ipv6Obj{link: in.ix}) // no RAs, no SLAAC on IX
		add(upObj{in.ix})
		for _, p := range ix.addrs {
			add(addrObj{link: in.ix, prefix: p})
		}
		for _, p := range ix.addrs {
			if p.Bits() < p.Addr().BitLen() {
				add(routeObj{table: in.table, dst: p.Masked(), link: in.ix})
			}
		}
		gateways(add, in.table, in.ix, ix.addrs, ix.gw4, ix.gw6)
		for _, p := range ix.addrs {
			add(ruleObj{pref: RulePriority, src: netip.PrefixFrom(p.Addr(), p.Addr().BitLen()), table: in.table})
		}
		for _, p := range in.w.anycastPrefixes {
			add(ruleObj{pref: RulePriority, src: p, table: in.table})
		}
	}
	for _, c := range in.probes {
		add(upObj{c})
	}
	if in.oob != "" {
		oob := in.w.oob
		v6 := ipv6Obj{link: in.oob}
		if oob.dhcp6 {
			// 2: take RAs even if forwarding is ever turned on.
			v6.acceptRA, v6.autoconf = 2, 1
		}
		add(v6)
		add(upObj{in.oob})
		for _, p := range oob.addrs {
			add(addrObj{link: in.oob, prefix: p})
		}
		gateways(add, mainTable, in.oob, oob.addrs, oob.gw4, oob.gw6)
		if l := in.lease4; l != nil {
			add(addrObj{link: in.oob, prefix: l.addr})
			if l.router.IsValid() {
				add(routeObj{table: mainTable, dst: default4, gw: l.router, link: in.oob, onlink: !l.addr.Contains(l.router)})
			}
		}
		if l := in.lease6; l != nil {
			add(addrObj{link: in.oob, prefix: l.addr})
		}
	}
	if s, link := in.static, cmp.Or(in.staticLink, in.oob); s != nil && link != "" {
		add(upObj{link})
		var addrs []netip.Prefix
		for _, p := range []netip.Prefix{s.addr4, s.addr6} {
			if p.IsValid() {
				addrs = append(addrs, p)
				add(addrObj{link: link, prefix: p})
			}
		}
		gateways(add, mainTable, link, addrs, s.gw4, s.gw6)
	}
	slices.SortStableFunc(out, func(a, b object) int { return cmp.Compare(a.rank(), b.rank()) })
	return out
}

// gateways adds default routes via gw4 and gw6 through link in table.
func gateways(add func(object), table int, link string, addrs []netip.Prefix, gw4, gw6 netip.Addr) {
	for _, gw := range []netip.Addr{gw4, gw6} {
		if !gw.IsValid() {
			continue
		}
		dst := default4
		if gw.Is6() {
			dst = default6
		}
		onlink := !gw.IsLinkLocalUnicast() && !slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return p.Contains(gw) })
		add(routeObj{table: table, dst: dst, gw: gw, link: link, onlink: onlink})
	}
}

// held is an object in the kernel: ours (we added it, with undo state) or
// found already there, which is never removed.
type held struct {
	ours bool
	undo any
}

// syncKernel changes the kernel from have to want: it removes what is no longer
// wanted (last ranks first), then adds what is missing. It carries on past
// failures, so one bad route does not keep the anycast addresses away, and
// reports them all; a failed change is retried on the next syncKernel.
func syncKernel(k kernel, log *slog.Logger, have map[object]held, want []object) error {
	wanted := make(map[object]bool, len(want))
	for _, o := range want {
		wanted[o] = true
	}
	var stale []object
	for o := range have {
		if !wanted[o] {
			stale = append(stale, o)
		}
	}
	slices.SortFunc(stale, func(a, b object) int {
		return cmp.Or(cmp.Compare(b.rank(), a.rank()), cmp.Compare(a.String(), b.String()))
	})
	var errs []error
	for _, o := range stale {
		h := have[o]
		if h.ours {
			if err := o.del(k, h.undo); err != nil {
				errs = append(errs, fmt.Errorf("undo %s: %w", o, err))
				continue
			}
			log.Info("undone", "change", o.String())
		}
		delete(have, o)
	}
	// What the kernel dropped by itself (routes go with a link's last
	// address, or when it is set down) is put back.
	if len(want) > 0 {
		for o := range have {
			ok, err := o.present(k)
			if err != nil {
				errs = append(errs, fmt.Errorf("check %s: %w", o, err))
				continue
			}
			if !ok {
				log.Warn("gone from the kernel; putting it back", "change", o.String())
				delete(have, o)
			}
		}
	}
	for _, o := range want {
		if _, ok := have[o]; ok {
			continue
		}
		undo, err := o.add(k)
		switch {
		case err == nil:
			have[o] = held{ours: true, undo: undo}
			log.Info("added", "change", o.String())
		case errors.Is(err, errExist):
			have[o] = held{}
			log.Info("already there; left alone", "change", o.String())
		default:
			if undo != nil { // half done: put back what was changed
				if uerr := o.del(k, undo); uerr != nil {
					err = errors.Join(err, uerr)
				}
			}
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
		}
	}
	return errors.Join(errs...)
}
