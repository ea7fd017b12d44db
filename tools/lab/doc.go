// Package lab runs real authoritative DNS servers from Debian's packages
// (NSD, Knot) on loopback so tests can hold our secondary service up against
// them: as the primary it transfers zones from, and as the reference it must
// answer exactly like.
//
// Each server runs in its own temporary directory on a free loopback port,
// in its own process group, and is stopped with everything it forked when
// the test ends, even when the test fails. The differential half of the
// package builds a deterministic query corpus from zone contents
// ([Corpus]), sends it to two servers ([Differential]) and compares the
// answers as sets ([Compare]), so that "answers like NSD" is checked
// record by record rather than by eye.
//
// The fixtures under testdata/zones are embedded ([Fixtures]) so tests in
// any package can serve them. The signed variants are generated from the
// plain zone with [SignZone] and committed; regenerate them with
// go generate.
//
// Servers listen on 127.0.0.0/8 and ::1 only; nothing here sends traffic
// anywhere else.
package lab

//go:generate go test -run TestSignedFixtures -regenerate .
