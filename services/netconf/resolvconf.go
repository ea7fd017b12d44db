package netconf

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// resolvConfText is resolv.conf naming servers; link-local servers are left
// out, since resolv.conf has no way to say which port they are on.
func resolvConfText(servers []netip.Addr) string {
	var b strings.Builder
	b.WriteString("# Written by goleudy's network service from DHCP or the seed's static settings.\n")
	n := 0
	seen := map[netip.Addr]bool{}
	for _, s := range servers {
		if !s.IsValid() || s.IsLinkLocalUnicast() || seen[s] {
			continue
		}
		seen[s] = true
		fmt.Fprintf(&b, "nameserver %s\n", s)
		n++
	}
	if n == 0 {
		return ""
	}
	return b.String()
}

// writeFileAtomic replaces path, so a reader never sees half a file.
func writeFileAtomic(path, text string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// resolvConfLocked writes Options.ResolvConf when the OOB's DNS servers
// change. With no servers known it leaves the file as it is.
func (m *Manager) resolvConfLocked(rs *runState) {
	if m.o.ResolvConf == "" {
		return
	}
	text := resolvConfText(m.dnsLocked(rs))
	if text == "" || text == rs.resolv {
		return
	}
	if err := writeFileAtomic(m.o.ResolvConf, text); err != nil {
		m.log.Error("cannot write resolv.conf", "path", m.o.ResolvConf, "err", err)
		return
	}
	rs.resolv = text
	m.log.Info("wrote resolv.conf", "path", m.o.ResolvConf)
}
