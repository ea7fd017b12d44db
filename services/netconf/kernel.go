package netconf

import (
	"net"
	"net/netip"
)

// kernel is everything the Manager asks of the operating system. The Linux
// one speaks netlink, sysfs and procfs; unit tests use a fake that records
// what was asked, so the reconcile and ownership logic is tested without
// root, and the namespace tests prove the real one.
type kernel interface {
	// ports lists the node's interfaces as port matching sees them.
	ports() ([]port, error)
	link(name string) (linkInfo, error)
	linkUp(name string) error
	dummyAdd(name string) error
	linkDel(name string) error

	// addrAdd, routeAdd and ruleAdd return an error wrapping errExist if
	// the object is already there; the del functions treat an object (or
	// link) that is already gone as deleted.
	addrAdd(a addrObj) error
	addrDel(a addrObj) error
	addrs(link string) ([]kernelAddr, error)
	routeAdd(r routeObj) error
	routeDel(r routeObj) error
	ruleAdd(r ruleObj) error
	ruleDel(r ruleObj) error
	// routeHas and ruleHas report whether the object is in the kernel:
	// the kernel drops routes by itself (with a link's last address, when
	// a link is set down), and a dropped route must be put back.
	routeHas(r routeObj) (bool, error)
	ruleHas(r ruleObj) (bool, error)

	// sysctl reads and writes /proc/sys/KEY, KEY like
	// "net/ipv6/conf/eth0/accept_ra". A missing key wraps fs.ErrNotExist.
	sysctl(key string) (string, error)
	setSysctl(key, value string) error
	// flushSLAAC removes what router advertisements made on link: its
	// dynamic global IPv6 addresses and its RA routes.
	flushSLAAC(link string) error
	// solicitRouters sends a router solicitation from link, so that a
	// port already up when SLAAC is turned on need not wait for the
	// router's next unsolicited advertisement.
	solicitRouters(link string) error

	// watch reports link and address changes until done is closed; the
	// channel is closed after that.
	watch(done <-chan struct{}) (<-chan event, error)

	// dhcp4 and dhcp6 make a DHCP client on link. They open no socket
	// until the first exchange.
	dhcp4(link string, t tuning) (leaseClient, error)
	dhcp6(link string, t tuning) (leaseClient, error)
}

// linkInfo is the state of one interface.
type linkInfo struct {
	name    string
	index   int
	mac     net.HardwareAddr
	up      bool
	carrier bool
}

// kernelAddr is an address as the kernel has it.
type kernelAddr struct {
	prefix netip.Prefix
	// dynamic is an address with a finite lifetime, which on a port we
	// manage is one SLAAC made: ours are all permanent.
	dynamic bool
}

// event is one change the kernel reported.
type event struct {
	link    string
	index   int
	up      bool
	carrier bool
	deleted bool
	addr    bool  // an address on link changed; up/carrier are not set
	err     error // the watch broke; no more events follow
}
