package secondary

// Serial numbers wrap around (RFC 1982): with 32-bit serials, s1 is newer
// than s2 when s1 is ahead by 1..2^31-1. A difference of exactly 2^31 is
// undefined; we treat it as "not newer", so a primary cannot make us loop
// between two versions.

// serialNewer reports whether a is newer than b in RFC 1982 arithmetic.
func serialNewer(a, b uint32) bool {
	d := a - b
	return d != 0 && d < 1<<31
}
