package supervisor

import (
	"fmt"
	"runtime/debug"
	"slices"
	"time"
)

// ServiceStatus is a snapshot of one service, for the info and admin
// endpoints, metrics, and the BGP health gate.
type ServiceStatus struct {
	Name  string
	State State
	// Since is when the service entered State, on the supervisor's clock.
	Since time.Time
	// Restarts counts the times Run was called again after a failure.
	// A stable run resets the backoff, not this count.
	Restarts int
	// LastError is the most recent failure, or the error returned at
	// shutdown if not a cancellation. It is kept after the service
	// recovers, for diagnosis; nil if the service never failed.
	LastError error
	// NextRestart is when a BackingOff service will be run again; zero
	// in other states.
	NextRestart time.Time
	// Health is nil when the service is Running and, if it implements
	// HealthChecker, reports healthy. Otherwise it says why not; for a
	// service that is not Running it matches ErrNotRunning.
	Health error
}

// Healthy reports whether the service is running and healthy.
func (st ServiceStatus) Healthy() bool { return st.Health == nil }

// Status returns a snapshot of every service, in start order. It calls the
// Health method of each running service that has one, without holding any
// lock, so a slow health check delays only this caller.
func (s *Supervisor) Status() []ServiceStatus {
	s.mu.Lock()
	units := slices.Clone(s.units)
	out := make([]ServiceStatus, len(units))
	for i, u := range units {
		out[i] = u.snapshotLocked()
	}
	s.mu.Unlock()
	for i, u := range units {
		out[i].Health = u.health(out[i].State)
	}
	return out
}

// Lookup returns the status of the named service.
func (s *Supervisor) Lookup(name string) (ServiceStatus, bool) {
	s.mu.Lock()
	var u *unit
	for _, c := range s.units {
		if c.name == name {
			u = c
			break
		}
	}
	if u == nil {
		s.mu.Unlock()
		return ServiceStatus{}, false
	}
	st := u.snapshotLocked()
	s.mu.Unlock()
	st.Health = u.health(st.State)
	return st, true
}

// Changed returns a channel that is closed at the next change of any
// service's state, restarts or last error. Health changes are not reported;
// poll Status for those. To watch without missing a change, take the
// channel before reading the status:
//
//	for {
//		ch := s.Changed()
//		act(s.Status())
//		select {
//		case <-ch:
//		case <-ctx.Done():
//			return
//		}
//	}
func (s *Supervisor) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// notifyLocked wakes Changed watchers. s.mu must be held.
func (s *Supervisor) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// markStopped records that units will never be started.
func (s *Supervisor) markStopped(units []*unit) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range units {
		u.state = Stopped
		u.since = now
	}
	s.notifyLocked()
}

// snapshotLocked returns u's status without Health. s.mu must be held.
func (u *unit) snapshotLocked() ServiceStatus {
	return ServiceStatus{
		Name:        u.name,
		State:       u.state,
		Since:       u.since,
		Restarts:    u.restarts,
		LastError:   u.lastErr,
		NextRestart: u.nextRestart,
	}
}

// health returns the service's health given its state, recovering a
// panicking health check: callers are HTTP handlers and the BGP gate, and
// the node is PID 1.
func (u *unit) health(state State) (err error) {
	if state != Running {
		return fmt.Errorf("supervisor: service %q is %v: %w", u.name, state, ErrNotRunning)
	}
	hc, ok := u.svc.(HealthChecker)
	if !ok {
		return nil
	}
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Service: u.name, Value: v, Stack: debug.Stack()}
		}
	}()
	if err := hc.Health(); err != nil {
		return fmt.Errorf("supervisor: service %q unhealthy: %w", u.name, err)
	}
	return nil
}
