package grub_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/grub/grubtest"
)

// TestBuildReproducible builds both images twice with Debian's
// grub-mkimage and checks they are byte-identical, carry the early config
// and have the shape their firmware expects.
func TestBuildReproducible(t *testing.T) {
	tc := grubtest.Toolchain(t)
	ctx := context.Background()
	c := grub.Config{BIOSFallback: "(hd0,msdos1)", Serial: grub.SerialFromConsole("ttyS0,115200")}
	bios1, err := tc.BuildBIOS(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	bios2, err := tc.BuildBIOS(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bios1.Core, bios2.Core) || !bytes.Equal(bios1.Boot, bios2.Boot) {
		t.Error("two BIOS builds differ")
	}
	efi1, err := tc.BuildEFI(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	efi2, err := tc.BuildEFI(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(efi1, efi2) {
		t.Error("two EFI builds differ")
	}
	if !bytes.HasPrefix(efi1, []byte("MZ")) {
		t.Errorf("BOOTX64.EFI does not start with MZ: % x", efi1[:4])
	}
	early, _ := c.Early()
	// The i386-pc core is compressed; the EFI image holds the config as is.
	if !bytes.Contains(efi1, []byte(early)) {
		t.Error("BOOTX64.EFI lacks the early config")
	}
	other, err := tc.BuildEFI(ctx, grub.Config{BootLabel: "OTHER"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, efi1) {
		t.Error("a different early config gave the same image")
	}
	if _, err := grub.InstallBIOS(mbrDisk(2048), bios1); err != nil {
		t.Fatalf("the real core.img does not install: %v", err)
	}
	t.Logf("core.img %d bytes, boot.img %d bytes, BOOTX64.EFI %d bytes", len(bios1.Core), len(bios1.Boot), len(efi1))
}

func TestExtractErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := grub.Extract(ctx, dir, grub.Debs{}, grubtest.DpkgExtract); err == nil || !strings.Contains(err.Error(), "grub-common") {
		t.Fatalf("no grub-common: %v", err)
	}
	if _, err := grub.Extract(ctx, dir, grub.Debs{Common: "x.deb"}, nil); err == nil || !strings.Contains(err.Error(), "Extractor") {
		t.Fatalf("no extractor: %v", err)
	}
	boom := errors.New("boom")
	_, err := grub.Extract(ctx, dir, grub.Debs{Common: "/cache/grub-common.deb"},
		func(string, string) error { return boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "grub-common.deb") {
		t.Fatalf("failing extractor: %v", err)
	}
	if _, err := grub.Open(dir); err == nil || !strings.Contains(err.Error(), "usr/bin/grub-mkimage") {
		t.Fatalf("Open of an empty dir: %v", err)
	}

	// A toolchain with only grub-common builds neither platform, and says
	// which package is missing.
	common := filepath.Join(t.TempDir(), "common")
	tc, err := grub.Extract(ctx, common, grub.Debs{
		Common: grubtest.CachedDeb(t, "grub-common", "amd64"),
		Libs:   []string{grubtest.CachedDeb(t, "libdevmapper1.02.1", "amd64")},
	}, grubtest.DpkgExtract)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.BuildBIOS(ctx, grub.Config{}); !errors.Is(err, grub.ErrNoPlatform) || !strings.Contains(err.Error(), "i386-pc") {
		t.Fatalf("BIOS without grub-pc-bin: %v", err)
	}
	if _, err := tc.BuildEFI(ctx, grub.Config{}); !errors.Is(err, grub.ErrNoPlatform) {
		t.Fatalf("EFI without grub-efi-amd64-bin: %v", err)
	}
	if _, err := os.Stat(filepath.Join(common, "usr/bin/grub-editenv")); err != nil {
		t.Fatal(err)
	}
}
