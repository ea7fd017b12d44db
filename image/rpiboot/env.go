package rpiboot

import (
	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/ubootenv"
)

// EnvSize is CONFIG_ENV_SIZE of Debian's u-boot-rpi builds.
const EnvSize = ubootenv.DefaultSize

// Env is partition 1's first uboot.env: everything U-Boot needs to run
// boot.scr, and the A/B state of a fresh image (both slots bootable, A
// first, nothing on trial).
//
// U-Boot reads a valid uboot.env instead of its built-in environment, not
// on top of it, so this is the whole environment: a bootcmd that sources
// the script from the SD card, the load addresses of Debian's rpi builds
// (include/configs/rpi.h), and the console on the serial port only. Its
// built-in one would start USB at every boot (preboot="usb start", for a
// USB keyboard), wait 2 s for a key on the serial line (a stray byte
// there would stop a remote Pi at U-Boot's prompt), and scan every
// device for something to boot. U-Boot adds what it learns at run time
// (fdt_addr, the board's serial number and MAC), and boot.scr saves the
// whole. If the file is ever unreadable, U-Boot falls back to its
// built-in environment, whose distro boot finds the same boot.scr.
func Env(b Board) (ubootenv.Env, error) {
	high := "ffffffff"
	if b.Arm64 {
		high = "ffffffffffffffff"
	}
	env := ubootenv.New(EnvSize)
	for _, kv := range [][2]string{
		{"bootcmd", "load ${devtype} ${devnum}:1 ${scriptaddr} " + Script + " && source ${scriptaddr}"},
		{"bootdelay", "-2"},
		{"devtype", "mmc"},
		{"devnum", "0"},
		{"stdin", "serial"},
		{"stdout", "serial"},
		{"stderr", "serial"},
		{"kernel_addr_r", "0x00080000"},
		{"scriptaddr", "0x02400000"},
		{"fdt_addr_r", "0x02600000"},
		{"ramdisk_addr_r", "0x02700000"},
		{"fdt_high", high},
		{"initrd_high", high},
	} {
		if err := env.Set(kv[0], kv[1]); err != nil {
			return env, err
		}
	}
	if err := grub.Fresh(grub.A, grub.A, grub.B).Apply(&env); err != nil {
		return env, err
	}
	return env, nil
}
