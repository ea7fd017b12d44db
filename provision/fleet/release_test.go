package fleet

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func release(board string, build uint64) Release {
	return Release{Board: board, Version: "v1.2.3", Build: build,
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
		{"older build after", release("rpi", 1), nil, nil},
		{"other board", release("brix", 1), nil, nil},
		{"duplicate", release("rpi", 2), ErrExists, nil},
		{"empty", Release{}, nil, []string{"board", "version", "build", "bundle", "sha256"}},
		{"short sha", func() Release { r := release("rpi", 3); r.SHA256 = "abcd"; return r }(), nil, []string{"sha256"}},
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
}
