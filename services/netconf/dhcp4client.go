package netconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// packetConn carries whole IPv4 packets on one port. On Linux it is a
// packet socket (see rawconn_linux.go); tests use an in-memory server.
type packetConn interface {
	send(pkt []byte) error
	// recv returns the next packet, waiting until deadline or ctx; then
	// it returns an error wrapping os.ErrDeadlineExceeded or ctx.Err().
	recv(ctx context.Context, deadline time.Time) ([]byte, error)
	close() error
}

// dhcp4Client is DHCPv4 on one port. It uses its own packet transport
// rather than nclient4, whose raw socket needs a module the node does not
// otherwise carry; the messages themselves are built and read by the
// dhcpv4 package.
type dhcp4Client struct {
	link string
	t    tuning
	// open makes the port's packet socket and reports its MAC; it is
	// called at the first exchange, so a client costs nothing until used.
	open func() (packetConn, net.HardwareAddr, error)
	conn packetConn
	mac  net.HardwareAddr
}

// errDeadline is packetConn.recv's timeout.
var errDeadline = os.ErrDeadlineExceeded

var (
	bcast4 = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dhcp4ServerPort)
)

func (d *dhcp4Client) ready() error {
	if d.conn != nil {
		return nil
	}
	c, mac, err := d.open()
	if err != nil {
		return fmt.Errorf("dhcp4 %s: open: %w", d.link, err)
	}
	if len(mac) != 6 {
		c.close()
		return fmt.Errorf("dhcp4 %s: port has no Ethernet MAC address", d.link)
	}
	d.conn, d.mac = c, mac
	return nil
}

// exchange sends msg and returns the first reply to it that accept takes,
// retransmitting with doubling timeouts (RFC 2131 4.1).
func (d *dhcp4Client) exchange(ctx context.Context, msg *dhcpv4.DHCPv4, src netip.Addr, accept func(*dhcpv4.DHCPv4) bool) (*dhcpv4.DHCPv4, error) {
	pkt, err := buildUDP4(netip.AddrPortFrom(src, dhcp4ClientPort), bcast4, msg.ToBytes())
	if err != nil {
		return nil, err
	}
	timeout := d.t.dhcpTimeout
	for range max(d.t.dhcpTries, 1) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := d.conn.send(pkt); err != nil {
			return nil, fmt.Errorf("send %s: %w", msg.MessageType(), err)
		}
		deadline := time.Now().Add(timeout)
		for {
			b, err := d.conn.recv(ctx, deadline)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if errors.Is(err, errDeadline) {
					break
				}
				return nil, fmt.Errorf("receive: %w", err)
			}
			reply, ok := d.reply(b, msg.TransactionID)
			if ok && accept(reply) {
				return reply, nil
			}
		}
		timeout *= 2
	}
	return nil, fmt.Errorf("no answer to %s after %d tries: %w", msg.MessageType(), max(d.t.dhcpTries, 1), ErrNoLease)
}

// reply reads b as a DHCPv4 reply to transaction xid for our MAC.
func (d *dhcp4Client) reply(b []byte, xid dhcpv4.TransactionID) (*dhcpv4.DHCPv4, bool) {
	_, dst, payload, err := parseUDP4(b)
	if err != nil || dst.Port() != dhcp4ClientPort {
		return nil, false
	}
	m, err := dhcpv4.FromBytes(payload)
	if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || m.TransactionID != xid ||
		len(m.ClientHWAddr) < 6 || !bytes.Equal(m.ClientHWAddr[:6], d.mac) {
		return nil, false
	}
	return m, true
}

func isType(m *dhcpv4.DHCPv4, types ...dhcpv4.MessageType) bool {
	for _, t := range types {
		if m.MessageType() == t {
			return true
		}
	}
	return false
}

func (d *dhcp4Client) acquire(ctx context.Context) (*lease, error) {
	if err := d.ready(); err != nil {
		return nil, err
	}
	disc, err := dhcpv4.NewDiscovery(d.mac)
	if err != nil {
		return nil, fmt.Errorf("dhcp4 %s: %w", d.link, err)
	}
	offer, err := d.exchange(ctx, disc, netip.IPv4Unspecified(), func(m *dhcpv4.DHCPv4) bool {
		return isType(m, dhcpv4.MessageTypeOffer)
	})
	if err != nil {
		return nil, fmt.Errorf("dhcp4 %s: discover: %w", d.link, err)
	}
	req, err := dhcpv4.NewRequestFromOffer(offer)
	if err != nil {
		return nil, fmt.Errorf("dhcp4 %s: %w", d.link, err)
	}
	server := offer.ServerIdentifier()
	ack, err := d.exchange(ctx, req, netip.IPv4Unspecified(), func(m *dhcpv4.DHCPv4) bool {
		return isType(m, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak) && (server == nil || m.ServerIdentifier().Equal(server))
	})
	if err != nil {
		return nil, fmt.Errorf("dhcp4 %s: request %s: %w", d.link, offer.YourIPAddr, err)
	}
	if isType(ack, dhcpv4.MessageTypeNak) {
		return nil, fmt.Errorf("dhcp4 %s: request %s: NAK %q: %w", d.link, offer.YourIPAddr, ack.Message(), ErrNoLease)
	}
	return d.lease(ack)
}

func (d *dhcp4Client) lease(ack *dhcpv4.DHCPv4) (*lease, error) {
	l, err := lease4FromACK(ack)
	if err != nil {
		return nil, fmt.Errorf("dhcp4 %s: %w", d.link, err)
	}
	l.raw = ack
	return l, nil
}

// renew and rebind both broadcast a REQUEST with our address as ciaddr (a
// packet socket has no ARP to unicast with); renew takes only the server
// that gave the lease, rebind any.
func (d *dhcp4Client) renew(ctx context.Context, l *lease) (*lease, error) {
	return d.extend(ctx, l, "renew", true)
}

func (d *dhcp4Client) rebind(ctx context.Context, l *lease) (*lease, error) {
	return d.extend(ctx, l, "rebind", false)
}

func (d *dhcp4Client) extend(ctx context.Context, l *lease, op string, sameServer bool) (*lease, error) {
	old, ok := l.raw.(*dhcpv4.DHCPv4)
	if !ok {
		return nil, fmt.Errorf("dhcp4 %s: %s: not a DHCPv4 lease", d.link, op)
	}
	if err := d.ready(); err != nil {
		return nil, err
	}
	req, err := extend4(old)
	if err != nil {
		return nil, fmt.Errorf("dhcp4 %s: %s: %w", d.link, op, err)
	}
	server := old.ServerIdentifier()
	reply, err := d.exchange(ctx, req, l.addr.Addr(), func(m *dhcpv4.DHCPv4) bool {
		return isType(m, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak) &&
			(!sameServer || server == nil || m.ServerIdentifier().Equal(server))
	})
	if err != nil {
		return nil, fmt.Errorf("dhcp4 %s: %s %s: %w", d.link, op, l.addr.Addr(), err)
	}
	if isType(reply, dhcpv4.MessageTypeNak) {
		return nil, fmt.Errorf("dhcp4 %s: %s %s: NAK %q: %w", d.link, op, l.addr.Addr(), reply.Message(), errNak)
	}
	return d.lease(reply)
}

func (d *dhcp4Client) close() error {
	if d.conn == nil {
		return nil
	}
	err := d.conn.close()
	d.conn = nil
	return err
}

// extend4 is the REQUEST that renews or rebinds the lease in ack, in a new
// transaction: RFC 2131 4.3.2 fills in ciaddr and leaves out the server
// identifier and requested address for both.
func extend4(ack *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error) {
	xid, err := dhcpv4.GenerateTransactionID()
	if err != nil {
		return nil, err
	}
	return dhcpv4.NewRenewFromAck(ack, func(m *dhcpv4.DHCPv4) { m.TransactionID = xid })
}
