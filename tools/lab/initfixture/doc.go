// Command initfixture is a tiny /init for the lab's QEMU boot tests. It
// proves the harness, not the product: that a Debian kernel from the
// package cache boots under the emulated machine, prints on the console
// the harness reads, sees the NICs the harness wired into the test's
// namespaces, and carries traffic over them. With that proven
// separately, a failing boot test of the real image (goleudy-node as
// /init) points at the image, not at the harness.
//
// Run as PID 1 from an initramfs it:
//
//   - mounts /proc, /sys and /dev;
//   - loads every kernel module in /modules, in name order (the test
//     names them NN-name.ko in dependency order, because NIC drivers are
//     modules in Debian's kernels);
//   - gives the i-th NIC, counted in order of MAC address, the i-th
//     address of initfixture.addr=CIDR[,CIDR...] on the kernel command
//     line, and brings it up;
//   - waits for initfixture.disks=N block devices and prints each with
//     its size and first bytes;
//   - answers UDP echo (port 7) on every address;
//   - prints "initfixture: ready <kernel release> <number of NICs>";
//   - then waits forever, or powers off when initfixture.poweroff=1.
//
// It refuses to run as anything but PID 1, so it never mounts over a
// host's /proc by mistake.
package main
