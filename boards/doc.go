// Package boards is the table of machines a goleudy image can be built
// for, as data.
//
// The image builder (image/...) reads a [Board] to know what to fetch and
// what to put where: the Debian kernel package and the other pinned
// packages (firmware, bootloader), which modules and firmware files go into
// the initramfs, which DTBs and VideoCore firmware go onto the boot
// partition, the kernel command line, the bootloader kind and partition
// table, and which physical ports take the IX and OOB roles. The node reads
// the same facts back from /etc/goleudy/board.json at boot.
//
// Everything an image is made of comes from Debian bookworm packages,
// pinned by version, pool path and sha256 exactly as the archive's Packages
// index gives them, so a security fix arrives by bumping a pin here and an
// image is the same bytes wherever it is built. [Tools] pins the host
// (amd64) packages the build runs programs from, such as grub-mkimage.
//
// Rule tests run over every row, in the manner of gokrazy's deviceconfig:
// names are unique, every pin is well formed and consistent with its pool
// path, and, against the real packages in the cache, every module closes
// over the kernel's dependencies and every firmware file and DTB exists.
// Bumping a pin therefore fails the tests until the rest of the row agrees
// with the new package.
package boards
