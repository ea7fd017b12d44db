package supervisor

import (
	"errors"
	"fmt"
)

var (
	// ErrPanic is matched by errors.Is for a service failure caused by a
	// panic; see PanicError.
	ErrPanic = errors.New("panicked")

	// ErrAbandoned is matched by the error from Run and Close when at
	// least one service did not return within StopTimeout of being told
	// to stop.
	ErrAbandoned = errors.New("services abandoned at shutdown")

	// ErrNotRunning is the health of a service that is not Running.
	ErrNotRunning = errors.New("not running")

	// ErrClosed is returned by Run when Close was called first.
	ErrClosed = errors.New("supervisor: closed")

	// ErrAlreadyStarted is returned by a second call to Run.
	ErrAlreadyStarted = errors.New("supervisor: already started")

	// ErrInvalidService is matched by the error from New for a nil
	// service, an empty name or a duplicate name.
	ErrInvalidService = errors.New("invalid service")
)

// PanicError is the failure recorded when a service's Run, Name or Health
// panics. The supervisor recovers every such panic, because the node
// program is PID 1 and an unrecovered panic there is a kernel panic.
type PanicError struct {
	Service string // name of the service
	Value   any    // the value passed to panic
	Stack   []byte // stack of the panicking goroutine, from debug.Stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("supervisor: service %q panicked: %v", e.Service, e.Value)
}

// Unwrap makes errors.Is match ErrPanic, and the panic value too when it is
// an error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}
