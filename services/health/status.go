package health

import (
	"net/netip"
	"slices"
	"time"
)

// PrefixStatus is a snapshot of one prefix, for the admin API and metrics.
type PrefixStatus struct {
	Prefix netip.Prefix
	// Targets are the service addresses probed for it.
	Targets []netip.AddrPort
	Healthy bool
	// Successes and Failures count the current run of consecutive
	// successful or failed rounds; one of them is zero.
	Successes, Failures int
	// LastError is why the most recent failed round failed. It is kept
	// after recovery, for diagnosis; nil if no round has failed.
	LastError error
	// LastChange is when Healthy last changed, or when the prefix was
	// added if it never has.
	LastChange time.Time
	// LastProbe is when the last round was counted; zero before the first.
	LastProbe time.Time
}

// Status returns every configured prefix, in config order.
func (s *Service) Status() []PrefixStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PrefixStatus, 0, len(s.order))
	for _, pfx := range s.order {
		st := s.prefixes[pfx]
		out = append(out, PrefixStatus{
			Prefix:     pfx,
			Targets:    slices.Clone(st.targets),
			Healthy:    st.healthy,
			Successes:  st.successes,
			Failures:   st.failures,
			LastError:  st.lastErr,
			LastChange: st.lastChange,
			LastProbe:  st.lastProbe,
		})
	}
	return out
}
