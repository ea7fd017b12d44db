package rpiboot

import "fmt"

// TrybootArg is the reboot(2) argument (with LINUX_REBOOT_CMD_RESTART2)
// that sets the firmware's one-shot tryboot flag. "0" keeps the partition
// choice to autoboot.txt, whose [tryboot] section names the other slot.
const TrybootArg = "0 tryboot"

// RebootRestart2 is LINUX_REBOOT_CMD_RESTART2, the reboot(2) command that
// passes an argument to the kernel's restart handlers.
const RebootRestart2 = 0xa1b2c3d4

// Tryboot is the node's view of the A/B state at boot: the slot
// autoboot.txt commits to, and the slot the kernel command line says it
// booted (goleudy.slot=).
type Tryboot struct {
	Committed Slot
	Booted    Slot
}

// ReadTryboot reads autoboot.txt and the booted slot.
func ReadTryboot(autoboot []byte, booted Slot) (Tryboot, error) {
	committed, err := ParseAutoboot(autoboot)
	if err != nil {
		return Tryboot{}, err
	}
	if booted != A && booted != B {
		return Tryboot{}, fmt.Errorf("rpiboot: booted slot %q: want A or B", booted)
	}
	return Tryboot{Committed: committed, Booted: booted}, nil
}

// OnTrial reports whether this boot is a trial: the firmware booted the
// slot autoboot.txt keeps for tryboot. The node commits it once healthy,
// or reboots normally to go back.
func (t Tryboot) OnTrial() bool { return t.Booted != t.Committed }

// Commit returns the autoboot.txt that makes the booted slot the default.
// On a boot that is not a trial it is the file as it is.
func (t Tryboot) Commit() []byte { return AutobootFor(t.Booted) }

// Trial returns the reboot argument that boots the other slot once. It
// fails on a trial boot: the node must commit or go back first, or the
// "other" slot would be the committed one.
func (t Tryboot) Trial() (string, error) {
	if t.OnTrial() {
		return "", fmt.Errorf("rpiboot: slot %s is on trial; commit it or reboot normally before trying slot %s", t.Booted, t.Booted.Other())
	}
	return TrybootArg, nil
}

// Next is what the firmware boots after a reboot, given whether the
// tryboot flag was set: the [tryboot] partition once, else the committed
// one. Tests and the node's log use it to say what will happen.
func (t Tryboot) Next(tryboot bool) Slot {
	if tryboot {
		return t.Committed.Other()
	}
	return t.Committed
}
