package authdns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func mustZone(t testing.TB, origin, text string) *Zone {
	t.Helper()
	z, err := ParseZone(strings.NewReader(text), origin, origin)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestZonesFind(t *testing.T) {
	zs := NewZones()
	com := mustZone(t, "example.com.", soaLine)
	sub := mustZone(t, "a.example.com.", soaLine)
	root := mustZone(t, ".", soaLine)
	if err := zs.Add(com, sub); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]*Zone{
		"example.com.": com, "EXAMPLE.com.": com, "x.y.example.com.": com,
		"a.example.com.": sub, "b.A.example.com.": sub, "ba.example.com.": com,
		"example.org.": nil, "com.": nil, ".": nil,
	} {
		if got := zs.Find(q); got != want {
			t.Errorf("Find(%s) = %v, want %v", q, got, want)
		}
	}
	if err := zs.Add(mustZone(t, "EXAMPLE.COM", soaLine)); !errors.Is(err, ErrZoneExists) {
		t.Errorf("duplicate Add: %v", err)
	}
	zs.Replace(root)
	if got := zs.Find("example.org."); got != root {
		t.Errorf("root zone not found: %v", got)
	}
	if old := zs.Remove("a.example.com"); old != sub || zs.Find("b.a.example.com.") != com || zs.Len() != 2 {
		t.Errorf("Remove: %v, Find %v, Len %d", old, zs.Find("b.a.example.com."), zs.Len())
	}
	v2 := mustZone(t, "example.com.", strings.Replace(soaLine, " 42 ", " 43 ", 1))
	if old := zs.Replace(v2); old != com || zs.Get("example.com").Serial() != 43 {
		t.Errorf("Replace returned %v, serial now %d", old, zs.Get("example.com").Serial())
	}
}

// TestZonesSwapUnderLoad swaps a zone back and forth and adds and removes
// others while readers query it: every query must be answered from one of
// the two versions, never REFUSED or half-built.
func TestZonesSwapUnderLoad(t *testing.T) {
	defer goleak.VerifyNone(t)
	v := [2]*Zone{
		mustZone(t, "example.com.", soaLine+"www 60 IN A 192.0.2.1\n"),
		mustZone(t, "example.com.", strings.Replace(soaLine, " 42 ", " 43 ", 1)+"www 60 IN A 192.0.2.2\n"),
	}
	zs := NewZones()
	if err := zs.Add(v[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			m := new(dns.Msg)
			m.SetQuestion("www.example.com.", dns.TypeA)
			for ctx.Err() == nil {
				r := zs.Answer(m, false)
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					errs <- fmt.Errorf("bad answer during swap: %v", r)
					return
				}
			}
		})
	}
	for i := range 2000 {
		zs.Replace(v[i%2])
		other := mustZone(t, fmt.Sprintf("z%d.test.", i), soaLine)
		if err := zs.Add(other); err != nil {
			t.Fatal(err)
		}
		zs.Remove(other.Origin())
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestZonesServfail(t *testing.T) {
	zs := NewZones()
	com := mustZone(t, "example.com.", soaLine)
	sub := mustZone(t, "a.example.com.", soaLine)
	if err := zs.Add(com, sub); err != nil {
		t.Fatal(err)
	}
	rcode := func(name string) int {
		return zs.Lookup(Question{Name: name, Type: dns.TypeSOA, Class: dns.ClassINET}).Rcode
	}
	gen := zs.Generation()
	zs.SetServfail("A.example.com.", true)
	if zs.Generation() == gen {
		t.Error("SetServfail did not change the generation")
	}
	if got := rcode("x.a.example.com."); got != dns.RcodeServerFailure {
		t.Errorf("expired zone: rcode %s, want SERVFAIL (not the parent's answer)", dns.RcodeToString[got])
	}
	if got := rcode("example.com."); got != dns.RcodeSuccess {
		t.Errorf("parent: rcode %s", dns.RcodeToString[got])
	}
	// A zone configured but never transferred.
	zs.SetServfail("pending.test.", true)
	if got := rcode("www.pending.test."); got != dns.RcodeServerFailure {
		t.Errorf("pending zone: rcode %s", dns.RcodeToString[got])
	}
	if !zs.Servfail("pending.test.") || zs.Get("pending.test.") != nil {
		t.Error("pending zone state")
	}
	// Fresh data clears the mark.
	gen = zs.Generation()
	zs.Replace(mustZone(t, "a.example.com.", soaLine))
	if zs.Generation() == gen || zs.Servfail("a.example.com.") {
		t.Error("Replace did not clear SERVFAIL or change the generation")
	}
	if got := rcode("a.example.com."); got != dns.RcodeSuccess {
		t.Errorf("after Replace: rcode %s", dns.RcodeToString[got])
	}
	zs.Remove("pending.test.")
	if got := rcode("www.pending.test."); got != dns.RcodeRefused {
		t.Errorf("removed zone: rcode %s", dns.RcodeToString[got])
	}
}
