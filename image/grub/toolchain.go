package grub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Extractor unpacks the data of the .deb at debPath into dir, keeping the
// package's paths (dir/usr/bin/grub-mkimage). The image builder passes
// image/debs.ExtractTo.
type Extractor func(debPath, dir string) error

// Debs are the fetched, verified packages the toolchain is made from.
type Debs struct {
	Common string   // grub-common (host arch): grub-mkimage, grub-editenv
	PC     string   // grub-pc-bin: i386-pc modules and boot.img; "" if no BIOS board is built
	EFI    string   // grub-efi-amd64-bin: x86_64-efi modules; "" if no UEFI board is built
	Libs   []string // shared libraries the tools need that the host may lack, e.g. libdevmapper1.02.1
}

// Paths inside the unpacked packages.
const (
	mkimagePath  = "usr/bin/grub-mkimage"
	editenvPath  = "usr/bin/grub-editenv"
	moduleDir    = "usr/lib/grub"
	bootImgName  = "boot.img"
	toolsMissing = "the grub-common package"
)

// ErrNoPlatform is returned when the toolchain lacks the modules of the
// platform asked for: its package was not given to Extract.
var ErrNoPlatform = errors.New("grub: platform modules not unpacked")

// Toolchain is GRUB's tools and modules unpacked into a directory.
type Toolchain struct {
	Root    string   // the directory the packages were unpacked into
	libDirs []string // directories holding the unpacked shared libraries
}

// Extract unpacks debs into dir (which it creates) and checks that
// grub-mkimage runs from there, so that a library missing on this host is
// reported now, by name, rather than halfway through an image build.
func Extract(ctx context.Context, dir string, debs Debs, extract Extractor) (*Toolchain, error) {
	if extract == nil {
		return nil, errors.New("grub: extract toolchain: no Extractor")
	}
	if debs.Common == "" {
		return nil, errors.New("grub: extract toolchain: Debs.Common (grub-common) is required")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("grub: extract toolchain: %w", err)
	}
	all := append([]string{debs.Common, debs.PC, debs.EFI}, debs.Libs...)
	for _, deb := range all {
		if deb == "" {
			continue
		}
		if err := extract(deb, dir); err != nil {
			return nil, fmt.Errorf("grub: extract %s: %w", filepath.Base(deb), err)
		}
	}
	t, err := Open(dir)
	if err != nil {
		return nil, err
	}
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Open uses packages already unpacked into dir, as Extract left them.
func Open(dir string) (*Toolchain, error) {
	t := &Toolchain{Root: dir}
	if _, err := os.Stat(filepath.Join(dir, mkimagePath)); err != nil {
		return nil, fmt.Errorf("grub: toolchain in %s: no %s; unpack %s there: %w", dir, mkimagePath, toolsMissing, err)
	}
	dirs, err := libDirs(dir)
	if err != nil {
		return nil, fmt.Errorf("grub: toolchain in %s: %w", dir, err)
	}
	t.libDirs = dirs
	return t, nil
}

// libDirs finds the directories of the unpacked tree that hold shared
// libraries (lib/x86_64-linux-gnu, usr/lib/x86_64-linux-gnu, ...), so that
// any pinned library package works whatever its layout.
func libDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), "grub") {
			return fs.SkipDir // the module trees hold no host libraries
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "lib") && strings.Contains(d.Name(), ".so") {
			dir := filepath.Dir(path)
			if !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	slices.Sort(dirs)
	return dirs, err
}

// Command returns a command that runs one of the unpacked tools (a path
// relative to Root, such as "usr/bin/grub-editenv") with the unpacked
// libraries on LD_LIBRARY_PATH and a fixed locale, so that its output
// does not depend on the caller's environment.
func (t *Toolchain) Command(ctx context.Context, tool string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(t.Root, tool), args...)
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C",
		"LD_LIBRARY_PATH=" + strings.Join(t.libDirs, ":"),
	}
	return cmd
}

// Editenv is the path, relative to Root, of grub-editenv.
const Editenv = editenvPath

// run runs a tool and returns a clear error with its stderr.
func (t *Toolchain) run(ctx context.Context, tool string, args ...string) error {
	cmd := t.Command(ctx, tool, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "error while loading shared libraries") {
			msg += " (pin the Debian package that ships this library in the board table's tools and pass it in Debs.Libs)"
		}
		return fmt.Errorf("grub: %s %s: %w: %s", filepath.Base(tool), strings.Join(args, " "), err, msg)
	}
	return nil
}

func (t *Toolchain) check(ctx context.Context) error {
	return t.run(ctx, mkimagePath, "--version")
}

// platformDir returns the module directory of a platform, or
// ErrNoPlatform.
func (t *Toolchain) platformDir(p Platform) (string, error) {
	dir := filepath.Join(t.Root, moduleDir, string(p))
	if _, err := os.Stat(filepath.Join(dir, "moddep.lst")); err != nil {
		return "", fmt.Errorf("%w: %s (no %s; give its package to Extract)", ErrNoPlatform, p, filepath.Join(moduleDir, string(p), "moddep.lst"))
	}
	return dir, nil
}
