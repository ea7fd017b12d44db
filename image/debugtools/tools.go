package debugtools

import (
	"fmt"
	"io/fs"
	"path"

	"github.com/goleudy/goleudy/image/initramfs"
)

// Tools is a built busybox: what Build puts in the initramfs.
type Tools struct {
	Target   string    // e.g. linux/arm6
	Commands []string  // the commands it runs, sorted
	Files    []File    // the binary, Dir/bb
	Symlinks []Symlink // Dir/<command> -> bb, one per command
	Size     int64     // the binary's size in bytes
}

// File is a regular file for the initramfs.
type File struct {
	Path string // absolute, e.g. /bin/bb
	Mode fs.FileMode
	Data []byte
}

// Symlink is a link for the initramfs. Targets are relative, as in
// u-root's images, so they hold wherever the tree is unpacked.
type Symlink struct {
	Path   string // absolute, e.g. /bin/ls
	Target string // e.g. bb
}

func newTools(target string, commands []string, bin []byte) Tools {
	t := Tools{
		Target:   target,
		Commands: sorted(commands),
		Files:    []File{{Path: path.Join(Dir, binaryName), Mode: 0o755, Data: bin}},
		Size:     int64(len(bin)),
	}
	for _, c := range t.Commands {
		t.Symlinks = append(t.Symlinks, Symlink{Path: path.Join(Dir, c), Target: binaryName})
	}
	return t
}

// AddTo adds the binary and its links to an initramfs. It fails, naming
// the path, if the archive already holds one of them.
func (t Tools) AddTo(a *initramfs.Archive) error {
	for _, f := range t.Files {
		if err := a.AddFile(f.Path, f.Mode, f.Data); err != nil {
			return fmt.Errorf("debugtools: %w", err)
		}
	}
	for _, l := range t.Symlinks {
		if err := a.AddSymlink(l.Path, l.Target); err != nil {
			return fmt.Errorf("debugtools: %w", err)
		}
	}
	return nil
}
