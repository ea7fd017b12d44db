// Package rpiboot makes the Raspberry Pi's boot files for A/B slots: the
// firmware's config.txt, which starts U-Boot, and U-Boot's boot script,
// which picks the slot with a boot counter in U-Boot's saved environment.
//
// # Why U-Boot and not the firmware's tryboot
//
// The Pi firmware has its own A/B switch (autoboot.txt with
// tryboot_a_b=1, and a reboot with the "tryboot" flag), and this package
// used it at first. It does not work with what Debian ships: the flag
// reaches the firmware only through the Raspberry Pi kernel's firmware
// driver (SET_REBOOT_FLAGS on reboot), which mainline Linux and so
// Debian's linux-image-arm64 and linux-image-rpi do not have; and
// bookworm's raspi-firmware (1.20220830) predates tryboot_a_b on Pi 0-3.
// A trial reboot would boot the committed slot again, and an update
// could never take effect. U-Boot (Debian's u-boot-rpi) runs on every Pi
// the boards cover, keeps its environment in a file on partition 1
// (CONFIG_ENV_IS_IN_FAT), and can count boots in a script.
//
// # Files and partitions
//
//	partition 1 (GOLEUDYBOOT): bootcode.bin, start*.elf, fixup*.dat (the
//	    firmware), config.txt, u-boot.bin, the DTBs' basenames (for the
//	    firmware, which hands the tree to U-Boot), boot.scr, uboot.env
//	    (written by U-Boot and the node), goleudy/seed.json
//	partition 2 (slot A) and 3 (slot B): vmlinuz, initrd.img, bootargs.txt,
//	    the DTBs at U-Boot's fdtfile paths, slot.json
//
// The boot ROM (Pi 0-3) or EEPROM (Pi 4) starts the firmware from
// partition 1; config.txt ([ConfigTxt]) has it load u-boot.bin as the
// kernel. U-Boot's distro boot finds boot.scr on the same partition and
// sources it ([ScriptText], wrapped by [ScriptImage] as mkimage does).
//
// # The A/B rules
//
// The script keeps GRUB's rules and variable names (image/grub): ORDER,
// A_OK, B_OK, A_TRY, B_TRY in uboot.env. It boots the first slot in
// ORDER that is OK and not on trial, marks it on trial and saves the
// environment before loading the kernel, initramfs, device tree and
// bootargs.txt from that slot's partition. The node, once healthy,
// commits: it clears its slot's TRY (services/update, through
// image/ubootenv and grub.State). A slot that never commits still has
// TRY=1 at the next boot and is skipped, so the other slot boots.
//
// The next boot needs a reset, and a Pi has no reset button anyone will
// press: the script arms the SoC watchdog (about 16 s) just before the
// kernel starts. Linux's bcm2835_wdt finds it running and feeds it until
// the node opens /dev/watchdog; a kernel that panics or hangs first is
// reset by it. Under QEMU, whose raspi machines reset as soon as the
// watchdog is armed, [Board.Emulated] leaves that out, and the boot
// tests reset the VM themselves where a real Pi's watchdog would.
//
// # The serial console
//
// bootargs.txt names the board's consoles. The UART on GPIO 14/15 is not
// the same device on every model: on Pi 1, 2 and Zero it is the PL011,
// ttyAMA0; on Pi 3, 4, Zero W and Zero 2 W the PL011 drives Bluetooth and
// the header has the mini UART, which mainline device trees (Debian's
// kernels) call ttyS1. A board that must log on both lists both consoles;
// the kernel makes the last one /dev/console, where the node prints its
// ready line.
//
// # What stays outside the slots
//
// The firmware, U-Boot and the script are on partition 1 and are not
// replaced by an update, which writes a slot: an update changes the
// kernel, initramfs, device trees and command line together, and the
// bootloader stays the one the image was built with.
package rpiboot
