// Package rpiboot makes the Raspberry Pi firmware's boot files for A/B
// slots and holds the rules the node follows to switch slots with the
// firmware's tryboot flag.
//
// The Pi has no bootloader we control: the boot ROM (Pi 0-3: bootcode.bin
// from the first FAT partition; Pi 4/5: the EEPROM bootloader) reads
// autoboot.txt from partition 1, picks the partition to boot from, and
// the GPU firmware (start*.elf) there reads config.txt and cmdline.txt
// and loads the kernel, initramfs and device tree.
//
// # Files and partitions
//
//	partition 1 (GOLEUDYBOOT): autoboot.txt, bootcode.bin (Pi 0-3), goleudy/seed.json
//	partition 2 (slot A) and 3 (slot B): start.elf, fixup.dat (Pi 0-3),
//	    start4.elf, fixup4.dat (Pi 4), config.txt, tryboot.txt, cmdline.txt,
//	    vmlinuz, initrd.img, the board's DTBs, slot.json
//
// [Firmware] lists which file of Debian's raspi-firmware goes where, and
// [SlotFiles] makes config.txt, tryboot.txt and cmdline.txt. Each slot is
// complete on its own, firmware included, so an update replaces the
// firmware together with the kernel it was tested with.
//
// # The serial console
//
// cmdline.txt names the board's consoles. The UART on GPIO 14/15 is not
// the same device on every model: on Pi 1, 2 and Zero it is the PL011,
// ttyAMA0; on Pi 3, 4, Zero W and Zero 2 W the PL011 drives Bluetooth and
// the header has the mini UART, which mainline device trees (Debian's
// kernels) call ttyS1. Raspberry Pi OS hides this behind a udev symlink,
// /dev/serial0, that an initramfs without udev does not have. QEMU's
// raspi3b puts its first serial port on the PL011 (ttyAMA0). A board
// that must log on both lists both consoles; the kernel makes the last
// one /dev/console, where the node prints its ready line.
//
// # Tryboot A/B
//
// autoboot.txt is the whole switch ([AutobootFor]):
//
//	[all]
//	tryboot_a_b=1
//	boot_partition=2      (the committed slot)
//	[tryboot]
//	boot_partition=3      (the other slot)
//
// A normal boot takes the committed slot. To try the other slot, the node
// reboots with the argument "0 tryboot" (reboot(2) with
// LINUX_REBOOT_CMD_RESTART2, [TrybootArg]): the firmware boots the
// [tryboot] partition once and clears the flag, so a trial that hangs,
// panics or is reset by the watchdog comes back on the committed slot by
// itself. A trial that is healthy commits by rewriting autoboot.txt with
// itself as boot_partition ([Tryboot.Commit]); a trial that is not simply
// reboots normally. With tryboot_a_b=1 the firmware reads config.txt even
// in tryboot mode; each slot also carries tryboot.txt, a copy of its
// config.txt, for firmware that predates tryboot_a_b and reads
// tryboot.txt in tryboot mode instead.
//
// # What the firmware and kernel must support
//
// Two things outside this package decide whether the trial works on real
// hardware, and the image builder's pins must satisfy both:
//
//   - The [tryboot] filter and tryboot_a_b in autoboot.txt came with the
//     firmware and EEPROM releases of October 2022. On Pi 4/400 the
//     EEPROM bootloader reads autoboot.txt, so a bootloader from then on
//     switches partitions whatever start4.elf the slot carries (and the
//     tryboot.txt copy covers an older start4.elf). On Pi 0-3 bootcode.bin
//     and start.elf do the work, and Debian bookworm's raspi-firmware
//     (1.20220830) has no tryboot_a_b in them: expect the [tryboot] line to
//     be ignored there, so a trial reboot boots the committed slot again.
//     Those boards need a newer raspi-firmware pinned.
//   - The reboot argument reaches the firmware through the Raspberry Pi
//     kernel's firmware driver (SET_REBOOT_FLAGS on reboot). Mainline
//     Linux, and so Debian's linux-image-arm64 and linux-image-rpi, do not
//     have that hook: the node has to set the flag itself through the
//     firmware mailbox before rebooting, or the board needs U-Boot with a
//     boot counter instead.
package rpiboot
