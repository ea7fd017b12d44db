package boards

import (
	"encoding/hex"
	"fmt"
	"path"
	"strings"
)

// Suite is the Debian release every pin comes from.
const Suite = "bookworm"

// Package is one Debian binary package, pinned as the archive's Packages
// index describes it. Filename is the path below the mirror's base URI,
// so the package is at MIRROR/Filename, and the cache keeps it under
// Filename's base name.
type Package struct {
	Name     string // e.g. linux-image-6.1.0-56-amd64
	Version  string // Debian version, with any epoch: 2:1.02.185-2
	Arch     string // Debian architecture: amd64, i386, armel, arm64, all
	Filename string // pool path, e.g. pool/main/l/lvm2/libdevmapper1.02.1_1.02.185-2_amd64.deb
	SHA256   string // lower-case hex, 64 digits
	Size     int64  // bytes
}

// String names the package as apt does: name_version_arch.
func (p Package) String() string { return p.Name + "_" + p.Version + "_" + p.Arch }

// Base is the file name the package has in a mirror and in the cache.
func (p Package) Base() string { return path.Base(p.Filename) }

// Check reports the first thing wrong with the pin itself: a field
// missing, a sha256 that is not 64 lower-case hex digits, or a pool path
// that does not name this package, version and architecture. It does not
// look at the package's content.
func (p Package) Check() error {
	switch {
	case p.Name == "":
		return fmt.Errorf("package: no name")
	case p.Version == "" || p.Arch == "":
		return fmt.Errorf("package %s: version and architecture must be set", p.Name)
	case p.Size <= 0:
		return fmt.Errorf("package %s: size must be positive, is %d", p, p.Size)
	}
	if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 || strings.ToLower(p.SHA256) != p.SHA256 {
		return fmt.Errorf("package %s: sha256 %q is not 64 lower-case hex digits", p, p.SHA256)
	}
	return p.checkFilename()
}

// checkFilename holds the pool layout: pool/[updates/]COMPONENT/PREFIX/
// SOURCE/NAME_VERSION_ARCH.deb, where VERSION has no epoch and PREFIX is
// the source's first letter, or lib and the next letter for lib* sources.
func (p Package) checkFilename() error {
	want := p.Name + "_" + FileVersion(p.Version) + "_" + p.Arch + ".deb"
	if p.Base() != want {
		return fmt.Errorf("package %s: pool path %q should end in %q", p, p.Filename, want)
	}
	parts := strings.Split(p.Filename, "/")
	if len(parts) == 6 && parts[1] == "updates" {
		parts = append(parts[:1], parts[2:]...)
	}
	if len(parts) != 5 || parts[0] != "pool" {
		return fmt.Errorf("package %s: pool path %q is not pool/[updates/]COMPONENT/PREFIX/SOURCE/FILE", p, p.Filename)
	}
	component, prefix, source := parts[1], parts[2], parts[3]
	switch component {
	case "main", "contrib", "non-free", "non-free-firmware":
	default:
		return fmt.Errorf("package %s: pool path %q: unknown component %q", p, p.Filename, component)
	}
	wantPrefix := source[:1]
	if strings.HasPrefix(source, "lib") && len(source) > 3 {
		wantPrefix = source[:4]
	}
	if prefix != wantPrefix {
		return fmt.Errorf("package %s: pool path %q: source %q belongs under %q, not %q", p, p.Filename, source, wantPrefix, prefix)
	}
	return nil
}

// FileVersion is a Debian version as it appears in a pool file name,
// which leaves out the epoch: 2:1.02.185-2 is 1.02.185-2.
func FileVersion(v string) string {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		return rest
	}
	return v
}
