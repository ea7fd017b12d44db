package netconf

import "errors"

var (
	// ErrBadMatch is a port match that is not a name, MAC, driver or bus path.
	ErrBadMatch = errors.New("bad port match")
	// ErrNoPort is a match that names no port on this node.
	ErrNoPort = errors.New("no port matches")
	// ErrAmbiguousMatch is a match that names more than one port.
	ErrAmbiguousMatch = errors.New("more than one port matches")
	// ErrRunning is a second concurrent Run.
	ErrRunning = errors.New("already running")
	// ErrNotRunning is Health before Run or after it returned.
	ErrNotRunning = errors.New("not running")
	// ErrNoAddress is Health while the OOB port has no address.
	ErrNoAddress = errors.New("OOB port has no address")
	// ErrNoLease is an acquisition that got no usable lease.
	ErrNoLease = errors.New("no usable lease")
	// errNak is a server refusing a lease we hold (DHCPv4 NAK, DHCPv6
	// NoBinding): the address must go at once.
	errNak = errors.New("lease refused by server")
	// errExist is a kernel object that was already there.
	errExist = errors.New("already exists")
)
