package grub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Platform is a GRUB target, named as grub-mkimage's -O names it.
type Platform string

// The platforms the x86 boards boot with.
const (
	BIOS Platform = "i386-pc"
	EFI  Platform = "x86_64-efi"
)

// Modules built into each image, beyond what grub-mkimage adds for their
// dependencies. Every module is built in because nothing else of GRUB is
// on the boot partition: there is no module directory to load from.
var (
	BIOSModules = []string{
		"biosdisk", "part_msdos", "part_gpt", "fat", "ext2",
		"loadenv", "test", "normal", "linux", "echo",
		"search", "search_label", "configfile", "reboot", "halt",
		"sleep", "serial", "terminal", "regexp", "cat",
	}
	EFIModules = []string{
		"part_msdos", "part_gpt", "fat", "ext2",
		"loadenv", "test", "normal", "linux", "echo",
		"search", "search_label", "configfile", "reboot", "halt",
		"sleep", "serial", "terminal", "regexp", "cat",
		"efi_gop", "all_video",
	}
)

// BIOSImages are the two halves of a BIOS install: boot.img for the MBR
// and core.img for the sectors it loads.
type BIOSImages struct {
	Boot []byte // 512 bytes, from grub-pc-bin, patched by InstallBIOS
	Core []byte // grub-mkimage's output for i386-pc
}

// BuildBIOS makes core.img with c's early config and boot.img.
func (t *Toolchain) BuildBIOS(ctx context.Context, c Config) (BIOSImages, error) {
	dir, err := t.platformDir(BIOS)
	if err != nil {
		return BIOSImages{}, fmt.Errorf("grub: build BIOS image: %w", err)
	}
	core, err := t.mkimage(ctx, BIOS, c, BIOSModules)
	if err != nil {
		return BIOSImages{}, err
	}
	boot, err := os.ReadFile(filepath.Join(dir, bootImgName))
	if err != nil {
		return BIOSImages{}, fmt.Errorf("grub: build BIOS image: %w", err)
	}
	if len(boot) != sectorSize {
		return BIOSImages{}, fmt.Errorf("grub: build BIOS image: %s is %d bytes, want %d", bootImgName, len(boot), sectorSize)
	}
	return BIOSImages{Boot: boot, Core: core}, nil
}

// BuildEFI makes BOOTX64.EFI with c's early config.
func (t *Toolchain) BuildEFI(ctx context.Context, c Config) ([]byte, error) {
	return t.mkimage(ctx, EFI, c, EFIModules)
}

func (t *Toolchain) mkimage(ctx context.Context, p Platform, c Config, modules []string) ([]byte, error) {
	dir, err := t.platformDir(p)
	if err != nil {
		return nil, fmt.Errorf("grub: build %s image: %w", p, err)
	}
	early, err := c.Early()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "goleudy-grub-")
	if err != nil {
		return nil, fmt.Errorf("grub: build %s image: %w", p, err)
	}
	defer os.RemoveAll(tmp)
	cfg := filepath.Join(tmp, "early.cfg")
	if err := os.WriteFile(cfg, []byte(early), 0o644); err != nil {
		return nil, fmt.Errorf("grub: build %s image: %w", p, err)
	}
	out := filepath.Join(tmp, "image")
	args := []string{"-O", string(p), "-d", dir, "-o", out, "-c", cfg, "-p", c.prefix(p)}
	args = append(args, slices.Clone(modules)...)
	if err := t.run(ctx, mkimagePath, args...); err != nil {
		return nil, err
	}
	img, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("grub: build %s image: %w", p, err)
	}
	return img, nil
}
