//go:build !linux

package flash

import (
	"errors"
	"os"
)

func openFlags() int { return 0 }

func isFile(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

func capacity(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func dropCache(*os.File) {}

func check(device string, o Options) error {
	st, err := os.Stat(device)
	if err != nil {
		return err
	}
	if st.Mode().IsRegular() && o.AllowFile {
		return nil
	}
	return errors.New("flash: writing devices is supported on Linux only")
}
