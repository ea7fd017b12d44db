package lab

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// Zone is one zone a lab server serves: its origin and its master-file
// text, given inline or as a file. Servers always get their own copy, so a
// server that writes next to its zone file (NSD's .ixfr files) never
// touches the original.
type Zone struct {
	Name string // origin, fully qualified: "example.test."
	Text string // master-file text; when empty, Path is read
	Path string
}

// Content returns the zone's master-file text.
func (z Zone) Content() (string, error) {
	if z.Text != "" || z.Path == "" {
		return z.Text, nil
	}
	b, err := os.ReadFile(z.Path)
	if err != nil {
		return "", fmt.Errorf("lab: zone %s: %w", z.Name, err)
	}
	return string(b), nil
}

// RRs parses the zone.
func (z Zone) RRs() ([]dns.RR, error) {
	text, err := z.Content()
	if err != nil {
		return nil, err
	}
	return ParseZone(text, z.Name)
}

// ParseZone parses master-file text with origin as the default origin.
func ParseZone(text, origin string) ([]dns.RR, error) {
	zp := dns.NewZoneParser(strings.NewReader(text), dns.Fqdn(origin), "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("lab: parse zone %s: %w", origin, err)
	}
	return rrs, nil
}

// soa returns the zone's SOA record, reading no further than it. Servers
// are ready when they answer with this serial, and a 1M-record zone should
// not be parsed just to learn it.
func (z Zone) soa() (*dns.SOA, error) {
	var r io.Reader
	if z.Text != "" || z.Path == "" {
		r = strings.NewReader(z.Text)
	} else {
		f, err := os.Open(z.Path)
		if err != nil {
			return nil, fmt.Errorf("lab: zone %s: %w", z.Name, err)
		}
		defer f.Close()
		r = f
	}
	zp := dns.NewZoneParser(r, dns.Fqdn(z.Name), "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			return soa, nil
		}
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("lab: parse zone %s: %w", z.Name, err)
	}
	return nil, fmt.Errorf("lab: zone %s: %w", z.Name, ErrNoSOA)
}

// fileName is the zone's file name in a server's zones directory: the
// origin without its final dot, plus ".zone" ("root.zone" for the root).
// Commands started with StartCommand rely on this to learn each origin.
func (z Zone) fileName() string {
	name := strings.TrimSuffix(dns.Fqdn(z.Name), ".")
	if name == "" {
		name = "root"
	}
	return strings.ReplaceAll(name, "/", "_") + ".zone"
}

// write copies the zone into dir and returns the file's path.
func (z Zone) write(dir string) (string, error) {
	path := filepath.Join(dir, z.fileName())
	if z.Text == "" && z.Path != "" {
		return path, copyFile(z.Path, path)
	}
	if err := os.WriteFile(path, []byte(z.Text), 0o644); err != nil {
		return "", fmt.Errorf("lab: write zone %s: %w", z.Name, err)
	}
	return path, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("lab: copy zone: %w", err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return fmt.Errorf("lab: copy zone: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("lab: copy zone %s: %w", from, err)
	}
	return out.Close()
}
