// Package debugtools builds u-root's core commands into one busybox-style
// binary for a node's architecture, for the initramfs of a debug image.
//
// A posted node never has a shell: its initramfs holds goleudy-node and
// nothing else that runs. On the operator's desk, with a board on a
// serial console, a shell, ls, ip and dmesg turn "it does not come up"
// into a reason. So the image builder can add these tools behind a flag,
// and only then; an image built with them is for the bench and must not
// be posted.
//
// The binary is made the way u-root makes its own images: gobusybox
// (github.com/u-root/gobusybox/src/pkg/bb) rewrites each command's main
// package into a library and writes one main that picks the command by
// argv[0], or by argv[1] when run as bb itself. [Build] returns the
// binary as /bin/bb and one /bin/<command> symlink to it per command,
// ready for [Tools.AddTo].
//
// Like goleudy-node, the binary is reproducible: the same commands, Go
// toolchain and target give the same bytes (-trimpath, no build id, no
// VCS stamp, CGO off). The commands' sources come from the module cache
// at the versions go.mod pins; go.mod lists each command as a tool, so
// `go mod tidy` keeps their dependencies and the build works offline
// after `go mod download`.
package debugtools
