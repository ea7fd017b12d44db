// Package boot does the duties of PID 1 on a goleudy node, so that the rest
// of the node program can behave like an ordinary process.
//
// On the appliance the kernel starts goleudy-node as /init from an
// initramfs. Nothing else has run: there is no /proc, no /dev/pts, no
// hostname, no module loaded by udev, and nobody reaps orphans. Package
// init/node calls [Run] when it finds itself PID 1, and Run brings the
// system to the point where networking, the management tunnel and the
// supervised services can start:
//
//  1. Pseudo-filesystems, /dev symlinks and the hostname, as [Step] values
//     whose String reads like the shell line it replaces, so the console
//     log says exactly which step failed ([DefaultSteps], [RunSteps]).
//  2. A [Console] on /dev/console and /dev/kmsg for the lines an operator
//     with a serial cable needs (the "ready" line).
//  3. Kernel modules from the board definition, with their dependencies from
//     modules.dep ([LoadModules]).
//  4. The hardware watchdog, petted by an owned goroutine ([StartWatchdog]).
//  5. A reaper for orphans that the kernel re-parents to PID 1 ([Reaper]).
//  6. The boot partition, read-only, where the seed file lives
//     ([MountBoot]); the seed itself is read by services/mgmt.
//  7. The data partition, where the node keeps its last good config and
//     zones so that it fails static across reboots ([MountData]). The
//     image leaves it unformatted with a marker, and the first boot
//     formats it ext4 to the size of the disk. A data partition that lost
//     its filesystem is recreated, and a node without one runs on a
//     tmpfs, loudly, rather than not at all.
//
// PID 1 must never exit: when the kernel's init exits, the kernel panics.
// A node that cannot go on calls [Fatal], which logs, syncs and reboots
// after a delay, so that the bootloader's A/B fallback can act. The admin
// service shuts down through [Power.Reboot] and [Power.PowerOff].
//
// The paths this package touches (/sys, /dev, the modules tree, the
// watchdog device) are options, so tests run the same code against a temp
// root, a fake sysfs tree, loop devices and plain files.
package boot
