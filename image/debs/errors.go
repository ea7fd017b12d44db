package debs

import "errors"

var (
	// ErrChecksum is a package whose size or sha256 is not the pinned one.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrNotCached is a package the cache lacks; tests and builds that
	// must not download say how to fill the cache.
	ErrNotCached = errors.New("not in the package cache; run: go run ./tools/goleudy image fetch")
	// ErrFormat is a malformed .deb, ar or tar archive.
	ErrFormat = errors.New("malformed package")
	// ErrUnsafePath is an archive member whose path would leave the
	// directory it is extracted into.
	ErrUnsafePath = errors.New("unsafe path in package")
	// ErrMissingFile is a file asked for that the package does not hold.
	ErrMissingFile = errors.New("file not in package")
	// ErrUnknownModule is a root module neither in modules.dep nor built
	// into the kernel.
	ErrUnknownModule = errors.New("unknown module")
	// ErrSources is an apt sources file that cannot be read.
	ErrSources = errors.New("bad apt sources")
)
