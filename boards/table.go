package boards

// The pins below are copied from bookworm's and bookworm-security's
// Packages indexes (apt-cache show with the board's architecture; the
// firmware packages are in the non-free-firmware component). To bump one,
// update Version, Filename, SHA256 and Size together, and KernelRelease and
// the DTB paths with a kernel; the rule tests name whatever no longer
// agrees. armel has no bookworm-security suite, so the rpi kernel is the
// point release's. The i386 kernel is the point release's too: when it was
// pinned, the mirror's bookworm-security i386 index did not match its
// InRelease, so there was no verifiable newer pin.

// HostArch is the architecture the image is built on. Bootloader packages
// (grub-pc-bin, grub-efi-amd64-bin) are taken in this architecture whatever
// the board's: their modules are code for the firmware, not for the host.
const HostArch = "amd64"

// Kernels.
var (
	kernelAMD64 = Package{Name: "linux-image-6.1.0-56-amd64", Version: "6.1.192-2", Arch: "amd64",
		Filename: "pool/updates/main/l/linux-signed-amd64/linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb",
		SHA256:   "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1", Size: 70550672}
	kernel686 = Package{Name: "linux-image-6.1.0-50-686", Version: "6.1.176-1", Arch: "i386",
		Filename: "pool/main/l/linux-signed-i386/linux-image-6.1.0-50-686_6.1.176-1_i386.deb",
		SHA256:   "526c469c5148a2b61c4241c3f6575427096575e0ffef9541b6729351c600b3e4", Size: 51921880}
	kernelRPi = Package{Name: "linux-image-6.1.0-50-rpi", Version: "6.1.176-1", Arch: "armel",
		Filename: "pool/main/l/linux/linux-image-6.1.0-50-rpi_6.1.176-1_armel.deb",
		SHA256:   "b6646f99eb5809a17d5781054e009d5d4f2f532d5d03d9d30d7c6f87077b746b", Size: 26025696}
	kernelARM64 = Package{Name: "linux-image-6.1.0-56-arm64", Version: "6.1.192-2", Arch: "arm64",
		Filename: "pool/updates/main/l/linux-signed-arm64/linux-image-6.1.0-56-arm64_6.1.192-2_arm64.deb",
		SHA256:   "6f4ed2d1cb9106bc977c2b1960008f175e2eed5740340634b7894e65ef5acc82", Size: 59812568}
)

// Firmware and bootloaders.
var (
	firmwareRealtek = Package{Name: "firmware-realtek", Version: "20230210-5", Arch: "all",
		Filename: "pool/non-free-firmware/f/firmware-nonfree/firmware-realtek_20230210-5_all.deb",
		SHA256:   "586ce39fc23f8b1d121bd430f5e187c80701df650f4baba05771d828444b075c", Size: 1490944}
	raspiFirmware = Package{Name: "raspi-firmware", Version: "1.20220830+ds-1", Arch: "all",
		Filename: "pool/non-free-firmware/r/raspi-firmware/raspi-firmware_1.20220830+ds-1_all.deb",
		SHA256:   "0094ced47a7fbb6a220ff83e7b43aa637a5d8f6802461e2e4e474597fb796f62", Size: 4815784}
	// u-boot-rpi: U-Boot for the Pis, started by the VideoCore firmware.
	uBootRPiArm64 = Package{Name: "u-boot-rpi", Version: "2023.01+dfsg-2+deb12u3", Arch: "arm64",
		Filename: "pool/main/u/u-boot/u-boot-rpi_2023.01+dfsg-2+deb12u3_arm64.deb",
		SHA256:   "3722f286cfafca03f4cac7adade04fccf66158ad8467501b9deabd154162b5e8", Size: 378496}
	uBootRPiArmel = Package{Name: "u-boot-rpi", Version: "2023.01+dfsg-2+deb12u3", Arch: "armel",
		Filename: "pool/main/u/u-boot/u-boot-rpi_2023.01+dfsg-2+deb12u3_armel.deb",
		SHA256:   "72b3bbdad5c4befe60d9d9507dcf800fa967214a00c1a3808e7f4e8b99060ba2", Size: 242612}
	grubPCBin = Package{Name: "grub-pc-bin", Version: "2.06-13+deb12u2", Arch: "amd64",
		Filename: "pool/main/g/grub2/grub-pc-bin_2.06-13+deb12u2_amd64.deb",
		SHA256:   "db6aced5a89f02e10e150140b4df9621196f311c26203baf8558b4c6808e1298", Size: 1001508}
	grubEFIAMD64Bin = Package{Name: "grub-efi-amd64-bin", Version: "2.06-13+deb12u2", Arch: "amd64",
		Filename: "pool/main/g/grub2/grub-efi-amd64-bin_2.06-13+deb12u2_amd64.deb",
		SHA256:   "c04786d9f64fbf7cd181013266a8af52b463599cc54189915d03f1459e743135", Size: 1577400}
)

// Tools are host packages the build runs programs from without installing
// them: grub-mkimage from grub-common, with the one shared library it
// needs that a minimal Debian lacks (libdevmapper1.02.1; its own needs,
// libselinux1 and libudev1, are pre-dependencies of the essential
// util-linux, and liblzma5 of dpkg, so every Debian has them). Run it with
// LD_LIBRARY_PATH set to the extracted lib/x86_64-linux-gnu.
var Tools = []Package{
	{Name: "grub-common", Version: "2.06-13+deb12u2", Arch: "amd64",
		Filename: "pool/main/g/grub2/grub-common_2.06-13+deb12u2_amd64.deb",
		SHA256:   "fa2a91e48bb85effb1d9e22e16d83774e6de0ae6167268e8150e76ae963ec671", Size: 2719088},
	{Name: "libdevmapper1.02.1", Version: "2:1.02.185-2", Arch: "amd64",
		Filename: "pool/main/l/lvm2/libdevmapper1.02.1_1.02.185-2_amd64.deb",
		SHA256:   "aaa78ca236055fedccf637eacf7bda02bf1980b2db668dccd202b04d0d2cfe04", Size: 132796},
}

// Module groups shared by rows.
var (
	// Filesystems: the boot and slot partitions are FAT (vfat needs a
	// codepage and an iocharset), data is ext4, whose metadata checksums
	// need crc32c.
	fsModules = []string{"ext4", "crc32c_generic", "vfat", "nls_cp437", "nls_ascii", "nls_utf8"}
	// x86 TPMs: discrete (TIS, often behind LPC) and firmware (CRB).
	x86TPM = []string{"tpm_tis", "tpm_crb"}
)

func join(groups ...[]string) []string {
	var all []string
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

func files(pkg string, paths ...string) []File {
	fs := make([]File, len(paths))
	for i, p := range paths {
		fs[i] = File{Package: pkg, Path: p}
	}
	return fs
}

func prefixed(prefix string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// rtl8153 is the firmware r8152 loads for the RTL8153/8156 USB NICs that
// take the second role on boards with one port.
var rtl8153 = prefixed("lib/firmware/rtl_nic/",
	"rtl8153a-2.fw", "rtl8153a-3.fw", "rtl8153a-4.fw", "rtl8153b-2.fw", "rtl8153c-1.fw",
	"rtl8156a-2.fw", "rtl8156b-2.fw")

// panicReboot makes a kernel panic (an init that died) reboot, so the
// bootloader's boot counter can fall back instead of the node hanging.
const panicReboot = "panic=10"

// piQEMU is what the Pi boards change under QEMU. The raspi machines
// have no NIC of their own, and QEMU's only USB NIC, usb-net, is a CDC
// Ethernet device, so images for emulation carry cdc_ether. Under QEMU
// 7.2 the raspi machines reset at once when the node arms the BCM2835
// watchdog (seen: the guest reboots right after the node's modules load,
// where it starts the watchdog; the timer is not emulated as a
// countdown), so the emulated Pi runs without bcm2835_wdt and the node
// goes on as on a board with no watchdog.
var piQEMU = QEMU{Modules: []string{"cdc_ether"}, NoModules: []string{"bcm2835_wdt"}}

var table = []Board{
	{
		Name:        "brix",
		Description: "Gigabyte BRIX and similar x86-64 mini PCs: UEFI, one onboard NIC, a USB NIC for the second role",
		GOARCH:      "amd64",
		Kernel:      kernelAMD64, KernelRelease: "6.1.0-56-amd64",
		Packages: []Package{grubEFIAMD64Bin, firmwareRealtek},
		Modules: join(
			// NICs: Realtek or Intel onboard, Realtek/ASIX USB for the
			// second role; e1000e under QEMU.
			[]string{"r8169", "igb", "e1000e", "r8152", "ax88179_178a"},
			// Storage: SATA (also QEMU's q35), NVMe, USB sticks.
			[]string{"ahci", "sd_mod", "nvme", "xhci_pci", "ehci_pci", "usb_storage", "uas"},
			fsModules,
			// Watchdog: the chipset's TCO timer (q35 has one too) and
			// QEMU's i6300esb.
			[]string{"iTCO_wdt", "i6300esb"},
			x86TPM,
		),
		Firmware: files("firmware-realtek", append(prefixed("lib/firmware/rtl_nic/",
			"rtl8168g-2.fw", "rtl8168g-3.fw", "rtl8168h-2.fw", "rtl8125a-3.fw", "rtl8125b-2.fw"),
			rtl8153...)...),
		// No serial port on the box; ttyS0 is for QEMU and for units
		// that have a header.
		Console: "tty1",
		Cmdline: []string{"console=ttyS0,115200", panicReboot},
		Boot:    BootUEFI,
		Table:   TableGPT,
		// The onboard port faces the IXP; the USB NIC goes to the host's
		// management LAN.
		Ports: Ports{IX: "driver:r8169", OOB: "driver:r8152"},
		QEMU: QEMU{System: "qemu-system-x86_64", Machine: "q35", MemoryMiB: 1024,
			Firmware: []string{"ovmf"}, Disk: "ahci", NIC: "e1000e", Watchdog: "i6300esb",
			Serial: 0, Ports: Ports{IX: "eth0", OOB: "eth1"}},
	},
	{
		Name:        "fitpc2i",
		Description: "CompuLab fit-PC2i: Atom Z530 (32-bit only, no PAE), legacy BIOS, two onboard Realtek RTL8111D",
		GOARCH:      "386",
		Kernel:      kernel686, KernelRelease: "6.1.0-50-686",
		Packages: []Package{grubPCBin, firmwareRealtek},
		Modules: join(
			// NICs: the two onboard r8169; e1000 under QEMU; r8152 for a
			// USB NIC.
			[]string{"r8169", "e1000", "r8152"},
			// Storage: the US15W's PATA (its disk sits behind a
			// PATA-SATA bridge), the SD slot, USB; ata_piix under QEMU's
			// pc machine.
			[]string{"pata_sch", "ata_piix", "ahci", "sd_mod", "sdhci_pci", "mmc_block",
				"uhci_hcd", "ehci_pci", "usb_storage"},
			fsModules,
			// Watchdog: QEMU's i6300esb. The US15W has no watchdog driver
			// in this kernel.
			[]string{"i6300esb"},
			x86TPM,
		),
		// RTL8111D is r8169's RTL_GIGA_MAC_VER_25/26.
		Firmware: files("firmware-realtek", append(prefixed("lib/firmware/rtl_nic/",
			"rtl8168d-1.fw", "rtl8168d-2.fw"), rtl8153...)...),
		Console: "tty1",
		Cmdline: []string{"console=ttyS0,115200", panicReboot},
		Boot:    BootBIOS,
		Table:   TableMBR,
		// The two onboard ports in PCI order: without udev in the
		// initramfs the kernel names them eth0 and eth1 as it probes
		// them, and a USB NIC comes after both.
		Ports: Ports{IX: "eth0", OOB: "eth1"},
		QEMU: QEMU{System: "qemu-system-i386", Machine: "pc", CPU: "n270", MemoryMiB: 1024,
			Firmware: []string{"seabios"}, Disk: "ide", NIC: "e1000", Watchdog: "i6300esb"},
	},
	{
		Name:        "rpi",
		Description: "Raspberry Pi 1 and Zero (ARMv6): VideoCore firmware, U-Boot A/B, onboard or USB NICs",
		GOARCH:      "arm", GOARM: "6",
		Kernel: kernelRPi, KernelRelease: "6.1.0-50-rpi",
		Packages: []Package{raspiFirmware, uBootRPiArmel},
		Modules: join(
			// NICs: onboard SMSC LAN9512/9514 (Pi 1 B), Realtek and ASIX
			// USB NICs (Zero, second role).
			[]string{"smsc95xx", "r8152", "asix"},
			// SD card (bcm2835 sdhost and the Arasan SDHCI), USB storage.
			[]string{"bcm2835", "sdhci_iproc", "mmc_block", "dwc2", "usb_storage"},
			fsModules,
			[]string{"bcm2835_wdt"},
			// TPM: SPI modules on the GPIO header.
			[]string{"tpm_tis_spi"},
		),
		BootFirmware: files("raspi-firmware", prefixed("usr/lib/raspi-firmware/",
			"bootcode.bin", "start.elf", "fixup.dat")...),
		// U-Boot's rpi build covers every BCM2835 model (Pi 1, Zero, Zero W).
		Bootloader: File{Package: "u-boot-rpi", Path: "usr/lib/u-boot/rpi/u-boot.bin"},
		DTBs: prefixed("usr/lib/linux-image-6.1.0-50-rpi/",
			"bcm2835-rpi-a.dtb", "bcm2835-rpi-a-plus.dtb", "bcm2835-rpi-b.dtb", "bcm2835-rpi-b-rev2.dtb",
			"bcm2835-rpi-b-plus.dtb", "bcm2835-rpi-zero.dtb", "bcm2835-rpi-zero-w.dtb"),
		// Pi 0/1/2 have their UART at ttyAMA0 (raspi-firmware's choice too).
		Console: "ttyAMA0,115200",
		Cmdline: []string{"console=tty1", panicReboot},
		Boot:    BootRPiUBoot,
		Table:   TableMBR,
		// The onboard port (first to probe), and a USB NIC.
		Ports: Ports{IX: "eth0", OOB: "eth1"},
		// QEMU's raspi0 lacks the power management block, and the
		// kernel's bcm2835-power driver oopses on it before the console
		// is up; the real Pi needs the driver. The watchdog driver is
		// built into this kernel; see piQEMU for why it stays off.
		QEMU: QEMU{System: "qemu-system-arm", Machine: "raspi0", MemoryMiB: 512,
			DTB: "usr/lib/linux-image-6.1.0-50-rpi/bcm2835-rpi-zero.dtb",
			Cmdline: []string{"initcall_blacklist=bcm2835_power_driver_init",
				"initcall_blacklist=bcm2835_wdt_driver_init"},
			Modules: piQEMU.Modules, Bootloader: "usr/lib/u-boot/rpi/uboot.elf"},
	},
	{
		Name:        "rpi64",
		Description: "Raspberry Pi 3 and 4 (and Zero 2 W, 400), 64-bit: VideoCore firmware, U-Boot A/B. Pi 5 needs a newer kernel than bookworm's 6.1 (no bcm2712 DTB).",
		GOARCH:      "arm64",
		Kernel:      kernelARM64, KernelRelease: "6.1.0-56-arm64",
		Packages: []Package{raspiFirmware, uBootRPiArm64},
		Modules: join(
			// NICs: SMSC (3 B), LAN78xx (3 B+), GENET (4), USB NICs.
			[]string{"smsc95xx", "lan78xx", "genet", "r8152", "asix"},
			// SD: bcm2835 sdhost (3), Arasan/iProc SDHCI (4's emmc2);
			// USB: dwc2 (3), VL805 xHCI behind PCIe with its reset
			// controller (4).
			[]string{"bcm2835", "sdhci_iproc", "mmc_block", "dwc2", "xhci_pci", "reset_raspberrypi",
				"usb_storage"},
			fsModules,
			[]string{"bcm2835_wdt"},
			[]string{"tpm_tis_spi", "tpm_crb"},
		),
		BootFirmware: files("raspi-firmware", prefixed("usr/lib/raspi-firmware/",
			"bootcode.bin", "start.elf", "fixup.dat", "start4.elf", "fixup4.dat")...),
		// U-Boot's rpi_arm64 build covers Pi 3, 4 and Zero 2 W, taking
		// the device tree the firmware hands it.
		Bootloader: File{Package: "u-boot-rpi", Path: "usr/lib/u-boot/rpi_arm64/u-boot.bin"},
		DTBs: prefixed("usr/lib/linux-image-6.1.0-56-arm64/broadcom/",
			"bcm2837-rpi-3-a-plus.dtb", "bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-plus.dtb",
			"bcm2837-rpi-zero-2-w.dtb", "bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb"),
		// Pi 3 and 4 have the mini UART at ttyS1 (the PL011 serves
		// Bluetooth), as raspi-firmware chooses.
		Console: "ttyS1,115200",
		Cmdline: []string{"console=tty1", panicReboot},
		Boot:    BootRPiUBoot,
		Table:   TableMBR,
		Ports:   Ports{IX: "eth0", OOB: "eth1"},
		// raspi3b's mini UART (ttyS1) is QEMU's second serial port.
		QEMU: QEMU{System: "qemu-system-aarch64", Machine: "raspi3b", MemoryMiB: 1024,
			DTB: "usr/lib/linux-image-6.1.0-56-arm64/broadcom/bcm2837-rpi-3-b.dtb", Serial: 1,
			Modules: piQEMU.Modules, NoModules: piQEMU.NoModules, Bootloader: "usr/lib/u-boot/rpi_arm64/u-boot.bin"},
	},
	{
		Name:        "vps",
		Description: "x86-64 virtual machine with virtio devices, booting from UEFI or BIOS",
		GOARCH:      "amd64",
		Kernel:      kernelAMD64, KernelRelease: "6.1.0-56-amd64",
		Packages: []Package{grubEFIAMD64Bin, grubPCBin},
		Modules: join(
			[]string{"virtio_pci", "virtio_net", "virtio_blk", "virtio_scsi", "sd_mod", "e1000"},
			// Some hosts give the disk as emulated IDE or AHCI.
			[]string{"ata_piix", "ahci"},
			fsModules,
			[]string{"i6300esb", "iTCO_wdt"},
			x86TPM,
		),
		// Serial first: a VPS's console is usually its serial port, with
		// the VGA console beside it.
		Console: "ttyS0,115200",
		Cmdline: []string{"console=tty0", panicReboot},
		Boot:    BootUEFIBIOS,
		Table:   TableGPT,
		// virtio NICs in PCI order.
		Ports: Ports{IX: "eth0", OOB: "eth1"},
		QEMU: QEMU{System: "qemu-system-x86_64", Machine: "q35", MemoryMiB: 1024,
			Firmware: []string{"ovmf", "seabios"}, Disk: "virtio", NIC: "virtio-net-pci", Watchdog: "i6300esb"},
	},
}
