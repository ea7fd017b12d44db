package fleet

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func release(board string, build uint64) Release {
	return Release{Board: board, Version: "v1.2." + strconv.FormatUint(build, 10), Build: build, Size: 4096,
		Bundle: "/var/lib/goleudy/releases/" + board + ".bundle", SHA256: strings.Repeat("ab", 32)}
}

func TestReleases(t *testing.T) {
	s := newStore(t)
	tests := []struct {
		name   string
		r      Release
		want   error
		fields []string
	}{
		{"valid", release("rpi", 2), nil, nil},
		{"older build after", release("rpi", 1), ErrBuildOrder, nil},
		{"older build, a signed downgrade", func() Release { r := release("rpi", 1); r.Downgrade = true; return r }(), nil, nil},
		{"other board", release("brix", 1), nil, nil},
		{"duplicate", release("rpi", 2), ErrExists, nil},
		{"same version, other build", func() Release { r := release("rpi", 3); r.Version = "v1.2.2"; return r }(), ErrExists, nil},
		{"empty", Release{}, nil, []string{"board", "version", "build", "bundle", "sha256", "size"}},
		{"short sha", func() Release { r := release("rpi", 3); r.SHA256 = "abcd"; return r }(), nil, []string{"sha256"}},
		{"upper-case sha", func() Release { r := release("rpi", 3); r.SHA256 = strings.Repeat("AB", 32); return r }(), nil, []string{"sha256"}},
		{"bad version", func() Release { r := release("rpi", 3); r.Version = "v 1/2"; return r }(), nil, []string{"version"}},
	}
	for _, tt := range tests {
		err := s.AddRelease("ci", tt.r)
		switch {
		case tt.want != nil:
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
			}
		case tt.fields != nil:
			if !reflect.DeepEqual(fieldPaths(err), tt.fields) {
				t.Errorf("%s: got %v, want paths %q", tt.name, err, tt.fields)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	got, err := s.Releases("rpi")
	if err != nil || len(got) != 2 || got[0].Build != 1 || got[1].Build != 2 {
		t.Fatalf("Releases(rpi) = %+v, %v", got, err)
	}
	if all, _ := s.Releases(""); len(all) != 3 || all[0].Board != "brix" {
		t.Fatalf("Releases() = %+v", all)
	}
	if r, err := s.Release("rpi", 2); err != nil || r.Version != "v1.2.2" {
		t.Fatalf("Release(rpi, 2) = %+v, %v", r, err)
	}
	if _, err := s.Release("rpi", 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Release(rpi, 9): %v", err)
	}
	if rs, _ := s.Releases("rp"); len(rs) != 0 {
		t.Fatalf("Releases(rp) = %+v: a prefix of a board name is not the board", rs)
	}
}
