package tunnel

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wireguard-go is configured through the cross-platform UAPI text protocol
// (https://www.wireguard.com/xplatform/#configuration-protocol): key=value
// lines, keys in lowercase hex (not the base64 wg(8) shows), a public_key
// line starting each peer's section, durations in whole seconds.

func hexKey(k Key) string { return hex.EncodeToString(k[:]) }

// peerSection writes the lines that create or update p. replace_allowed_ips
// makes the peer's allowed IPs exactly p.AllowedIPs; without it they would
// be added to the old ones. An endpoint line is written only when p has
// one, so an endpoint the peer roamed to is kept otherwise.
func peerSection(b *strings.Builder, p Peer) {
	fmt.Fprintf(b, "public_key=%s\n", hexKey(p.PublicKey))
	b.WriteString("replace_allowed_ips=true\n")
	for _, ip := range p.AllowedIPs {
		fmt.Fprintf(b, "allowed_ip=%s\n", ip.Masked())
	}
	fmt.Fprintf(b, "persistent_keepalive_interval=%d\n", keepaliveSeconds(p.Keepalive))
	if p.Endpoint.IsValid() {
		fmt.Fprintf(b, "endpoint=%s\n", p.Endpoint)
	}
}

// keepaliveSeconds rounds up, so that a keepalive under a second is still
// on.
func keepaliveSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// deviceConfig is the whole configuration Up applies.
func deviceConfig(priv Key, listenPort int, peers []Peer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%s\n", hexKey(priv))
	fmt.Fprintf(&b, "listen_port=%d\n", listenPort)
	b.WriteString("replace_peers=true\n")
	for _, p := range peers {
		peerSection(&b, p)
	}
	return b.String()
}

// peersConfig moves the device from the peers it has to want. Peers that
// stay are updated in place rather than replaced, so their sessions, and
// the endpoints they were learned at, survive.
func peersConfig(have []PeerStatus, want []Peer) string {
	var b strings.Builder
	for _, h := range have {
		if !slices.ContainsFunc(want, func(p Peer) bool { return p.PublicKey == h.PublicKey }) {
			fmt.Fprintf(&b, "public_key=%s\nremove=true\n", hexKey(h.PublicKey))
		}
	}
	for _, p := range want {
		peerSection(&b, p)
	}
	return b.String()
}

// checkPeers rejects a peer set wireguard-go would take in a surprising
// way.
func checkPeers(peers []Peer) error {
	seen := make(map[Key]bool, len(peers))
	for i, p := range peers {
		switch {
		case p.PublicKey.IsZero():
			return fmt.Errorf("peer %d: no public key", i)
		case seen[p.PublicKey]:
			return fmt.Errorf("peer %s: listed twice", p.PublicKey)
		case keepaliveSeconds(p.Keepalive) > math.MaxUint16:
			return fmt.Errorf("peer %s: keepalive %v over 65535s", p.PublicKey, p.Keepalive)
		}
		seen[p.PublicKey] = true
		for _, ip := range p.AllowedIPs {
			if !ip.IsValid() {
				return fmt.Errorf("peer %s: invalid allowed IP", p.PublicKey)
			}
		}
	}
	return nil
}

// PeerStatus is what the device reports about one peer.
type PeerStatus struct {
	PublicKey     Key
	Endpoint      netip.AddrPort // where the peer was last heard from, or configured; zero if neither
	LastHandshake time.Time      // zero if none yet
	RxBytes       uint64
	TxBytes       uint64
	AllowedIPs    []netip.Prefix
	Keepalive     time.Duration
}

// deviceStatus is the parsed output of IpcGet.
type deviceStatus struct {
	listenPort int
	peers      []PeerStatus
}

// parseStatus parses the UAPI get output. Peers come back sorted by
// public key; wireguard-go lists them in map order.
func parseStatus(s string) (deviceStatus, error) {
	var st deviceStatus
	var cur *PeerStatus
	var sec, nsec int64
	flush := func() {
		if cur == nil {
			return
		}
		if sec != 0 || nsec != 0 {
			cur.LastHandshake = time.Unix(sec, nsec)
		}
		st.peers = append(st.peers, *cur)
		cur, sec, nsec = nil, 0, 0
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return deviceStatus{}, fmt.Errorf("uapi: line %q: no '='", line)
		}
		if key == "public_key" {
			flush()
			cur = new(PeerStatus)
		}
		var err error
		if cur == nil {
			if key == "listen_port" {
				st.listenPort, err = strconv.Atoi(val)
			}
		} else {
			err = parsePeerLine(cur, key, val, &sec, &nsec)
		}
		if err != nil {
			return deviceStatus{}, fmt.Errorf("uapi: %s: %w", key, err)
		}
	}
	flush()
	slices.SortFunc(st.peers, func(a, b PeerStatus) int { return slices.Compare(a.PublicKey[:], b.PublicKey[:]) })
	return st, sc.Err()
}

func parsePeerLine(p *PeerStatus, key, val string, sec, nsec *int64) error {
	var err error
	switch key {
	case "public_key":
		var b []byte
		b, err = hex.DecodeString(val)
		if err == nil && len(b) != len(p.PublicKey) {
			err = fmt.Errorf("%d bytes, want 32", len(b))
		}
		copy(p.PublicKey[:], b)
	case "endpoint":
		p.Endpoint, err = netip.ParseAddrPort(val)
	case "last_handshake_time_sec":
		*sec, err = strconv.ParseInt(val, 10, 64)
	case "last_handshake_time_nsec":
		*nsec, err = strconv.ParseInt(val, 10, 64)
	case "rx_bytes":
		p.RxBytes, err = strconv.ParseUint(val, 10, 64)
	case "tx_bytes":
		p.TxBytes, err = strconv.ParseUint(val, 10, 64)
	case "persistent_keepalive_interval":
		var n uint64
		n, err = strconv.ParseUint(val, 10, 16)
		p.Keepalive = time.Duration(n) * time.Second
	case "allowed_ip":
		var ip netip.Prefix
		ip, err = netip.ParsePrefix(val)
		p.AllowedIPs = append(p.AllowedIPs, ip)
	}
	return err
}
