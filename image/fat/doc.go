// Package fat writes and reads FAT32 filesystems, byte for byte the same
// for the same inputs.
//
// Every partition a board's firmware or bootloader reads is FAT: the boot
// partition (the ESP on UEFI boards; the firmware's files on the Pi)
// holding the bootloader, GRUB's environment block and the node's seed,
// and slots A and B holding a kernel, an initramfs and slot.json. Images
// must be reproducible, so that rebuilding one proves what it holds, and
// mkfs.fat and go-diskfs both stamp the time of day and a random serial
// into what they write. A [Builder] instead takes every file's bytes, one
// time for every timestamp (SOURCE_DATE_EPOCH) and derives the volume
// serial from its inputs; it lays the files out in a fixed order,
// contiguously, and writes only through an io.WriterAt at an offset, so a
// partition is written straight into a sparse image file without root or
// a loop device. Short 8.3 names are generated from long names the way
// the FAT specification describes, in sorted order, so they too are fixed.
//
// [Open] reads a volume back: enough to list and read files (tests, the
// image builder's checks, the node verifying a slot) and to rewrite a file
// in place with the same size ([Volume.Rewrite]), which is how GRUB's
// 1024-byte environment block, the boot counter, is updated without
// touching the filesystem's metadata. Only FAT32 with the layout this
// package writes is in scope; FAT12/16 are refused.
package fat
