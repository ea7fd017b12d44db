package supervisor

import "strconv"

// State is where a service is in its life under the supervisor.
//
// A service goes Starting → Running, then either Stopped (finished, or shut
// down) or BackingOff → Starting → Running again after a failure.
type State int

const (
	// Starting: the service has not been run yet, or its backoff delay
	// has passed, and Run is about to be called.
	Starting State = iota
	// Running: Run has been called and has not returned.
	Running
	// BackingOff: Run failed and the supervisor is waiting out the
	// backoff delay before calling it again.
	BackingOff
	// Stopped: the supervisor will not call Run again, because Run
	// returned nil, or the supervisor shut down.
	Stopped
)

func (s State) String() string {
	switch s {
	case Starting:
		return "starting"
	case Running:
		return "running"
	case BackingOff:
		return "backing-off"
	case Stopped:
		return "stopped"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}
