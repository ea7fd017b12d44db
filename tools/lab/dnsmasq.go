package lab

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// ToolDnsmasq is the DHCP server (and router advertiser) on the host's side
// of a node's OOB port in network tests.
var ToolDnsmasq = Tool{"dnsmasq", "dnsmasq"}

// DnsmasqRange is an inclusive pool of addresses dnsmasq hands out.
type DnsmasqRange struct {
	Start, End netip.Addr
}

func (r DnsmasqRange) set() bool { return r.Start.IsValid() || r.End.IsValid() }

// DnsmasqConfig is one dnsmasq serving DHCP on one interface of a
// namespace, the way a volunteer host's management LAN would.
type DnsmasqConfig struct {
	// Interface is the namespace's interface to serve; it must already
	// have an address inside each range.
	Interface string
	// Range4 is the DHCPv4 pool; zero means no DHCPv4.
	Range4 DnsmasqRange
	// Range6 is the DHCPv6 (IA_NA) pool; zero means no DHCPv6.
	Range6 DnsmasqRange
	// RA sends router advertisements for Range6's /64 with the
	// autonomous flag set, so clients do SLAAC as well as DHCPv6, and
	// makes dnsmasq the IPv6 default router. It needs Range6.
	RA bool
	// LeaseTime is rounded down to seconds; zero means dnsmasq's minimum,
	// two minutes, which is also the shortest it accepts.
	LeaseTime time.Duration
	// Hosts pins a MAC address ("52:54:00:12:34:56") to an address.
	Hosts map[string]netip.Addr
	// Router is the DHCPv4 router option; zero means dnsmasq's own
	// address on Interface.
	Router netip.Addr
	// DNS servers are sent in DHCPv4 and DHCPv6; none means the option is
	// left out (dnsmasq itself does no DNS here).
	DNS []netip.Addr
}

// Dnsmasq is a dnsmasq running in the foreground in a namespace, with its
// lease file, pid file and log in a directory of its own.
type Dnsmasq struct {
	Dir       string
	LogPath   string
	LeasePath string
	proc      *process
}

const dnsmasqMinLease = 2 * time.Minute

// DnsmasqArgs is dnsmasq's command line for c, keeping its files in dir.
// It reads no configuration file and serves no DNS (--port=0).
func DnsmasqArgs(c DnsmasqConfig, dir string) ([]string, error) {
	if c.Interface == "" {
		return nil, errors.New("lab: dnsmasq: no interface")
	}
	lease := c.LeaseTime
	if lease == 0 {
		lease = dnsmasqMinLease
	}
	if lease < dnsmasqMinLease {
		return nil, fmt.Errorf("lab: dnsmasq: lease time %s is below dnsmasq's minimum of %s", lease, dnsmasqMinLease)
	}
	secs := fmt.Sprintf("%ds", int(lease/time.Second))
	args := []string{
		"--keep-in-foreground", "--log-facility=-", "--log-dhcp",
		"--conf-file=/dev/null", "--port=0",
		"--interface=" + c.Interface, "--bind-interfaces",
		"--dhcp-authoritative",
		"--user=root", "--group=root",
		"--dhcp-leasefile=" + filepath.Join(dir, "dnsmasq.leases"),
		"--pid-file=" + filepath.Join(dir, "dnsmasq.pid"),
	}
	if !c.Range4.set() && !c.Range6.set() {
		return nil, errors.New("lab: dnsmasq: neither Range4 nor Range6 is set")
	}
	if c.Range4.set() {
		if !c.Range4.Start.Is4() || !c.Range4.End.Is4() {
			return nil, fmt.Errorf("lab: dnsmasq: Range4 %s-%s is not two IPv4 addresses", c.Range4.Start, c.Range4.End)
		}
		args = append(args, fmt.Sprintf("--dhcp-range=%s,%s,%s", c.Range4.Start, c.Range4.End, secs))
	}
	if c.Range6.set() {
		if !c.Range6.Start.Is6() || !c.Range6.End.Is6() {
			return nil, fmt.Errorf("lab: dnsmasq: Range6 %s-%s is not two IPv6 addresses", c.Range6.Start, c.Range6.End)
		}
		mode := ""
		if c.RA {
			mode = "slaac,"
		}
		args = append(args, fmt.Sprintf("--dhcp-range=%s,%s,%s64,%s", c.Range6.Start, c.Range6.End, mode, secs))
	}
	if c.RA {
		if !c.Range6.set() {
			return nil, errors.New("lab: dnsmasq: RA needs Range6")
		}
		// Advertise every 4 s, so a client that missed the first RA does
		// not wait long, with a router lifetime that outlives a restart.
		args = append(args, "--enable-ra", fmt.Sprintf("--ra-param=%s,4,1800", c.Interface))
	}
	for _, mac := range slices.Sorted(maps.Keys(c.Hosts)) {
		a := c.Hosts[mac]
		s := a.String()
		if a.Is6() {
			s = "[" + s + "]"
		}
		args = append(args, fmt.Sprintf("--dhcp-host=%s,%s", mac, s))
	}
	if c.Router.IsValid() {
		args = append(args, "--dhcp-option=option:router,"+c.Router.String())
	}
	var dns4, dns6 []string
	for _, a := range c.DNS {
		if a.Is4() {
			dns4 = append(dns4, a.String())
		} else {
			dns6 = append(dns6, "["+a.String()+"]")
		}
	}
	if len(dns4) > 0 {
		args = append(args, "--dhcp-option=option:dns-server,"+strings.Join(dns4, ","))
	}
	if len(dns6) > 0 {
		args = append(args, "--dhcp-option=option6:dns-server,"+strings.Join(dns6, ","))
	}
	return args, nil
}

// StartDnsmasq runs dnsmasq (Debian package dnsmasq) in ns with config c,
// waits until it has bound its sockets, and stops it when the test ends. A
// missing dnsmasq or one that exits at start fails the test.
func StartDnsmasq(tb testing.TB, ns *Netns, c DnsmasqConfig) *Dnsmasq {
	tb.Helper()
	path, err := ToolDnsmasq.Path()
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	args, err := DnsmasqArgs(c, dir)
	if err != nil {
		tb.Fatal(err)
	}
	d := &Dnsmasq{Dir: dir, LogPath: filepath.Join(dir, "dnsmasq.log"), LeasePath: filepath.Join(dir, "dnsmasq.leases")}
	argv := append([]string{"ip", "netns", "exec", ns.Name, path}, args...)
	d.proc, err = startProcess(argv, dir, d.LogPath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := d.Stop(); err != nil {
			tb.Error(err)
		}
	})
	// dnsmasq binds its sockets before it logs "started", and exits with
	// the reason if it cannot.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.LogText(), "started, version") {
		if d.proc.hasExited() {
			tb.Fatalf("lab: dnsmasq %v at start: %v\n%s\nargs: %s", ErrExited, d.proc.err, d.LogText(), strings.Join(args, " "))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("lab: dnsmasq %v: no \"started\" line within 10s:\n%s", ErrNotReady, d.LogText())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d
}

// Stop ends dnsmasq and reports anything it left behind. It is idempotent,
// so a test may stop dnsmasq early (to take the DHCP server away, or to
// restart it with other hosts) and the cleanup still runs safely.
func (d *Dnsmasq) Stop() error {
	if err := d.proc.stop(5 * time.Second); err != nil {
		return fmt.Errorf("lab: stop dnsmasq: %w", err)
	}
	return nil
}

// LogText is dnsmasq's log so far (every DHCP exchange, with --log-dhcp).
func (d *Dnsmasq) LogText() string {
	b, _ := os.ReadFile(d.LogPath)
	return string(b)
}

// Leases is dnsmasq's lease file so far: one lease a line.
func (d *Dnsmasq) Leases() string {
	b, _ := os.ReadFile(d.LeasePath)
	return string(b)
}
