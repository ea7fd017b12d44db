package health

import "errors"

// Sentinel errors, for errors.Is on PrefixStatus.LastError and Health.
var (
	// ErrUnhealthy is wrapped by Health when a prefix is not healthy.
	ErrUnhealthy = errors.New("prefix unhealthy")
	// ErrNoTargets means no dns.listen address lies inside the prefix,
	// so there is nothing to probe and the prefix stays unhealthy.
	ErrNoTargets = errors.New("no DNS service address inside the prefix")
	// ErrTimeout means the local server did not answer within the
	// probe timeout.
	ErrTimeout = errors.New("timeout")
	// ErrRcode means the answer had an rcode other than NOERROR.
	ErrRcode = errors.New("bad rcode")
	// ErrWrongAnswer means the answer was NOERROR but not what the node
	// serves: not authoritative, or missing the SOA or identity.
	ErrWrongAnswer = errors.New("wrong answer")
	// ErrStopped is the last error of every prefix once Run has returned.
	ErrStopped = errors.New("health checks stopped")
)
