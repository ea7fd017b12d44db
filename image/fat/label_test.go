package fat

import (
	"bytes"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/tools/lab"
)

// TestRelabel renames a slot volume as the update agent does, and
// dosfstools agrees: fatlabel reads the new name, fsck finds nothing
// wrong, and the files are untouched.
func TestRelabel(t *testing.T) {
	files := bootFiles()
	f := image(t, 64*mib)
	if err := build(t, Options{Label: "GOLEUDY_A", Time: epoch}, files).Write(f, 0, 64*mib); err != nil {
		t.Fatal(err)
	}
	if err := Relabel(f, 0, 64*mib, "GOLEUDY_B"); err != nil {
		t.Fatal(err)
	}
	v, err := Open(f, 0, 64*mib)
	if err != nil {
		t.Fatal(err)
	}
	if v.Label() != "GOLEUDY_B" {
		t.Errorf("label %q after relabel", v.Label())
	}
	for name, want := range files {
		if got, err := v.ReadFile(name); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after relabel: %v", name, err)
		}
	}
	fsck(t, f.Name(), 0, 64*mib)
	if out := tool(t, lab.Tool{Name: "fatlabel", Package: "dosfstools"}, f.Name()); strings.TrimSpace(out) != "GOLEUDY_B" {
		t.Errorf("fatlabel reads %q", out)
	}
	if err := Relabel(f, 0, 64*mib, "lower case?"); err == nil || !strings.Contains(err.Error(), "relabel") {
		t.Errorf("bad label: %v", err)
	}
}
