package grub_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/grub/grubtest"
)

func TestValidate(t *testing.T) {
	ok := grub.Config{Console: []string{"ttyS0,115200"}, Cmdline: []string{"panic=10", "quiet"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*grub.Config)
		want string
	}{
		{"long label", func(c *grub.Config) { c.BootLabel = "GOLEUDY-BOOT" }, "BootLabel \"GOLEUDY-BOOT\": a FAT label is 1 to 11"},
		{"lower-case label", func(c *grub.Config) { c.LabelA = "slot_a" }, "LabelA \"slot_a\": character 's'"},
		{"same labels", func(c *grub.Config) { c.LabelB = grub.DefaultLabelA }, "must differ"},
		{"quote in cmdline", func(c *grub.Config) { c.Cmdline = []string{`a="b c"`} }, "Cmdline[0]"},
		{"semicolon in cmdline", func(c *grub.Config) { c.Cmdline = []string{"x;reboot"} }, "character ';'"},
		{"dollar in console", func(c *grub.Config) { c.Console = []string{"$x"} }, "Console[0]"},
		{"slot in cmdline", func(c *grub.Config) { c.Cmdline = []string{"goleudy.slot=A"} }, "set by grub.cfg"},
		{"console in cmdline", func(c *grub.Config) { c.Cmdline = []string{"console=tty1"} }, "set by grub.cfg or Console"},
		{"relative kernel", func(c *grub.Config) { c.Kernel = "vmlinuz" }, "Kernel \"vmlinuz\": must be an absolute path"},
		{"bad fallback", func(c *grub.Config) { c.BIOSFallback = "hd0,msdos1" }, "BIOSFallback"},
		{"bad serial", func(c *grub.Config) { c.Serial = &grub.Serial{Unit: 7, Speed: 115200} }, "unit must be 0..3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error with %q", err, tc.want)
			}
			if _, err := c.GrubCfg(); err == nil {
				t.Fatal("GrubCfg accepted the config Validate refused")
			}
			if _, err := c.Early(); err == nil {
				t.Fatal("Early accepted the config Validate refused")
			}
		})
	}
}

func TestSerialFromConsole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *grub.Serial
	}{
		{"ttyS0,115200", &grub.Serial{Unit: 0, Speed: 115200}},
		{"ttyS1,9600n8", &grub.Serial{Unit: 1, Speed: 9600}},
		{"ttyS0", &grub.Serial{Unit: 0, Speed: 115200}},
		{"tty1", nil},
		{"ttyAMA0,115200", nil},
		{"ttyS9,115200", nil},
	} {
		got := grub.SerialFromConsole(tc.in)
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("SerialFromConsole(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestGrubCfgContent(t *testing.T) {
	c := grub.Config{
		Serial:  grub.SerialFromConsole("ttyS0,115200"),
		Console: []string{"tty1", "ttyS0,115200"},
		Cmdline: []string{"panic=10"},
	}
	cfg, err := c.GrubCfg()
	if err != nil {
		t.Fatal(err)
	}
	s := string(cfg)
	for _, want := range []string{
		"serial --unit=0 --speed=115200\nterminal_input serial console\nterminal_output serial console\n",
		"load_env ORDER A_OK B_OK A_TRY B_TRY\n",
		"save_env A_TRY B_TRY\n",
		"set label=GOLEUDY_A; else set label=GOLEUDY_B;",
		"linux ($slotroot)/vmlinuz console=tty1 console=ttyS0,115200 goleudy.slot=$slot panic=10\n",
		"initrd ($slotroot)/initrd.img\nboot\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("grub.cfg lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "dry run") {
		t.Error("production grub.cfg has dry-run lines")
	}
	// save_env must come before the kernel is loaded, or a kernel that
	// hangs would leave no trial mark.
	if strings.Index(s, "save_env") > strings.Index(s, "linux (") {
		t.Error("save_env comes after linux")
	}
	if got := c.KernelArgs(grub.B); got != "console=tty1 console=ttyS0,115200 goleudy.slot=B panic=10" {
		t.Errorf("KernelArgs(B) = %q", got)
	}

	early, err := grub.Config{BootLabel: "MYBOOT"}.Early()
	if err != nil {
		t.Fatal(err)
	}
	if want := "search --no-floppy --label --set=root MYBOOT\nset prefix=($root)/grub\n"; early != want {
		t.Errorf("Early() = %q, want %q", early, want)
	}
	if strings.Contains(early, "#") {
		t.Error("the early config has a comment; GRUB's rescue parser runs it")
	}
}

// TestGrubCfgScriptCheck runs GRUB's own parser (grub-script-check from
// Debian's grub-common) over the generated configs.
func TestGrubCfgScriptCheck(t *testing.T) {
	tc := grubtest.Toolchain(t)
	for _, c := range []grub.Config{
		{},
		{Serial: &grub.Serial{Unit: 1, Speed: 9600}, Console: []string{"ttyS1,9600"}, Cmdline: []string{"a=b", "c"}},
		{DryRun: true, BootLabel: "X", LabelA: "Y", LabelB: "Z"},
	} {
		cfg, err := c.GrubCfg()
		if err != nil {
			t.Fatal(err)
		}
		early, err := c.Early()
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string]string{"grub.cfg": string(cfg), "early.cfg": early} {
			f := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := tc.Command(context.Background(), "usr/bin/grub-script-check", f).CombinedOutput()
			if err != nil {
				t.Fatalf("grub-script-check %s: %v: %s\n%s", name, err, out, data)
			}
		}
	}
}
