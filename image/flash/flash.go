// Package flash writes a node image to an SD card or SSD and reads it
// back to prove the card holds what was written. Operators flash cards
// on their own machines, often with several disks attached, so it refuses
// any device that is mounted, holds a mounted filesystem or swap, or
// holds the running system, and any target smaller than the image.
package flash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Errors a refusal wraps.
var (
	ErrInUse    = errors.New("device in use")
	ErrTooSmall = errors.New("device smaller than the image")
	ErrNotBlock = errors.New("not a block device")
	ErrMismatch = errors.New("read back differs from the image")
)

// ChunkSize is how much is written and verified at a time.
const ChunkSize = 4 << 20

// Options configure Write.
type Options struct {
	// Proc is where the mount and swap tables are read; "" is /proc.
	Proc string
	// Sys is where block devices' holders are looked up; "" is /sys.
	Sys string
	// AllowFile lets the target be a regular file (tests and dry runs).
	AllowFile bool
	// Progress, if set, is called after each chunk written and verified.
	Progress func(phase string, done, total int64)
}

// Result says what was written.
type Result struct {
	Bytes          int64
	Write, Verify  time.Duration
	DeviceCapacity int64
}

// Write copies the image at img to device, syncs, and reads it all back,
// comparing it with the image. Nothing is written unless every check
// passes.
func Write(ctx context.Context, img, device string, o Options) (Result, error) {
	var res Result
	if o.Proc == "" {
		o.Proc = "/proc"
	}
	if o.Sys == "" {
		o.Sys = "/sys"
	}
	src, err := os.Open(img)
	if err != nil {
		return res, fmt.Errorf("flash: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return res, fmt.Errorf("flash: %w", err)
	}
	if !st.Mode().IsRegular() {
		return res, fmt.Errorf("flash: image %s is not a regular file", img)
	}
	res.Bytes = st.Size()
	if err := check(device, o); err != nil {
		return res, err
	}
	dst, err := os.OpenFile(device, os.O_RDWR|openFlags(), 0)
	if err != nil {
		return res, fmt.Errorf("flash: %w", err)
	}
	defer dst.Close()
	if res.DeviceCapacity, err = capacity(dst); err != nil {
		return res, fmt.Errorf("flash: %s: %w", device, err)
	}
	if isFile(dst) {
		res.DeviceCapacity = max(res.DeviceCapacity, res.Bytes)
	}
	if res.DeviceCapacity < res.Bytes {
		return res, fmt.Errorf("flash: %s holds %d bytes, the image is %d: %w", device, res.DeviceCapacity, res.Bytes, ErrTooSmall)
	}

	start := time.Now()
	if err := copyChunks(ctx, dst, src, res.Bytes, o.Progress); err != nil {
		return res, fmt.Errorf("flash: writing %s: %w", device, err)
	}
	if err := dst.Sync(); err != nil {
		return res, fmt.Errorf("flash: syncing %s: %w", device, err)
	}
	res.Write = time.Since(start)
	dropCache(dst)

	start = time.Now()
	if err := verify(ctx, dst, src, res.Bytes, o.Progress); err != nil {
		return res, fmt.Errorf("flash: verifying %s: %w", device, err)
	}
	res.Verify = time.Since(start)
	return res, nil
}

func copyChunks(ctx context.Context, dst io.WriterAt, src io.ReaderAt, size int64, progress func(string, int64, int64)) error {
	buf := make([]byte, ChunkSize)
	for off := int64(0); off < size; off += ChunkSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(min(ChunkSize, size-off))
		if _, err := src.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if _, err := dst.WriteAt(buf[:n], off); err != nil {
			return err
		}
		if progress != nil {
			progress("write", off+int64(n), size)
		}
	}
	return nil
}

func verify(ctx context.Context, dst, src io.ReaderAt, size int64, progress func(string, int64, int64)) error {
	want, got := make([]byte, ChunkSize), make([]byte, ChunkSize)
	for off := int64(0); off < size; off += ChunkSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(min(ChunkSize, size-off))
		if _, err := src.ReadAt(want[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if _, err := dst.ReadAt(got[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if !bytes.Equal(want[:n], got[:n]) {
			i := 0
			for i < n && want[i] == got[i] {
				i++
			}
			return fmt.Errorf("at byte %d: %w", off+int64(i), ErrMismatch)
		}
		if progress != nil {
			progress("verify", off+int64(n), size)
		}
	}
	return nil
}

// Bar returns a Progress func drawing a one-line bar on w.
func Bar(w io.Writer) func(phase string, done, total int64) {
	start := time.Now()
	last := ""
	return func(phase string, done, total int64) {
		if phase != last {
			start, last = time.Now(), phase
		}
		const width = 30
		filled := int(float64(width) * float64(done) / float64(max(total, 1)))
		rate := float64(done) / max(time.Since(start).Seconds(), 0.001) / (1 << 20)
		fmt.Fprintf(w, "\r%-6s [%s%s] %4d/%d MiB %5.1f MiB/s", phase,
			bytes.Repeat([]byte("#"), filled), bytes.Repeat([]byte("."), width-filled), done>>20, total>>20, rate)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}
