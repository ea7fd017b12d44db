package grub

import (
	"errors"
	"fmt"

	"github.com/goleudy/goleudy/image/grubenv"
)

// Slot is an A/B slot.
type Slot string

// The two slots.
const (
	A Slot = "A"
	B Slot = "B"
)

// Other returns the other slot.
func (s Slot) Other() Slot {
	if s == A {
		return B
	}
	return A
}

// ParseSlot reads "A" or "B", as the node finds it in goleudy.slot=.
func ParseSlot(v string) (Slot, error) {
	switch Slot(v) {
	case A, B:
		return Slot(v), nil
	}
	return "", fmt.Errorf("grub: slot %q: want A or B", v)
}

// The grubenv variables of the A/B state.
const (
	VarOrder = "ORDER"
	VarAOK   = "A_OK"
	VarBOK   = "B_OK"
	VarATry  = "A_TRY"
	VarBTry  = "B_TRY"
)

// ErrBadState wraps errors about grubenv values grub.cfg would not have
// written.
var ErrBadState = errors.New("grub: bad A/B state in grubenv")

// State is the A/B boot state grub.cfg keeps in grubenv.
type State struct {
	Order [2]Slot // preference, first to last
	OK    [2]bool // indexed by slot: OK[0] is A_OK
	Try   [2]bool // indexed by slot: Try[0] is A_TRY
}

func idx(s Slot) int {
	if s == B {
		return 1
	}
	return 0
}

// Fresh is the state of a newly built image: slot first in ORDER, the
// given slots bootable, nothing on trial.
func Fresh(first Slot, bootable ...Slot) State {
	st := State{Order: [2]Slot{first, first.Other()}}
	for _, s := range bootable {
		st.OK[idx(s)] = true
	}
	return st
}

// IsOK reports whether s holds a bootable system.
func (st State) IsOK(s Slot) bool { return st.OK[idx(s)] }

// OnTrial reports whether s was booted and has not committed since.
func (st State) OnTrial(s Slot) bool { return st.Try[idx(s)] }

// Next is what grub.cfg does at boot, in Go: the slot it boots and the
// state it saves before loading the kernel.
func (st State) Next() (Slot, State) {
	chosen := Slot("")
	for _, s := range st.Order {
		if st.IsOK(s) && !st.OnTrial(s) {
			chosen = s
			break
		}
	}
	if chosen == "" {
		st.Try = [2]bool{}
		for _, s := range st.Order {
			if st.IsOK(s) {
				chosen = s
				break
			}
		}
	}
	if chosen == "" {
		chosen = A
	}
	st.Try[idx(chosen)] = true
	return chosen, st
}

// Commit is what the node does once it is healthy on slot booted: clear
// its trial flag and mark it bootable. If booted is not first in ORDER,
// the first slot's trial failed and GRUB fell back; Commit marks that
// slot not bootable and puts booted first, and reports the rollback.
func (st *State) Commit(booted Slot) (rolledBack bool) {
	st.Try[idx(booted)] = false
	st.OK[idx(booted)] = true
	if st.Order[0] != booted {
		st.OK[idx(booted.Other())] = false
		st.Try[idx(booted.Other())] = false
		st.Order = [2]Slot{booted, booted.Other()}
		return true
	}
	return false
}

// Trial is what an update does after writing slot s and before rebooting:
// mark s bootable and not yet tried, and put it first.
func (st *State) Trial(s Slot) {
	st.OK[idx(s)] = true
	st.Try[idx(s)] = false
	st.Order = [2]Slot{s, s.Other()}
}

// MarkBad takes s out of the rotation, for a slot the node knows is
// broken (an update that failed to write, a bad hash).
func (st *State) MarkBad(s Slot) {
	st.OK[idx(s)] = false
	st.Try[idx(s)] = false
	if st.Order[0] == s {
		st.Order = [2]Slot{s.Other(), s}
	}
}

// Vars is an environment the state lives in: GRUB's grubenv
// (*grubenv.Env) on the GRUB boards, U-Boot's uboot.env (*ubootenv.Env)
// on the Pis, whose boot script follows the same rules.
type Vars interface {
	Get(name string) (string, bool)
	Set(name, value string) error
}

// StateFromEnv reads the state from an environment block. A missing
// variable takes the default grub.cfg sets before load_env (ORDER "A B",
// flags 0); a value grub.cfg and this package never write is an error
// naming the variable, because it means something else edited the block.
func StateFromEnv(env Vars) (State, error) {
	st := State{Order: [2]Slot{A, B}}
	if v, ok := env.Get(VarOrder); ok {
		switch v {
		case "A B":
		case "B A":
			st.Order = [2]Slot{B, A}
		default:
			return State{}, fmt.Errorf("%w: %s=%q: want \"A B\" or \"B A\"", ErrBadState, VarOrder, v)
		}
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{
		{VarAOK, &st.OK[0]}, {VarBOK, &st.OK[1]}, {VarATry, &st.Try[0]}, {VarBTry, &st.Try[1]},
	} {
		v, ok := env.Get(f.name)
		if !ok {
			continue
		}
		switch v {
		case "0":
		case "1":
			*f.dst = true
		default:
			return State{}, fmt.Errorf("%w: %s=%q: want 0 or 1", ErrBadState, f.name, v)
		}
	}
	return st, nil
}

// Apply writes the state's five variables into env, keeping any others.
func (st State) Apply(env Vars) error {
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	if st.Order != [2]Slot{A, B} && st.Order != [2]Slot{B, A} {
		return fmt.Errorf("%w: ORDER %q: want A then B or B then A", ErrBadState, st.Order)
	}
	for _, kv := range [][2]string{
		{VarOrder, string(st.Order[0]) + " " + string(st.Order[1])},
		{VarAOK, flag(st.OK[0])}, {VarBOK, flag(st.OK[1])},
		{VarATry, flag(st.Try[0])}, {VarBTry, flag(st.Try[1])},
	} {
		if err := env.Set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// Encode returns a full environment block holding just the state (after
// grub-editenv's warning line), as the image builder writes it to EnvPath.
func (st State) Encode() ([]byte, error) {
	env := grubenv.New()
	if err := st.Apply(&env); err != nil {
		return nil, err
	}
	return env.Encode()
}

// DecodeState parses an environment block and reads the state from it.
func DecodeState(block []byte) (State, error) {
	env, err := grubenv.Parse(block)
	if err != nil {
		return State{}, err
	}
	return StateFromEnv(&env)
}

// String reads like the grubenv lines.
func (st State) String() string {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return fmt.Sprintf("ORDER=%q A_OK=%d B_OK=%d A_TRY=%d B_TRY=%d", string(st.Order[0])+" "+string(st.Order[1]), b(st.OK[0]), b(st.OK[1]), b(st.Try[0]), b(st.Try[1]))
}
