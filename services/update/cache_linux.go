package update

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache evicts the written range from the page cache, so that reading
// it back reads the device.
func dropCache(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
