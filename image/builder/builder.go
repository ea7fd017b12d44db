// Package builder is the image build: it turns a board definition, a
// node's seed and the pinned Debian packages into a flashable disk image
// and the signed update bundle of its slot.
//
//	packages (image/debs) ─▶ kernel, modules, firmware, GRUB or Pi firmware
//	goleudy-node (cross-compiled) ─▶ /init ─┐
//	                                        ├▶ initramfs (image/initramfs)
//	board.json, modules.dep ────────────────┘
//	slot A = slot B = FAT32 {vmlinuz, initrd.img, slot.json[, DTBs, firmware]}
//	boot = FAT32 {GRUB, grub.cfg + grubenv | Pi firmware, U-Boot, boot.scr + uboot.env; goleudy/seed.json}
//	disk (image/disk): boot, A, B, data (marked, formatted by the node at first boot)
//
// Everything is pure Go except GRUB's grub-mkimage, run from Debian's own
// package unpacked in the cache. Given the same inputs and Epoch
// (SOURCE_DATE_EPOCH), the image and bundle are the same bytes.
package builder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/image/debs"
	"github.com/goleudy/goleudy/image/debugtools"
	"github.com/goleudy/goleudy/image/disk"
	"github.com/goleudy/goleudy/image/fat"
	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/initramfs"
	"github.com/goleudy/goleudy/image/rpiboot"
)

// Partition sizes.
const (
	BootSize = 64 << 20
	SlotSize = 160 << 20
	// DataSize holds the zones and, during an update, the staged bundle
	// (services/update): a slot's used part is up to ~45 MiB (rpi64's
	// kernel is 31 MiB) and must fit beside the zones.
	DataSize = 256 << 20
	BIOSSize = 1 << 20
)

// Labels of the FAT volumes (11 characters at most) and GPT names.
const (
	BootLabel = grub.DefaultBootLabel // GOLEUDYBOOT
	SeedPath  = "goleudy/seed.json"
	SlotJSON  = "slot.json"
	Kernel    = "vmlinuz"
	Initrd    = "initrd.img"
)

// Options are one image build.
type Options struct {
	Board   boards.Board
	Seed    []byte // the node's seed file, as `goleudy node add --seed-out` writes it
	Version string // goes into slot.json, the bundle and goleudy-node's version
	Build   uint64 // the bundle's monotonic build number
	Epoch   time.Time
	Out     string // the image file
	// Bundle, if set, is where the signed update bundle of the slot goes,
	// signed by ReleaseKeys.
	Bundle      string
	ReleaseKeys []ed25519.PrivateKey
	Fetcher     *debs.Fetcher
	WorkDir     string // scratch; default a temp dir, removed after
	// NodeBinary is a goleudy-node built for the board; "" builds one from
	// ModuleRoot.
	NodeBinary string
	ModuleRoot string
	// Emulated writes the board's emulated port matches into board.json,
	// for images booted under QEMU.
	Emulated bool
	// Debug adds u-root's commands (image/debugtools) and so a shell on
	// the console (init/boot.RunShell): an image for the bench, never to
	// be posted. It builds them from ModuleRoot.
	Debug bool
	Log   *slog.Logger
}

// Report says what was built.
type Report struct {
	Image, Bundle        string
	ImageSize            int64 // bytes of the image file (sparse)
	InitramfsSize        int64 // compressed
	InitramfsFiles       int
	KernelSize, NodeSize int64
	DebugToolsSize       int64 // the debug busybox, if Options.Debug
	Modules              int
	Took                 time.Duration
}

// SlotInfo is slot.json: what a slot holds.
type SlotInfo struct {
	Board   string            `json:"board"`
	Version string            `json:"version"`
	Build   uint64            `json:"build"`
	Kernel  string            `json:"kernel"`          // uname -r
	Debug   bool              `json:"debug,omitempty"` // has the debug tools and shell
	Files   map[string]string `json:"files"`           // path → sha256
}

// Build builds the image (and bundle) o describes.
func Build(ctx context.Context, o Options) (Report, error) {
	start := time.Now()
	var r Report
	if err := o.check(); err != nil {
		return r, err
	}
	log := o.Log
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "goleudy-image")
		if err != nil {
			return r, err
		}
		defer os.RemoveAll(dir)
		o.WorkDir = dir
	}
	b := o.Board
	log.Info("building image", "board", b.Name, "version", o.Version, "out", o.Out)

	pkgs := map[string]*debs.Tree{}
	for _, p := range b.AllPackages() {
		if _, err := o.Fetcher.Fetch(ctx, p); err != nil {
			return r, err
		}
		t, err := o.Fetcher.Unpacked(ctx, p)
		if err != nil {
			return r, err
		}
		pkgs[p.Name] = t
	}
	kernel := pkgs[b.Kernel.Name]

	node := o.NodeBinary
	if node == "" {
		var err error
		if node, err = NodeBinary(ctx, o.ModuleRoot, b, o.Version, o.WorkDir); err != nil {
			return r, err
		}
	}
	var tools *debugtools.Tools
	if o.Debug {
		t, err := debugtools.Build(ctx, debugtools.Options{ModuleRoot: o.ModuleRoot, GOARCH: b.GOARCH, GOARM: b.GOARM,
			WorkDir: o.WorkDir, Log: log})
		if err != nil {
			return r, fmt.Errorf("builder: debug tools: %w", err)
		}
		tools, r.DebugToolsSize = &t, t.Size
		log.Warn("debug image: u-root's commands and a console shell are in the initramfs; do not post it", "busybox", t.Size)
	}
	initrd, n, mods, err := o.initramfs(kernel, pkgs, node, tools)
	if err != nil {
		return r, err
	}
	r.InitramfsSize, r.InitramfsFiles, r.Modules = int64(len(initrd)), n, mods
	vmlinuz, err := kernel.ReadFile(b.VMLinuz())
	if err != nil {
		return r, fmt.Errorf("builder: kernel: %w", err)
	}
	r.KernelSize = int64(len(vmlinuz))
	if st, err := os.Stat(node); err == nil {
		r.NodeSize = st.Size()
	}

	slotFiles := map[string][]byte{Kernel: vmlinuz, Initrd: initrd}
	var bootFiles = map[string][]byte{SeedPath: o.Seed}
	var bios *grub.BIOSImages
	switch b.Boot {
	case boards.BootRPiUBoot:
		if err := o.piFiles(kernel, pkgs, slotFiles, bootFiles); err != nil {
			return r, err
		}
	default:
		if bios, err = o.grubFiles(ctx, bootFiles); err != nil {
			return r, err
		}
	}

	slots := map[grub.Slot]*fat.Builder{}
	for _, s := range []grub.Slot{grub.A, grub.B} {
		files := maps.Clone(slotFiles)
		if b.Boot == boards.BootRPiUBoot {
			gen, err := rpiboot.SlotFiles(o.piBoard(), rpiboot.Slot(s))
			if err != nil {
				return r, fmt.Errorf("builder: %w", err)
			}
			for _, f := range gen {
				files[f.Path] = f.Data
			}
		}
		info := SlotInfo{Board: b.Name, Version: o.Version, Build: o.Build, Kernel: b.KernelRelease, Debug: o.Debug, Files: map[string]string{}}
		for p, data := range files {
			sum := sha256.Sum256(data)
			info.Files[p] = hex.EncodeToString(sum[:])
		}
		js, _ := json.MarshalIndent(info, "", "  ")
		files[SlotJSON] = append(js, '\n')
		if slots[s], err = volume(slotLabel(s), o.Epoch, files); err != nil {
			return r, err
		}
	}
	boot, err := volume(BootLabel, o.Epoch, bootFiles)
	if err != nil {
		return r, err
	}

	layout := o.layout(boot, slots, bios)
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return r, err
	}
	if err := disk.Write(o.Out, layout); err != nil {
		return r, fmt.Errorf("builder: %w", err)
	}
	if bios != nil && layout.Table == disk.GPT {
		f, err := os.OpenFile(o.Out, os.O_RDWR, 0)
		if err != nil {
			return r, err
		}
		_, err = grub.InstallBIOS(f, *bios)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return r, fmt.Errorf("builder: installing GRUB for BIOS: %w", err)
		}
	}
	st, err := os.Stat(o.Out)
	if err != nil {
		return r, err
	}
	r.Image, r.ImageSize = o.Out, st.Size()
	if o.Bundle != "" {
		if err := o.writeBundle(slots[grub.A]); err != nil {
			return r, err
		}
		r.Bundle = o.Bundle
	}
	r.Took = time.Since(start)
	log.Info("image built", "out", o.Out, "bytes", r.ImageSize, "initramfs", r.InitramfsSize,
		"kernel", r.KernelSize, "modules", r.Modules, "took", r.Took.Round(time.Millisecond).String())
	return r, nil
}

func (o *Options) check() error {
	var probs []string
	if o.Board.Name == "" {
		probs = append(probs, "no board")
	}
	if len(o.Seed) == 0 {
		probs = append(probs, "no seed")
	}
	if o.Version == "" {
		probs = append(probs, "no version")
	}
	if o.Out == "" {
		probs = append(probs, "no output file")
	}
	if o.Fetcher == nil {
		probs = append(probs, "no package fetcher")
	}
	if o.NodeBinary == "" && o.ModuleRoot == "" {
		probs = append(probs, "neither a goleudy-node binary nor the module to build it from")
	}
	if o.Debug && o.ModuleRoot == "" {
		probs = append(probs, "debug tools, but no module to build them from")
	}
	if o.Bundle != "" && len(o.ReleaseKeys) == 0 {
		probs = append(probs, "a bundle needs a release key")
	}
	if o.Build == 0 {
		o.Build = 1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if len(probs) > 0 {
		return fmt.Errorf("builder: %s", strings.Join(probs, "; "))
	}
	return nil
}

// initramfs is the node's root filesystem: goleudy-node as /init, the
// board's modules closed over their dependencies with a modules.dep,
// firmware, and board.json.
func (o *Options) initramfs(kernel *debs.Tree, pkgs map[string]*debs.Tree, node string, tools *debugtools.Tools) (data []byte, files, modules int, err error) {
	b := o.Board
	a, err := initramfs.New(o.Epoch)
	if err != nil {
		return nil, 0, 0, err
	}
	bin, err := os.ReadFile(node)
	if err != nil {
		return nil, 0, 0, err
	}
	if err := a.AddFile("init", 0o755, bin); err != nil {
		return nil, 0, 0, err
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "data", "boot", "etc/goleudy"} {
		if err := a.AddDir(d, 0o755); err != nil {
			return nil, 0, 0, err
		}
	}
	bj, err := BoardJSON(b, o.Emulated, o.Version, o.Build)
	if err != nil {
		return nil, 0, 0, err
	}
	if err := a.AddFile("etc/goleudy/board.json", 0o644, append(bj, '\n')); err != nil {
		return nil, 0, 0, err
	}
	k, err := debs.ReadKernel(kernel, b.KernelRelease)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("builder: %w", err)
	}
	mods, err := k.Closure(rootModules(b, o.Emulated))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("builder: %w", err)
	}
	modDir := path.Join("lib/modules", b.KernelRelease)
	for _, m := range mods {
		data, err := kernel.ReadFile(path.Join(b.ModulesDir(), m.Path))
		if err != nil {
			return nil, 0, 0, fmt.Errorf("builder: module %s: %w", m.Name, err)
		}
		if err := a.AddFile(path.Join(modDir, m.Path), 0o644, data); err != nil {
			return nil, 0, 0, err
		}
	}
	if err := a.AddFile(path.Join(modDir, "modules.dep"), 0o644, k.ModulesDep()); err != nil {
		return nil, 0, 0, err
	}
	if err := a.AddFile(path.Join(modDir, "modules.builtin"), 0o644, k.Builtin); err != nil {
		return nil, 0, 0, err
	}
	for _, f := range b.Firmware {
		t := pkgs[f.Package]
		if t == nil {
			return nil, 0, 0, fmt.Errorf("builder: firmware %s: package %s is not the board's", f.Path, f.Package)
		}
		data, err := t.ReadFile(f.Path)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("builder: firmware: %w", err)
		}
		if err := a.AddFile(f.Path, 0o644, data); err != nil {
			return nil, 0, 0, err
		}
	}
	if tools != nil {
		if err := tools.AddTo(a); err != nil {
			return nil, 0, 0, fmt.Errorf("builder: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := a.WriteGzip(&buf); err != nil {
		return nil, 0, 0, err
	}
	return buf.Bytes(), len(a.Paths()), len(mods), nil
}

// grubFiles makes the x86 boot partition's GRUB: BOOTX64.EFI for UEFI,
// core.img and boot.img for BIOS (returned, installed into the disk),
// grub.cfg and the fresh A/B state.
func (o *Options) grubFiles(ctx context.Context, boot map[string][]byte) (*grub.BIOSImages, error) {
	b := o.Board
	dd := grub.Debs{}
	for _, p := range boards.Tools {
		path, err := o.Fetcher.Fetch(ctx, p)
		if err != nil {
			return nil, err
		}
		switch {
		case p.Name == "grub-common":
			dd.Common = path
		default:
			dd.Libs = append(dd.Libs, path)
		}
	}
	for _, p := range b.Packages {
		path := o.Fetcher.Path(p)
		switch p.Name {
		case "grub-pc-bin":
			dd.PC = path
		case "grub-efi-amd64-bin":
			dd.EFI = path
		}
	}
	tc, err := grub.Extract(ctx, filepath.Join(o.WorkDir, "grub"), dd, debs.ExtractTo)
	if err != nil {
		return nil, fmt.Errorf("builder: %w", err)
	}
	consoles := o.consoles()
	var extras []string
	for _, c := range b.Cmdline {
		if !strings.HasPrefix(c, "console=") {
			extras = append(extras, c)
		}
	}
	var serial *grub.Serial
	for _, c := range consoles {
		if serial == nil {
			serial = grub.SerialFromConsole(c)
		}
	}
	cfg := grub.Config{Serial: serial, Console: consoles, Cmdline: extras}
	if b.Table == boards.TableGPT {
		cfg.BIOSFallback = "(hd0,gpt1)"
	} else {
		cfg.BIOSFallback = "(hd0,msdos1)"
	}
	gcfg, err := cfg.GrubCfg()
	if err != nil {
		return nil, fmt.Errorf("builder: %w", err)
	}
	env, err := grub.Fresh(grub.A, grub.A, grub.B).Encode()
	if err != nil {
		return nil, err
	}
	boot[strings.TrimPrefix(grub.CfgPath, "/")] = gcfg
	boot[strings.TrimPrefix(grub.EnvPath, "/")] = env
	var bios *grub.BIOSImages
	if b.Boot == boards.BootUEFI || b.Boot == boards.BootUEFIBIOS {
		efi, err := tc.BuildEFI(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("builder: %w", err)
		}
		boot[strings.TrimPrefix(grub.EFIPath, "/")] = efi
	}
	if b.Boot == boards.BootBIOS || b.Boot == boards.BootUEFIBIOS {
		img, err := tc.BuildBIOS(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("builder: %w", err)
		}
		bios = &img
	}
	return bios, nil
}

// consoles are the kernel's console= values, the last being /dev/console,
// where the node logs and prints its ready line. Under emulation that is
// the serial port the test reads: the board's QEMU console, or its serial
// console moved last.
func (o *Options) consoles() []string {
	b := o.Board
	var out []string
	for _, c := range b.Cmdline {
		if v, ok := strings.CutPrefix(c, "console="); ok {
			out = append(out, v)
		}
	}
	out = append(out, b.Console)
	if !o.Emulated {
		return out
	}
	if q := b.QEMU.Console; q != "" {
		return append(slices.DeleteFunc(out, func(c string) bool { return c == q }), q)
	}
	for i, c := range out {
		if strings.HasPrefix(c, "ttyS") || strings.HasPrefix(c, "ttyAMA") {
			return append(append(slices.Clone(out[:i]), out[i+1:]...), c)
		}
	}
	return out
}

// piBoard is what the Pi boot files need from the board: under emulation
// with the emulated consoles and command line, and no watchdog arming.
func (o *Options) piBoard() rpiboot.Board {
	b := o.Board
	pb := rpiboot.Board{Name: b.Name, Arm64: b.GOARCH == "arm64", Emulated: o.Emulated}
	if pb.Arm64 {
		pb.Families = []rpiboot.Family{rpiboot.Legacy, rpiboot.Pi4}
	} else {
		pb.Families = []rpiboot.Family{rpiboot.Legacy}
	}
	for _, d := range b.DTBs {
		pb.DTBs = append(pb.DTBs, piDTBPath(b, d))
	}
	args := b.Cmdline
	if o.Emulated {
		args = append(slices.Clone(args), b.QEMU.Cmdline...)
	}
	for _, c := range args {
		if _, ok := strings.CutPrefix(c, "console="); !ok {
			pb.Cmdline = append(pb.Cmdline, c)
		}
	}
	pb.Consoles = o.consoles()
	return pb
}

// piDTBPath is where a DTB of the kernel package goes in a slot: its
// path under the package's DTB directory, as U-Boot's fdtfile names it.
func piDTBPath(b boards.Board, d string) string {
	return strings.TrimPrefix(d, "usr/lib/linux-image-"+b.KernelRelease+"/")
}

// piFiles puts the Pi's DTBs in each slot, and the firmware, U-Boot, its
// boot script and the DTBs for the firmware on the boot partition.
func (o *Options) piFiles(kernel *debs.Tree, pkgs map[string]*debs.Tree, slot, boot map[string][]byte) error {
	b := o.Board
	for _, d := range b.DTBs {
		data, err := kernel.ReadFile(d)
		if err != nil {
			return fmt.Errorf("builder: DTB: %w", err)
		}
		slot[piDTBPath(b, d)] = data
		boot[path.Base(d)] = data
	}
	fw := pkgs["raspi-firmware"]
	if fw == nil {
		return errors.New("builder: the board has no raspi-firmware package")
	}
	pb := o.piBoard()
	for _, f := range rpiboot.Firmware(pb) {
		data, err := fw.ReadFile(f.Source)
		if err != nil {
			return fmt.Errorf("builder: Pi firmware: %w", err)
		}
		boot[f.Path] = data
	}
	ub := pkgs[b.Bootloader.Package]
	if ub == nil {
		return fmt.Errorf("builder: the board's bootloader package %q is not among its packages", b.Bootloader.Package)
	}
	data, err := ub.ReadFile(b.Bootloader.Path)
	if err != nil {
		return fmt.Errorf("builder: U-Boot: %w", err)
	}
	boot[rpiboot.UBoot] = data
	gen, err := rpiboot.BootFiles(pb, o.Epoch)
	if err != nil {
		return fmt.Errorf("builder: %w", err)
	}
	for _, f := range gen {
		boot[f.Path] = f.Data
	}
	return nil
}

func slotLabel(s grub.Slot) string {
	if s == grub.A {
		return grub.DefaultLabelA
	}
	return grub.DefaultLabelB
}

// volume is a FAT32 volume holding files (paths with /), with their
// directories, every timestamp at epoch.
func volume(label string, epoch time.Time, files map[string][]byte) (*fat.Builder, error) {
	v, err := fat.New(fat.Options{Label: label, Time: epoch})
	if err != nil {
		return nil, fmt.Errorf("builder: %w", err)
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	slices.Sort(names)
	made := map[string]bool{}
	for _, p := range names {
		for d := path.Dir(p); d != "." && !made[d]; d = path.Dir(d) {
			made[d] = true
		}
	}
	dirs := make([]string, 0, len(made))
	for d := range made {
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") })
	for _, d := range dirs {
		if err := v.Mkdir(d); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("builder: %s: %w", label, err)
		}
	}
	for _, p := range names {
		if err := v.AddFile(p, files[p]); err != nil {
			return nil, fmt.Errorf("builder: %s: %w", label, err)
		}
	}
	return v, nil
}

// layout is the board's disk: boot, A, B, data, and on GPT boards that
// also boot from BIOS a BIOS boot partition for core.img.
func (o *Options) layout(boot *fat.Builder, slots map[grub.Slot]*fat.Builder, bios *grub.BIOSImages) disk.Layout {
	b := o.Board
	l := disk.Layout{Seed: "goleudy/" + b.Name + "/" + string(o.Seed)}
	bootType := disk.BasicData
	if b.Boot == boards.BootUEFI || b.Boot == boards.BootUEFIBIOS {
		bootType = disk.EFISystem
	}
	l.Table = disk.MBR
	if b.Table == boards.TableGPT {
		l.Table = disk.GPT
	}
	l.Partitions = []disk.Partition{
		{Name: "GOLEUDY-BOOT", Label: BootLabel, Type: bootType, Size: BootSize, Bootable: true, Content: boot.Write},
		{Name: "GOLEUDY-A", Label: grub.DefaultLabelA, Type: disk.BasicData, Size: SlotSize, Content: slots[grub.A].Write},
		{Name: "GOLEUDY-B", Label: grub.DefaultLabelB, Type: disk.BasicData, Size: SlotSize, Content: slots[grub.B].Write},
		{Name: disk.DataLabel, Label: disk.DataLabel, Type: disk.LinuxData, Size: DataSize, Content: disk.UnformattedData},
	}
	if bios != nil {
		if l.Table == disk.GPT {
			l.Partitions = append(l.Partitions, disk.Partition{Name: "BIOS-BOOT", Type: disk.BIOSBoot, Size: BIOSSize})
		} else {
			l.BootCode = bios.Boot[:440]
			l.Embed = bios.Core
		}
	}
	return l
}

// writeBundle writes slot A's filesystem as the signed update bundle.
// The bundle's image is the slot volume up to its last used MiB: the
// builder lays files out from the start, and the free clusters after them
// may hold anything (the FAT says they are free), so a node need not
// download or write them. A slot of kernel and initramfs is a few tens of
// MiB of its SlotSize.
const bundleAlign = 1 << 20

// usedSize is size cut after the last bundleAlign block of r that is not
// all zeros.
func usedSize(r io.ReaderAt, size int64) (int64, error) {
	buf, zero := make([]byte, bundleAlign), make([]byte, bundleAlign)
	for end := size; end > 0; {
		start := max(0, end-bundleAlign)
		n := end - start
		if _, err := r.ReadAt(buf[:n], start); err != nil {
			return 0, fmt.Errorf("finding the used size: %w", err)
		}
		if !bytes.Equal(buf[:n], zero[:n]) {
			return end, nil
		}
		end = start
	}
	return 0, errors.New("the slot volume is all zeros")
}

func (o *Options) writeBundle(slot *fat.Builder) error {
	img := filepath.Join(o.WorkDir, "slot.img")
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(SlotSize); err != nil {
		return err
	}
	if err := slot.Write(f, 0, SlotSize); err != nil {
		return fmt.Errorf("builder: bundle: %w", err)
	}
	out, err := os.Create(o.Bundle + ".tmp")
	if err != nil {
		return err
	}
	used, err := usedSize(f, SlotSize)
	if err != nil {
		out.Close()
		os.Remove(out.Name())
		return fmt.Errorf("builder: bundle: %w", err)
	}
	m := bundle.Manifest{Board: o.Board.Name, Version: o.Version, Build: o.Build, Created: o.Epoch.UTC()}
	if _, err := bundle.Write(out, m, f, used, o.ReleaseKeys...); err != nil {
		out.Close()
		os.Remove(out.Name())
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(o.Bundle+".tmp", o.Bundle)
}
