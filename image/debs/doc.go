// Package debs gets the Debian packages an image is made of and takes
// them apart, in Go, without root, dpkg or a container.
//
// It is the first stage of the image build. [Fetcher] fills a cache with
// the packages a board pins (see package boards), from the mirrors the
// build machine's apt already uses ([Sources], [URIs]) or a directory or
// URL given by flag, and checks each against its pinned size and sha256
// both when it arrives and whenever it is used. [Extract] and its helpers
// read a .deb (an ar archive holding data.tar.xz, .zst, .gz, .bz2, .lzma
// or plain tar) so later stages can take the kernel, modules, firmware and
// bootloader files they need.
//
// Decompressing a kernel package takes seconds, and minutes under the race
// detector, so [Fetcher.Unpacked] unpacks a package once into the cache
// with a manifest of every file's hash, and a [Tree] checks each file
// against it when read. [ReadKernel] reads a kernel package's modules, and
// [Kernel.ModulesDep] writes the modules.dep the node loads them with,
// since Debian's kernel packages leave depmod to their postinst;
// [ModuleClosure] says which module files a board's root modules pull in.
//
// The cache is a plain directory of .deb files, each named by the base
// name of its pool path, as apt's own archive cache is. A file is written
// under a temporary name and renamed into place only after its hash
// checks, so the cache never holds a partial or wrong package under a
// real name, and several builds and test binaries may share it. Tests
// never download: they read the cache, and fail with ErrNotCached, which
// says to run `go run ./tools/goleudy image fetch`, when it lacks a
// package.
package debs
