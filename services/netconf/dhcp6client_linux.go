package netconf

import (
	"context"
	"fmt"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/nclient6"
)

// dhcp6Client is DHCPv6 (IA_NA) on one port. Its socket is bound to the
// port's link-local address, which exists only once duplicate address
// detection has finished; until then an exchange fails and is retried.
type dhcp6Client struct {
	link string
	t    tuning
	c    *nclient6.Client
	duid dhcpv6.DUID
	iaid [4]byte
}

func (d *dhcp6Client) open() error {
	if d.c != nil {
		return nil
	}
	ifc, err := net.InterfaceByName(d.link)
	if err != nil {
		return fmt.Errorf("dhcp6 %s: %w", d.link, err)
	}
	if len(ifc.HardwareAddr) < 4 {
		return fmt.Errorf("dhcp6 %s: port has no MAC address", d.link)
	}
	conn, err := nclient6.NewIPv6UDPConn(d.link, dhcpv6.DefaultClientPort)
	if err != nil {
		return fmt.Errorf("dhcp6 %s: open: %w", d.link, err)
	}
	c, err := nclient6.NewWithConn(conn, ifc.HardwareAddr, nclient6.WithTimeout(d.t.dhcpTimeout), nclient6.WithRetry(d.t.dhcpTries))
	if err != nil {
		conn.Close()
		return fmt.Errorf("dhcp6 %s: open: %w", d.link, err)
	}
	d.c, d.duid, d.iaid = c, duid6(ifc.HardwareAddr), iaid6(ifc.HardwareAddr)
	return nil
}

func (d *dhcp6Client) acquire(ctx context.Context) (*lease, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	adv, err := d.c.Solicit(ctx, dhcpv6.WithClientID(d.duid), dhcpv6.WithIAID(d.iaid))
	if err != nil {
		return nil, fmt.Errorf("dhcp6 %s: solicit: %w", d.link, err)
	}
	reply, err := d.c.Request(ctx, adv)
	if err != nil {
		return nil, fmt.Errorf("dhcp6 %s: request: %w", d.link, err)
	}
	l, err := lease6FromReply(reply, d.iaid)
	if err != nil {
		return nil, fmt.Errorf("dhcp6 %s: %w", d.link, err)
	}
	return l, nil
}

func (d *dhcp6Client) extend(ctx context.Context, t dhcpv6.MessageType, l *lease) (*lease, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	msg, err := extend6(t, d.duid, d.iaid, l)
	if err != nil {
		return nil, fmt.Errorf("dhcp6 %s: %w", d.link, err)
	}
	reply, err := d.c.SendAndRead(ctx, nclient6.AllDHCPRelayAgentsAndServers, msg, nclient6.IsMessageType(dhcpv6.MessageTypeReply))
	if err != nil {
		return nil, fmt.Errorf("dhcp6 %s: %s: %w", d.link, t, err)
	}
	nl, err := lease6FromReply(reply, d.iaid)
	if err != nil {
		return nil, fmt.Errorf("dhcp6 %s: %s: %w", d.link, t, err)
	}
	return nl, nil
}

func (d *dhcp6Client) renew(ctx context.Context, l *lease) (*lease, error) {
	return d.extend(ctx, dhcpv6.MessageTypeRenew, l)
}

func (d *dhcp6Client) rebind(ctx context.Context, l *lease) (*lease, error) {
	return d.extend(ctx, dhcpv6.MessageTypeRebind, l)
}

func (d *dhcp6Client) close() error {
	if d.c == nil {
		return nil
	}
	err := d.c.Close()
	d.c = nil
	return err
}
