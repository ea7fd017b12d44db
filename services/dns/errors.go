package authdns

import "errors"

// Errors a zone can be refused with. Each is wrapped with the zone and the
// offending record, so callers log the wrapped error and test with errors.Is.
var (
	ErrNoSOA        = errors.New("no SOA at the zone apex")
	ErrMultipleSOA  = errors.New("more than one SOA")
	ErrSOANotApex   = errors.New("SOA not at the zone apex")
	ErrOutOfZone    = errors.New("record outside the zone")
	ErrCNAMEAndData = errors.New("CNAME and other data at the same name")
	ErrMultiCNAME   = errors.New("more than one CNAME at the same name")
	ErrMultiDNAME   = errors.New("more than one DNAME at the same name")
	ErrClass        = errors.New("record class is not IN")
	ErrRecordType   = errors.New("record type not allowed in a zone")
	ErrZoneExists   = errors.New("zone already in the set")
)
