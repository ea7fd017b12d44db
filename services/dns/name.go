package authdns

import (
	"strings"

	"github.com/miekg/dns"
)

// lower returns the lookup key for a name: ASCII lowercase, fully
// qualified. strings.ToLower returns s itself when there is nothing to
// change, so the common all-lowercase query costs no allocation.
func lower(s string) string {
	return strings.ToLower(dns.Fqdn(s))
}

// parent returns the name one label up, and false at the root. It walks
// the presentation format, so an escaped dot ("a\.b.example.") is not a
// label boundary.
func parent(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '.':
			if i+1 >= len(s) {
				if i == 0 {
					return "", false // s is the root
				}
				return ".", true
			}
			return s[i+1:], true
		}
	}
	return "", false
}

// firstLabel returns the first label of s in presentation format.
func firstLabel(s string) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '.':
			return s[:i]
		}
	}
	return s
}

// isWildcard reports whether the first label of s is "*".
func isWildcard(s string) bool {
	return len(s) >= 2 && s[0] == '*' && s[1] == '.'
}

// childOf returns the ancestor of name that is one label below anc,
// which must be a proper ancestor of name: the "next closer name" of
// RFC 5155 when anc is the closest encloser.
func childOf(name, anc string) string {
	for {
		p, ok := parent(name)
		if !ok || len(p) <= len(anc) {
			return name
		}
		name = p
	}
}

// canonicalKey maps a name to a byte string whose bytewise order is the
// canonical DNS name order of RFC 4034 section 6.1: labels compared from
// the root down, each as lowercased octets. Labels are written root first,
// each ended by 0x00; bytes 0x00 and 0x01 inside a label are escaped as
// 0x01 0x01 and 0x01 0x02 so that the terminator sorts below everything.
func canonicalKey(name string) string {
	var wire [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), wire[:], 0, nil, false)
	if err != nil {
		return strings.ToLower(name) // unreachable for names that unpacked or parsed
	}
	var offs [128]int
	nl := 0
	for off := 0; off < n && wire[off] != 0; off += int(wire[off]) + 1 {
		offs[nl] = off
		nl++
	}
	key := make([]byte, 0, n+8)
	for i := nl - 1; i >= 0; i-- {
		l := int(wire[offs[i]])
		for _, c := range wire[offs[i]+1 : offs[i]+1+l] {
			switch {
			case c == 0:
				key = append(key, 1, 1)
			case c == 1:
				key = append(key, 1, 2)
			case 'A' <= c && c <= 'Z':
				key = append(key, c+'a'-'A')
			default:
				key = append(key, c)
			}
		}
		key = append(key, 0)
	}
	return string(key)
}

// wildcardOf returns the wildcard name directly below name.
func wildcardOf(name string) string {
	if name == "." {
		return "*."
	}
	return "*." + name
}
