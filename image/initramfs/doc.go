// Package initramfs writes the archive the kernel unpacks as the node's
// root filesystem: goleudy-node as /init, the board's kernel modules and
// firmware, and /etc/goleudy/board.json.
//
// Images must be reproducible: the same inputs and SOURCE_DATE_EPOCH give
// byte-identical output, so that a slot's sha256 names what it holds and
// anyone can rebuild an image and compare. Nothing here reads the host:
// no file modes, owners, inode numbers or times leak in. An [Archive] is
// built in memory from paths, modes and bytes, then written in sorted
// order with uid and gid 0, sequential inode numbers and one given time,
// as the "newc" cpio format the kernel reads (Documentation/driver-api/
// early-userspace/buffer-format.rst), and compressed with a gzip header
// that carries no name and the same time ([Archive.WriteGzip]).
//
// The cpio records, the newc encoding and its reader are u-root's
// (github.com/u-root/u-root/pkg/cpio), the code u-root's own images are
// made with. This package adds what an image needs on top: one place
// that owns the tree (parents implied, duplicates refused, bad paths
// named), the order and inode numbers that make output reproducible, and
// gzip. [Read] parses an archive back with u-root's reader, for tests and
// for reporting what an image holds; it checks the few things that reader
// leaves unchecked (see stream.checkHeader), so that a corrupt archive is
// an error, never a huge allocation.
package initramfs
