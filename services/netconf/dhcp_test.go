package netconf

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

var clientMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

func ack(t testing.TB, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithHwAddr(clientMAC),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 0, 0, 50)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptSubnetMask(net.CIDRMask(24, 32))),
		dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 0, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(10, 0, 0, 53), net.IPv4(0, 0, 0, 0))),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(time.Hour)),
	}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.OpCode = dhcpv4.OpcodeBootReply
	return m
}

func TestLease4FromACK(t *testing.T) {
	for _, c := range []struct {
		name           string
		mods           []dhcpv4.Modifier
		addr, router   string
		t1, t2, valid  time.Duration
		forever        bool
		err            string
		errIs          error
		dns            string
		leaveOutOption dhcpv4.OptionCode
	}{
		{name: "plain", addr: "10.0.0.50/24", router: "10.0.0.1", t1: 30 * time.Minute, t2: 52*time.Minute + 30*time.Second, valid: time.Hour, dns: "[10.0.0.53]"},
		{name: "server T1 T2", mods: []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(10 * time.Minute)), dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(20 * time.Minute))},
			addr: "10.0.0.50/24", router: "10.0.0.1", t1: 10 * time.Minute, t2: 20 * time.Minute, valid: time.Hour, dns: "[10.0.0.53]"},
		{name: "T2 beyond the lease", mods: []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(2 * time.Hour))},
			addr: "10.0.0.50/24", router: "10.0.0.1", t1: 30 * time.Minute, t2: 52*time.Minute + 30*time.Second, valid: time.Hour, dns: "[10.0.0.53]"},
		{name: "T1 after T2", mods: []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(50 * time.Minute)), dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(40 * time.Minute))},
			addr: "10.0.0.50/24", router: "10.0.0.1", t1: 30 * time.Minute, t2: 40 * time.Minute, valid: time.Hour, dns: "[10.0.0.53]"},
		{name: "no mask: classful", leaveOutOption: dhcpv4.OptionSubnetMask, addr: "10.0.0.50/8", router: "10.0.0.1", t1: 30 * time.Minute, t2: 52*time.Minute + 30*time.Second, valid: time.Hour, dns: "[10.0.0.53]"},
		{name: "no lease time: an hour", leaveOutOption: dhcpv4.OptionIPAddressLeaseTime, addr: "10.0.0.50/24", router: "10.0.0.1", t1: 30 * time.Minute, t2: 52*time.Minute + 30*time.Second, valid: time.Hour, dns: "[10.0.0.53]"},
		{name: "infinite", mods: []dhcpv4.Modifier{dhcpv4.WithGeneric(dhcpv4.OptionIPAddressLeaseTime, []byte{0xff, 0xff, 0xff, 0xff})},
			addr: "10.0.0.50/24", router: "10.0.0.1", forever: true, valid: infinite, t1: infinite / 2, t2: time.Duration(float64(infinite) * 0.875), dns: "[10.0.0.53]"},
		{name: "router is us", mods: []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 0, 0, 50), net.IPv4(10, 0, 0, 254)))},
			addr: "10.0.0.50/24", router: "10.0.0.254", t1: 30 * time.Minute, t2: 52*time.Minute + 30*time.Second, valid: time.Hour, dns: "[10.0.0.53]"},
		{name: "zero lease", mods: []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(0))}, err: "0 seconds", errIs: ErrNoLease},
		{name: "short lease option", mods: []dhcpv4.Modifier{dhcpv4.WithGeneric(dhcpv4.OptionIPAddressLeaseTime, []byte{1, 2})}, err: "lease time option is 2 bytes"},
		{name: "NAK", mods: []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeNak)}, err: "is not an ACK"},
		{name: "no address", mods: []dhcpv4.Modifier{dhcpv4.WithYourIP(net.IPv4zero)}, err: "not a unicast IPv4 address", errIs: ErrNoLease},
		{name: "bad mask", mods: []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptSubnetMask(net.IPv4Mask(255, 0, 255, 0)))}, err: "not a contiguous IPv4 mask"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := ack(t, c.mods...)
			if c.leaveOutOption != nil {
				m.Options.Del(c.leaveOutOption)
			}
			l, err := lease4FromACK(m)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || c.errIs != nil && !errors.Is(err, c.errIs) {
					t.Fatalf("lease4FromACK = %+v, %v; want error %q", l, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.addr.String() != c.addr || l.router.String() != c.router || l.t1 != c.t1 || l.t2 != c.t2 || l.valid != c.valid || l.forever != c.forever {
				t.Errorf("lease %+v\nwant addr %s router %s t1 %s t2 %s valid %s forever %v", l, c.addr, c.router, c.t1, c.t2, c.valid, c.forever)
			}
			if got := fmtAddrs(l.dns); got != c.dns {
				t.Errorf("DNS %v, want %s", l.dns, c.dns)
			}
		})
	}
}

func fmtAddrs(a []netip.Addr) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

var testIAID = [4]byte{0, 0x12, 0x34, 0x56}

func reply6(t testing.TB, iaOpts []dhcpv6.Option, mods ...dhcpv6.Modifier) *dhcpv6.Message {
	m, err := dhcpv6.NewMessage(mods...)
	if err != nil {
		t.Fatal(err)
	}
	m.MessageType = dhcpv6.MessageTypeReply
	m.AddOption(dhcpv6.OptClientID(duid6(clientMAC)))
	m.AddOption(dhcpv6.OptServerID(&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}))
	m.AddOption(&dhcpv6.OptIANA{IaId: testIAID, T1: 60 * time.Second, T2: 105 * time.Second, Options: dhcpv6.IdentityOptions{Options: iaOpts}})
	m.AddOption(dhcpv6.OptDNS(net.ParseIP("2001:db8:77::53")))
	return m
}

func iaAddr(ip string, pl, vl time.Duration) *dhcpv6.OptIAAddress {
	return &dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(ip), PreferredLifetime: pl, ValidLifetime: vl}
}

func TestLease6FromReply(t *testing.T) {
	good := []dhcpv6.Option{iaAddr("2001:db8:77::190", 100*time.Second, 120*time.Second)}
	l, err := lease6FromReply(reply6(t, good), testIAID)
	if err != nil {
		t.Fatal(err)
	}
	if l.addr.String() != "2001:db8:77::190/128" || l.t1 != time.Minute || l.t2 != 105*time.Second || l.valid != 2*time.Minute || fmtAddrs(l.dns) != "[2001:db8:77::53]" {
		t.Errorf("lease %+v", l)
	}
	// T1 and T2 left to the client: 0.5 and 0.8 of the preferred lifetime.
	m := reply6(t, good)
	m.Options.IANA()[0].T1, m.Options.IANA()[0].T2 = 0, 0
	if l, err := lease6FromReply(m, testIAID); err != nil || l.t1 != 50*time.Second || l.t2 != 80*time.Second {
		t.Errorf("zero T1/T2: %+v, %v", l, err)
	}
	if l, err := lease6FromReply(reply6(t, []dhcpv6.Option{iaAddr("2001:db8:77::190", infinite, infinite)}), testIAID); err != nil || !l.forever {
		t.Errorf("infinite lifetime: %+v, %v", l, err)
	}
	for _, c := range []struct {
		name string
		msg  *dhcpv6.Message
		iaid [4]byte
		err  error
		text string
	}{
		{"no binding", reply6(t, []dhcpv6.Option{&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoBinding, StatusMessage: "gone"}}), testIAID, errNak, "gone"},
		{"no addresses", reply6(t, nil, dhcpv6.WithOption(&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail, StatusMessage: "full"})), testIAID, ErrNoLease, "full"},
		{"other IAID", reply6(t, good), [4]byte{9, 9, 9, 9}, ErrNoLease, "no IA_NA"},
		{"link-local", reply6(t, []dhcpv6.Option{iaAddr("fe80::1", time.Minute, time.Minute)}), testIAID, ErrNoLease, "no usable address"},
		{"expired", reply6(t, []dhcpv6.Option{iaAddr("2001:db8:77::190", 0, 0)}), testIAID, ErrNoLease, "no usable address"},
	} {
		if _, err := lease6FromReply(c.msg, c.iaid); !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want %v mentioning %q", c.name, err, c.err, c.text)
		}
	}
	adv := reply6(t, good)
	adv.MessageType = dhcpv6.MessageTypeAdvertise
	if _, err := lease6FromReply(adv, testIAID); err == nil || !strings.Contains(err.Error(), "not a REPLY") {
		t.Errorf("ADVERTISE: %v", err)
	}
}

func TestExtend6(t *testing.T) {
	l, err := lease6FromReply(reply6(t, []dhcpv6.Option{iaAddr("2001:db8:77::190", time.Minute, 2*time.Minute)}), testIAID)
	if err != nil {
		t.Fatal(err)
	}
	renew, err := extend6(dhcpv6.MessageTypeRenew, duid6(clientMAC), testIAID, l)
	if err != nil {
		t.Fatal(err)
	}
	rebind, err := extend6(dhcpv6.MessageTypeRebind, duid6(clientMAC), testIAID, l)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*dhcpv6.Message{renew, rebind} {
		ia := m.Options.OneIANA()
		if ia == nil || ia.IaId != testIAID || ia.Options.OneAddress() == nil || !ia.Options.OneAddress().IPv6Addr.Equal(net.ParseIP("2001:db8:77::190")) {
			t.Errorf("%s IA_NA %v", m.MessageType, ia)
		}
		if m.Options.ClientID() == nil || !m.Options.ClientID().Equal(duid6(clientMAC)) {
			t.Errorf("%s client ID %v", m.MessageType, m.Options.ClientID())
		}
		// It must survive the wire.
		if _, err := dhcpv6.MessageFromBytes(m.ToBytes()); err != nil {
			t.Errorf("%s does not parse: %v", m.MessageType, err)
		}
	}
	if renew.Options.ServerID() == nil || rebind.Options.ServerID() != nil {
		t.Errorf("server ID: renew %v, rebind %v; RENEW names the server and REBIND does not", renew.Options.ServerID(), rebind.Options.ServerID())
	}
	if _, err := extend6(dhcpv6.MessageTypeRenew, duid6(clientMAC), testIAID, &lease{addr: l.addr}); err == nil {
		t.Error("renewing a lease with no server identifier worked")
	}
}

func TestUDP4RoundTrip(t *testing.T) {
	src := netip.MustParseAddrPort("0.0.0.0:68")
	dst := netip.MustParseAddrPort("255.255.255.255:67")
	for _, payload := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{0xab}, 301)} {
		b, err := buildUDP4(src, dst, payload)
		if err != nil {
			t.Fatal(err)
		}
		s, d, p, err := parseUDP4(b)
		if err != nil || s != src || d != dst || !bytes.Equal(p, payload) {
			t.Fatalf("parse(build) = %s %s %x %v", s, d, p, err)
		}
		// The UDP checksum, with its pseudo-header, verifies to zero.
		var sum uint32
		sum += 0 + 0 + 0xffff + 0xffff + protoUDP + uint32(len(b)-ipv4HeaderLen)
		if c := checksum(b[ipv4HeaderLen:], sum); c != 0 {
			t.Errorf("UDP checksum does not verify: %#x", c)
		}
	}
	good, _ := buildUDP4(src, dst, []byte("hello"))
	for _, c := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"short", func(b []byte) []byte { return b[:10] }},
		{"IPv6", func(b []byte) []byte { b[0] = 0x60; return b }},
		{"TCP", func(b []byte) []byte { b[9] = 6; return b }},
		{"fragment", func(b []byte) []byte { b[7] = 1; return b }},
		{"bad IP checksum", func(b []byte) []byte { b[8] = 1; return b }},
		{"total beyond the packet", func(b []byte) []byte { return b[:len(b)-1] }},
		{"UDP length beyond", func(b []byte) []byte { b[24], b[25] = 0xff, 0xff; return b }},
	} {
		b := c.edit(bytes.Clone(good))
		if _, _, _, err := parseUDP4(b); !errors.Is(err, errNotUDP4) {
			t.Errorf("%s: %v, want errNotUDP4", c.name, err)
		}
	}
	if _, err := buildUDP4(netip.MustParseAddrPort("[::1]:68"), dst, nil); err == nil {
		t.Error("built an IPv4 packet from an IPv6 address")
	}
}

// memConn is a packet socket onto an in-memory DHCP server.
type memConn struct {
	t      *testing.T
	in     chan []byte
	mu     sync.Mutex
	sent   []*dhcpv4.DHCPv4
	srcs   []netip.Addr
	drop   int // requests to ignore first
	serve  func(req *dhcpv4.DHCPv4) []*dhcpv4.DHCPv4
	closed bool
}

func (c *memConn) send(pkt []byte) error {
	src, dst, payload, err := parseUDP4(pkt)
	if err != nil || dst.Port() != dhcp4ServerPort || src.Port() != dhcp4ClientPort {
		c.t.Errorf("client sent %s → %s: %v", src, dst, err)
		return nil
	}
	req, err := dhcpv4.FromBytes(payload)
	if err != nil {
		c.t.Errorf("client sent garbage: %v", err)
		return nil
	}
	c.mu.Lock()
	c.sent = append(c.sent, req)
	c.srcs = append(c.srcs, src.Addr())
	drop := c.drop > 0
	if drop {
		c.drop--
	}
	c.mu.Unlock()
	if drop {
		return nil
	}
	for _, r := range c.serve(req) {
		b, err := buildUDP4(netip.MustParseAddrPort("10.0.0.1:67"), netip.MustParseAddrPort("255.255.255.255:68"), r.ToBytes())
		if err != nil {
			c.t.Fatal(err)
		}
		c.in <- b
	}
	return nil
}

func (c *memConn) recv(ctx context.Context, deadline time.Time) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-time.After(time.Until(deadline)):
		return nil, errDeadline
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *memConn) close() error { c.closed = true; return nil }

// server answers like dnsmasq with one host entry: 10.0.0.50, and NAKs a
// request for anything else; nak makes it NAK everything.
func server(t *testing.T, serverID net.IP, nak *bool) func(*dhcpv4.DHCPv4) []*dhcpv4.DHCPv4 {
	return func(req *dhcpv4.DHCPv4) []*dhcpv4.DHCPv4 {
		typ := dhcpv4.MessageTypeOffer
		if req.MessageType() == dhcpv4.MessageTypeRequest {
			typ = dhcpv4.MessageTypeAck
			want := req.RequestedIPAddress()
			if want == nil {
				want = req.ClientIPAddr
			}
			if *nak || !want.Equal(net.IPv4(10, 0, 0, 50)) {
				typ = dhcpv4.MessageTypeNak
			}
		}
		r, err := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(typ), dhcpv4.WithYourIP(net.IPv4(10, 0, 0, 50)),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverID)),
			dhcpv4.WithOption(dhcpv4.OptSubnetMask(net.CIDRMask(24, 32))),
			dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(2*time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		// Noise first: another client's reply and a stale transaction.
		other, _ := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(typ), dhcpv4.WithHwAddr(net.HardwareAddr{2, 2, 2, 2, 2, 2}))
		stale, _ := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(typ), dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 2, 3, 4}))
		return []*dhcpv4.DHCPv4{other, stale, r}
	}
}

func newMemClient(t *testing.T, serverID net.IP, nak *bool) (*dhcp4Client, *memConn) {
	c := &memConn{t: t, in: make(chan []byte, 16), serve: server(t, serverID, nak)}
	tn := defaultTuning()
	tn.dhcpTimeout, tn.dhcpTries = 20*time.Millisecond, 3
	return &dhcp4Client{link: "eth0", t: tn, open: func() (packetConn, net.HardwareAddr, error) { return c, clientMAC, nil }}, c
}

func TestDHCP4Client(t *testing.T) {
	ctx := context.Background()
	nak := false
	d, c := newMemClient(t, net.IPv4(10, 0, 0, 1), &nak)
	c.drop = 1 // the first DISCOVER is lost
	l, err := d.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l.addr.String() != "10.0.0.50/24" || l.valid != 2*time.Minute {
		t.Errorf("lease %+v", l)
	}
	if n := len(c.sent); n != 3 || c.sent[0].MessageType() != dhcpv4.MessageTypeDiscover || c.sent[2].MessageType() != dhcpv4.MessageTypeRequest {
		t.Errorf("sent %d messages: %v", n, c.sent)
	}
	if req := c.sent[2]; !req.ServerIdentifier().Equal(net.IPv4(10, 0, 0, 1)) || !req.RequestedIPAddress().Equal(net.IPv4(10, 0, 0, 50)) {
		t.Errorf("REQUEST %v", req)
	}
	// Renewal comes from the leased address, in a new transaction, and
	// without the server identifier (RFC 2131 4.3.2).
	l2, err := d.renew(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	last := c.sent[len(c.sent)-1]
	if l2.addr != l.addr || c.srcs[len(c.srcs)-1] != netip.MustParseAddr("10.0.0.50") || !last.ClientIPAddr.Equal(net.IPv4(10, 0, 0, 50)) ||
		last.TransactionID == c.sent[2].TransactionID || last.Options.Has(dhcpv4.OptionServerIdentifier) {
		t.Errorf("renewal %v from %s", last, c.srcs[len(c.srcs)-1])
	}
	nak = true
	if _, err := d.renew(ctx, l2); !errors.Is(err, errNak) {
		t.Errorf("renew with a NAK = %v, want errNak", err)
	}
	if _, err := d.rebind(ctx, l2); !errors.Is(err, errNak) {
		t.Errorf("rebind with a NAK = %v, want errNak", err)
	}
	if _, err := d.acquire(ctx); !errors.Is(err, ErrNoLease) || !strings.Contains(err.Error(), "NAK") {
		t.Errorf("acquire with a NAK = %v, want ErrNoLease", err)
	}
	if err := d.close(); err != nil || !c.closed {
		t.Errorf("close: %v", err)
	}
}

func TestDHCP4ClientOtherServer(t *testing.T) {
	ctx := context.Background()
	nak := false
	d, c := newMemClient(t, net.IPv4(10, 0, 0, 1), &nak)
	l, err := d.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another server answers from now on: renewing (with our server)
	// gets nothing, rebinding (with any) works.
	c.serve = server(t, net.IPv4(10, 0, 0, 2), &nak)
	if _, err := d.renew(ctx, l); !errors.Is(err, ErrNoLease) || !strings.Contains(err.Error(), "after 3 tries") {
		t.Errorf("renew answered by another server = %v, want no answer", err)
	}
	l2, err := d.rebind(ctx, l)
	if err != nil || l2.server != "10.0.0.2" {
		t.Errorf("rebind = %+v, %v; want the lease from 10.0.0.2", l2, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.acquire(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("acquire with a done ctx = %v", err)
	}
}

func FuzzLease4(f *testing.F) {
	f.Add(ack(f).ToBytes())
	f.Add(ack(f, dhcpv4.WithGeneric(dhcpv4.OptionIPAddressLeaseTime, []byte{0xff, 0xff, 0xff, 0xff})).ToBytes())
	f.Add(ack(f, dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(time.Hour))).ToBytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		l, err := lease4FromACK(m)
		if err != nil {
			return
		}
		if !l.addr.Addr().Is4() || l.addr.Bits() < 1 || l.addr.Bits() > 32 {
			t.Fatalf("lease address %s", l.addr)
		}
		if !(0 < l.t1 && l.t1 <= l.t2 && l.t2 <= l.valid) {
			t.Fatalf("timers t1 %s t2 %s valid %s", l.t1, l.t2, l.valid)
		}
	})
}

func FuzzLease6(f *testing.F) {
	f.Add(reply6(f, []dhcpv6.Option{iaAddr("2001:db8:77::190", 100*time.Second, 120*time.Second)}).ToBytes())
	f.Add(reply6(f, []dhcpv6.Option{&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoBinding}}).ToBytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv6.MessageFromBytes(b)
		if err != nil {
			return
		}
		l, err := lease6FromReply(m, testIAID)
		if err != nil {
			return
		}
		if !l.addr.Addr().Is6() || l.addr.Bits() != 128 || !l.addr.Addr().IsGlobalUnicast() {
			t.Fatalf("lease address %s", l.addr)
		}
		if !(0 < l.t1 && l.t1 <= l.t2 && l.t2 <= l.valid) {
			t.Fatalf("timers t1 %s t2 %s valid %s", l.t1, l.t2, l.valid)
		}
	})
}

func FuzzParseUDP4(f *testing.F) {
	b, _ := buildUDP4(netip.MustParseAddrPort("10.0.0.1:67"), netip.MustParseAddrPort("255.255.255.255:68"), []byte("payload"))
	f.Add(b)
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		src, dst, payload, err := parseUDP4(b)
		if err != nil {
			return
		}
		again, err := buildUDP4(src, dst, payload)
		if err != nil {
			t.Fatal(err)
		}
		s2, d2, p2, err := parseUDP4(again)
		if err != nil || s2 != src || d2 != dst || !bytes.Equal(p2, payload) {
			t.Fatalf("rebuilt packet parses as %s %s %x %v", s2, d2, p2, err)
		}
	})
}
