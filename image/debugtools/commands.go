package debugtools

// Commands is the default set: u-root v0.16.0's cmds/core commands that
// make a serial-console debug shell useful on a board at the operator's
// desk. Each must have a `tool github.com/u-root/u-root/cmds/core/<name>`
// line in go.mod (see the package doc).
var Commands = []string{
	// A shell to type into, and a pager for long output.
	"gosh", "more",
	// Look around and fix up the initramfs and /data: files, directories,
	// links.
	"ls", "cat", "cp", "mv", "rm", "mkdir", "ln", "head", "tail", "grep", "hexdump",
	// Storage: which disk is which, what is mounted, how full, and
	// flushing before the power goes.
	"mount", "umount", "df", "blkid", "sync",
	// Why the kernel or a driver is unhappy: the log, loaded modules, the
	// kernel and machine.
	"dmesg", "lsmod", "uname",
	// The network: links, addresses and routes by role, reachability,
	// sockets, and fetching a file over OOB.
	"ip", "ping", "netstat", "wget",
	// The node process: is it running, how long, how much memory, and
	// stopping it.
	"ps", "kill", "free", "uptime",
}

// corePath is where u-root keeps the commands Commands names.
const corePath = "github.com/u-root/u-root/cmds/core/"
