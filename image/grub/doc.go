// Package grub makes the bootloader of the x86 boards and the A/B boot
// counter it keeps, without root, loop devices or an installed GRUB.
//
// # Where GRUB comes from
//
// The image builder fetches Debian's grub-common (grub-mkimage and
// grub-editenv, built for the amd64 host), grub-pc-bin (the i386-pc
// modules and boot.img) and grub-efi-amd64-bin (the x86_64-efi modules),
// pinned like every other package, plus the shared libraries grub-mkimage
// links that a minimal Debian may lack (libdevmapper1.02.1). [Extract]
// unpacks them into a directory with the builder's [Extractor], and
// [Toolchain] runs the tools from there with LD_LIBRARY_PATH pointing at
// the unpacked libraries: nothing is installed.
//
// # The images
//
//   - BIOS (fitpc2i, vps): [Toolchain.BuildBIOS] makes core.img for
//     i386-pc with every module built in, and [InstallBIOS] writes boot.img
//     into the MBR (keeping the partition table and disk signature) and
//     core.img into the gap before the first partition on MBR disks, or
//     into the BIOS boot partition on GPT disks. It does what
//     grub-bios-setup does, on an image file.
//   - UEFI (brix, vps): [Toolchain.BuildEFI] makes BOOTX64.EFI for
//     x86_64-efi; the image builder puts it at [EFIPath] on the boot
//     partition, which is the EFI system partition. It is not signed, so
//     Secure Boot must be off.
//
// Both embed the same early config ([Config.Early]): find the boot
// partition by its FAT label and set the prefix to its /grub directory,
// where the generated grub.cfg ([Config.GrubCfg]) and the environment
// block (grubenv, see package image/grubenv) live. grub-mkimage output is
// byte-for-byte reproducible for the same inputs.
//
// # A/B with a boot counter
//
// The scheme is RAUC's. The environment block holds five variables:
//
//	ORDER  "A B" or "B A": the slots in order of preference
//	A_OK   1 if slot A holds a bootable system, else 0 (B_OK likewise)
//	A_TRY  1 if slot A was booted and has not committed since (B_TRY likewise)
//
// At every boot grub.cfg loads these (and only these) from grubenv, then
// boots the first slot in ORDER whose OK is 1 and whose TRY is not 1. It
// sets that slot's TRY to 1 and saves it to grubenv before it loads the
// kernel, and passes goleudy.slot=A or B on the kernel command line.
// The node, once healthy, commits: it sets its slot's TRY back to 0
// ([State.Commit]). So a slot that fails to come up, whether the kernel
// panics, the node never gets healthy, or the watchdog resets the board,
// still has TRY=1 at the next boot, is skipped, and the other slot boots
// by itself. An update writes the other slot and calls [State.Trial]
// (OK=1, TRY=0, first in ORDER) before it reboots. When the node finds it
// booted a slot other than the first in ORDER, the trial of the first one
// failed: Commit records that by marking it not OK and putting the
// running slot first.
//
// If every bootable slot has TRY=1 (both failed since they last
// committed, say after a power cut during a trial), grub.cfg clears the
// TRY flags and starts over with the first bootable slot in ORDER rather
// than leave the board dead; if no slot is OK at all it boots A. [State.Next]
// is the same choice in Go, and the QEMU tests check the two agree.
//
// The node writes grubenv as GRUB does: the whole 1024-byte block in
// place, same size, then fsync. A block that fails to parse makes
// load_env keep the defaults (nothing bootable, so GRUB tries A) and
// save_env refuse to write, so a torn write costs the boot counter, not
// the boot.
package grub
