// Package grubenv reads and writes GRUB's environment block, the one file
// on an x86 node that both the bootloader and the running node write.
//
// The A/B boot counter of x86 boards lives there (package image/grub
// documents the variables): GRUB's load_env reads it before it picks a
// slot and save_env marks the slot it is about to boot as on trial; the
// node, once healthy, writes the commit back. GRUB writes the file in
// place, sector by sector, without a filesystem driver that can allocate,
// so the file must keep its exact size: the image builder creates it
// full-size and every writer rewrites all 1024 bytes.
//
// The format is GRUB's (grub-core/lib/envblk.c): the line
// "# GRUB Environment Block", then name=value lines, where a backslash
// escapes a backslash or a newline in the value, then '#' padding to the
// end of the block. Parse is strict about size, header, padding and
// duplicate names, because a block that does not look like what GRUB or
// this package wrote means something else wrote it, and the node should
// say so rather than guess which slot is committed.
package grubenv
