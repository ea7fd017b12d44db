package secondary

import (
	"errors"
	"testing"

	"github.com/miekg/dns"
)

// TestStreamVerifierUnsignedRun signs a transfer as RFC 8945 section
// 5.3.1 allows: first and last message signed, the ones between not. Each
// signed MAC covers the prior MAC and every message since.
func TestStreamVerifierUnsignedRun(t *testing.T) {
	k, err := newTSIGKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	req := new(dns.Msg)
	req.SetAxfr("example.com.")
	_, reqMAC, err := k.sign(req, "", false)
	if err != nil {
		t.Fatal(err)
	}
	stream := msgs(genRecords("example.com.", 1, 50), 5) // 10 messages
	var wires [][]byte
	mac := reqMAC
	var unsigned [][]byte
	for i, m := range stream {
		m.Id = req.Id
		if i == 0 || i == len(stream)-1 || i == 6 {
			m.SetTsig(k.name, k.alg, tsigFudge, 0)
			p := &chainProvider{key: k, prefix: 2 + len(mac)/2, unsigned: unsigned}
			b, newMAC, err := dns.TsigGenerateWithProvider(m, p, mac, i > 0)
			if err != nil {
				t.Fatal(err)
			}
			wires, mac, unsigned = append(wires, b), newMAC, nil
			continue
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		wires = append(wires, b)
		unsigned = append(unsigned, b)
	}

	verify := func(wires [][]byte) error {
		v := newStreamVerifier(k, reqMAC)
		for _, b := range wires {
			m := new(dns.Msg)
			if err := m.Unpack(b); err != nil {
				return err
			}
			if err := v.next(b, m); err != nil {
				return err
			}
		}
		return v.done()
	}
	if err := verify(wires); err != nil {
		t.Fatalf("valid stream: %v", err)
	}
	// Change one byte of an unsigned message: the next MAC fails.
	bad := make([][]byte, len(wires))
	copy(bad, wires)
	bad[3] = append([]byte(nil), wires[3]...)
	bad[3][len(bad[3])-1] ^= 1
	if err := verify(bad); !errors.Is(err, ErrTSIG) {
		t.Fatalf("tampered unsigned message: err = %v, want ErrTSIG", err)
	}
	// Drop the last (signed) message: the stream ends unsigned.
	if err := verify(wires[:len(wires)-2]); !errors.Is(err, ErrTSIG) {
		t.Fatalf("stream ending unsigned: err = %v, want ErrTSIG", err)
	}
	// An unsigned first message is refused.
	if err := verify(wires[1:]); !errors.Is(err, ErrTSIG) {
		t.Fatalf("unsigned first message: err = %v, want ErrTSIG", err)
	}
}
