// Package netconf gives the node its network by role: the OOB port that
// reaches the management side, the IX port that carries DNS answers and BGP,
// and the anycast service addresses.
//
// It runs first in the node's data flow (init → network → tunnel → signed
// config → services): the management tunnel needs the OOB address it finds,
// and BGP and DNS need the IX and anycast addresses it puts in place. When a
// signed config arrives, [Manager.Apply] changes only what changed, so a
// config push never drops a BGP session or a DNS listener that it did not
// have to.
//
// # Roles
//
// OOB is the host's management LAN, usually DHCP. The Manager brings it up,
// runs DHCPv4 (renewing at T1, rebinding at T2, dropping the address at
// expiry), and, when the config asks for IPv6, DHCPv6 (IA_NA, renewed the
// same way) and SLAAC (accept_ra=2 and autoconf=1 under
// /proc/sys/net/ipv6/conf/PORT, which is per network namespace). The OOB
// default routes go in the main table. If no DHCPv4 lease arrives within
// Options.StaticAfter, the seed's static settings are applied and DHCP keeps
// trying; a lease replaces them when it comes. When the OOB carrier comes
// back after a loss the Manager does a fresh DHCP exchange at once (the
// cable may now be in another LAN), replaces the address if it changed, and
// calls Options.OnChange so the tunnel can roam.
//
// IX faces the IXP or ISP router. It gets its static addresses, and its
// gateways become default routes in a separate table (Options.IXTable,
// default 100) that policy rules select for traffic from each IX address
// and from each anycast prefix. Traffic sourced from the anycast or IX
// addresses (DNS answers, BGP) therefore leaves by IX, and everything else
// (the management tunnel, enrollment, NTP) uses the main table, whose
// default route is the OOB one: IX routing never carries management
// traffic. Router advertisements are refused on IX (accept_ra=0), so a
// stray RA there cannot put an IX default route in the main table either.
//
// Anycast addresses sit, as /32 and /128 host addresses, on a dummy
// interface anycast0 when the kernel can make one, and on lo when it cannot.
// IPv6 ones skip duplicate address detection: every node has them.
//
// # Port matching
//
// A role's port is named by a match (config interfaces.*.match, or the
// board's default when the config leaves it empty):
//
//	enp2s0                 an interface name
//	52:54:00:12:34:56      a MAC address (a physical port wins over VLANs sharing it)
//	driver:r8169           the driver bound to the port (/sys/class/net/PORT/device/driver)
//	pci-0000:01:00.0       a bus path: BUS-ID names the port's device or any device above
//	usb-2-1.4:1.0          it in /sys/devices, BUS being that device's subsystem (pci, usb,
//	platform-fd580000.ethernet  platform, virtio, ...) and ID its directory name
//
// A match that finds no port, or more than one, is an error naming the
// match. Until the first config, when there is no OOB match at all, OOB is
// every physical, non-loopback port that is not the IX port: DHCPv4 runs on
// all of them and the first to get a lease becomes OOB. Physical means a
// port with a device in sysfs, or a veth, which is how containers and labs
// hand a node its ports. If none gets a lease, the static fallback goes on
// the first such port (by name) that has carrier.
//
// # Ownership
//
// The Manager removes only what it added: an address, route or rule that
// was already there when it would have added it is left alone, now and at
// the end. When Run ends it removes everything it added and restores the
// sysctls it changed, so a supervisor restart starts from a clean slate.
package netconf
