// Package initramfs writes the archive the kernel unpacks as the node's
// root filesystem: goleudy-node as /init, the board's kernel modules and
// firmware, and /etc/goleudy/board.json.
//
// Images must be reproducible: the same inputs and SOURCE_DATE_EPOCH give
// byte-identical output, so that a slot's sha256 names what it holds and
// anyone can rebuild an image and compare. Nothing here reads the host:
// no file modes, owners, inode numbers or times leak in. An [Archive] is
// built in memory from paths, modes and bytes, written in sorted order
// with uid and gid 0, sequential inode numbers and one given time, as the
// "newc" cpio format the kernel reads (Documentation/driver-api/early-
// userspace/buffer-format.rst), and compressed with a gzip header that
// carries no name and the same time ([Archive.WriteGzip]).
//
// u-root's pkg/cpio writes the same format, but it is not among this
// module's dependencies, and the part needed here is small. [Read] parses
// an archive back, for tests and for reporting what an image holds.
package initramfs
