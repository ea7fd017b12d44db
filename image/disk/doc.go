// Package disk lays out a node's disk image: the partition table and
// what goes in each partition, written into a sparse file without root,
// loop devices or containers.
//
// Every board's image has the same four partitions: the boot partition
// (the ESP on UEFI boards) with the bootloader, GRUB's environment block
// and the seed file; slots A and B, each a FAT volume holding a kernel and
// initramfs; and the data partition, left unformatted with [DataMarker]
// so that the node formats it at first boot to the size of whatever card
// or disk it was flashed to. A [Layout] lists them with their contents,
// and [Write] puts a GPT (UEFI boards, and vps, which also boots through
// a BIOS boot partition) or an MBR (the Pi firmware and the FitPC2i's
// BIOS) in front, each partition aligned to 1 MiB.
//
// Nothing in an image may vary between builds: the disk GUID, every
// partition GUID and the MBR disk signature are derived from
// [Layout.Seed] (say, the board and node names), never random, so the
// same inputs give the same bytes. [Read] parses an image or a device
// back, checking the CRCs and both GPT headers, for tests and for
// verifying a flashed card.
package disk
