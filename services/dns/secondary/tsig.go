package secondary

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
)

// tsigKey is a configured TSIG key, ready for miekg/dns.
type tsigKey struct {
	name   string // canonical, fully qualified
	alg    string // canonical algorithm name, e.g. "hmac-sha256."
	secret string // base64, as miekg/dns wants it
	raw    []byte
}

const tsigFudge = 300

func newTSIGKey(k config.TSIGKey) (tsigKey, error) {
	raw, err := base64.StdEncoding.DecodeString(k.Secret)
	if err != nil {
		return tsigKey{}, fmt.Errorf("dns: TSIG key %s: secret: %w", k.Name, err)
	}
	alg := dns.CanonicalName(k.Algorithm)
	if newHash(alg) == nil {
		return tsigKey{}, fmt.Errorf("dns: TSIG key %s: unsupported algorithm %q", k.Name, k.Algorithm)
	}
	return tsigKey{name: dns.CanonicalName(k.Name), alg: alg, secret: k.Secret, raw: raw}, nil
}

func newHash(alg string) func() hash.Hash {
	switch alg {
	case dns.HmacSHA1:
		return sha1.New
	case dns.HmacSHA224:
		return sha256.New224
	case dns.HmacSHA256:
		return sha256.New
	case dns.HmacSHA384:
		return sha512.New384
	case dns.HmacSHA512:
		return sha512.New
	}
	return nil
}

// sign packs m with a TSIG signature. requestMAC is the MAC of the request
// when m is a response; timersOnly is for the second and later messages
// of a transfer. It returns the wire message and its MAC.
func (k tsigKey) sign(m *dns.Msg, requestMAC string, timersOnly bool) ([]byte, string, error) {
	m.SetTsig(k.name, k.alg, tsigFudge, time.Now().Unix())
	return dns.TsigGenerate(m, k.secret, requestMAC, timersOnly)
}

// verify checks the TSIG of a single message (a request, or the answer to
// one) and returns its MAC.
func (k tsigKey) verify(wire []byte, m *dns.Msg, requestMAC string) (string, error) {
	t := m.IsTsig()
	if t == nil {
		return "", fmt.Errorf("%w: message not signed", ErrTSIG)
	}
	if dns.CanonicalName(t.Hdr.Name) != k.name || dns.CanonicalName(t.Algorithm) != k.alg {
		return "", fmt.Errorf("%w: signed with key %s, want %s", ErrTSIG, t.Hdr.Name, k.name)
	}
	// TsigVerify rewrites the header of its argument.
	if err := dns.TsigVerify(append([]byte(nil), wire...), k.secret, requestMAC, false); err != nil {
		return "", fmt.Errorf("%w: %v", ErrTSIG, err)
	}
	return t.MAC, nil
}

// streamVerifier checks the TSIG signatures of a multi-message transfer
// (RFC 8945 section 5.3.1). Servers may leave up to 99 messages in a row
// unsigned (NSD signs every 96th); the MAC of the next signed message then
// covers all of them, which miekg/dns does not implement, so the chain is
// kept here: prior MAC, the unsigned messages, the signed message without
// its TSIG, then the timers.
type streamVerifier struct {
	key      tsigKey
	mac      string   // hex MAC of the last signed message (or the request)
	first    bool     // the next signed message is the first response
	unsigned [][]byte // messages since the last signed one
}

const maxUnsigned = 99

func newStreamVerifier(k tsigKey, requestMAC string) *streamVerifier {
	return &streamVerifier{key: k, mac: requestMAC, first: true}
}

// next verifies one message of the stream.
func (v *streamVerifier) next(wire []byte, m *dns.Msg) error {
	t := m.IsTsig()
	if t == nil {
		if v.first {
			return fmt.Errorf("%w: first message not signed", ErrTSIG)
		}
		if len(v.unsigned) >= maxUnsigned {
			return fmt.Errorf("%w: more than %d unsigned messages", ErrTSIG, maxUnsigned)
		}
		v.unsigned = append(v.unsigned, wire)
		return nil
	}
	if dns.CanonicalName(t.Hdr.Name) != v.key.name {
		return fmt.Errorf("%w: signed with key %s, want %s", ErrTSIG, t.Hdr.Name, v.key.name)
	}
	p := &chainProvider{key: v.key, prefix: 2 + len(v.mac)/2, unsigned: v.unsigned}
	err := dns.TsigVerifyWithProvider(append([]byte(nil), wire...), p, v.mac, !v.first)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTSIG, err)
	}
	v.mac, v.first, v.unsigned = t.MAC, false, nil
	return nil
}

// done reports an error if the stream ended with unsigned messages: the
// last message of a transfer must be signed.
func (v *streamVerifier) done() error {
	if len(v.unsigned) > 0 || v.first {
		return fmt.Errorf("%w: last message not signed", ErrTSIG)
	}
	return nil
}

// chainProvider verifies a MAC over miekg/dns's buffer (prior MAC, this
// message, timers) with the unsigned messages spliced in after the prior
// MAC.
type chainProvider struct {
	key      tsigKey
	prefix   int // length of the prior MAC field in the buffer
	unsigned [][]byte
}

func (p *chainProvider) Generate(buf []byte, _ *dns.TSIG) ([]byte, error) {
	h := hmac.New(newHash(p.key.alg), p.key.raw)
	pre := min(p.prefix, len(buf))
	h.Write(buf[:pre])
	for _, u := range p.unsigned {
		h.Write(u)
	}
	h.Write(buf[pre:])
	return h.Sum(nil), nil
}

func (p *chainProvider) Verify(buf []byte, t *dns.TSIG) error {
	if dns.CanonicalName(t.Algorithm) != p.key.alg {
		return dns.ErrKeyAlg
	}
	mac, err := p.Generate(buf, t)
	if err != nil {
		return err
	}
	want, err := hex.DecodeString(t.MAC)
	if err != nil {
		return err
	}
	if !hmac.Equal(mac, want) {
		return dns.ErrSig
	}
	return nil
}
