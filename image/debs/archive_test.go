package debs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// readAll reads every member of an ar archive.
func readAll(data []byte) ([]member, error) {
	a, err := newARReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var out []member
	for {
		h, err := a.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(a)
		if err != nil {
			return out, err
		}
		if int64(len(b)) != h.Size {
			return out, fmt.Errorf("member %s: read %d of %d bytes", h.Name, len(b), h.Size)
		}
		out = append(out, member{h.Name, b})
	}
}

func TestARRoundTrip(t *testing.T) {
	in := []member{{"debian-binary", []byte("2.0\n")}, {"odd", []byte("abc")}, {"empty", nil}, {"data.tar", []byte("x")}}
	got, err := readAll(arBytes(in...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d members, want %d", len(got), len(in))
	}
	for i := range in {
		if got[i].name != in[i].name || !bytes.Equal(got[i].data, in[i].data) {
			t.Errorf("member %d: %q %q, want %q %q", i, got[i].name, got[i].data, in[i].name, in[i].data)
		}
	}
}

// Next skips a member the caller did not read, padding included.
func TestARSkipsUnreadMembers(t *testing.T) {
	a, err := newARReader(bytes.NewReader(arBytes(member{"a", []byte("123")}, member{"b", []byte("45")})))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Next(); err != nil {
		t.Fatal(err)
	}
	h, err := a.Next()
	if err != nil || h.Name != "b" {
		t.Fatalf("second member %+v, %v", h, err)
	}
	if b, _ := io.ReadAll(a); string(b) != "45" {
		t.Errorf("second member reads %q", b)
	}
}

func TestARRefusesBadArchives(t *testing.T) {
	good := arBytes(member{"debian-binary", []byte("2.0\n")})
	header := func(f func(h []byte)) []byte {
		b := bytes.Clone(good)
		f(b[len(arMagic) : len(arMagic)+arHeaderLen])
		return b
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "reading magic"},
		{"bad magic", []byte("!<arch>X" + string(good[8:])), "bad magic"},
		{"truncated header", good[:len(arMagic)+30], "header at offset 8 truncated"},
		{"bad terminator", header(func(h []byte) { h[58] = 'x' }), "bad terminator"},
		{"negative size", header(func(h []byte) { copy(h[48:58], "-1        ") }), "bad size"},
		{"huge size", header(func(h []byte) { copy(h[48:58], "9999999999") }), "truncated"},
		{"text size", header(func(h []byte) { copy(h[48:58], "four      ") }), "bad size"},
		{"BSD long name", header(func(h []byte) { copy(h[0:16], "#1/20           ") }), "BSD long name"},
		{"symbol table", header(func(h []byte) { copy(h[0:16], "/               ") }), "symbol table"},
		{"control char", header(func(h []byte) { h[3] = 1 }), "bad character"},
		{"truncated data", good[:len(good)-2], "truncated"},
	}
	for _, c := range cases {
		_, err := readAll(c.data)
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrFormat containing %q", c.name, err, c.want)
		}
	}
}

// The ar reader must never panic or read past what a header declares,
// whatever the bytes.
func FuzzARReader(f *testing.F) {
	f.Add(arBytes(member{"debian-binary", []byte("2.0\n")}, member{"data.tar", []byte("odd")}))
	f.Add([]byte(arMagic))
	f.Add([]byte(arMagic + "name/           0           0     0     100644  5         `\nabcde\n"))
	f.Add(debBytes(f, "", fixtureEntries))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := readAll(data)
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error not wrapping ErrFormat: %v", err)
		}
		total := 0
		for _, m := range ms {
			total += len(m.data) + arHeaderLen
		}
		if total > len(data) {
			t.Fatalf("read %d bytes of members from %d bytes", total, len(data))
		}
		// Whatever it read must survive a round trip.
		if err == nil {
			again, err := readAll(arBytes(ms...))
			if err != nil || len(again) != len(ms) {
				t.Fatalf("round trip: %d members, %v", len(again), err)
			}
		}
		// A .deb walk over the same bytes must fail cleanly or succeed.
		_ = extract(bytes.NewReader(data), func(string, *tar.Header, io.Reader) error { return nil })
	})
}
