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
// Beyond DNS servers, the lab runs the other real parts the tiers need, all
// from Debian's packages: network namespaces joined by veth pairs
// ([NewNetns], [VethNamed]) for whole sites, BIRD as the upstream router
// ([StartBIRD]), dnsmasq as the host's DHCP ([StartDnsmasq]), our own
// binaries under test ([Build], [StartProc]), and QEMU under software
// emulation ([StartQEMU]) with each NIC's TAP opened in the namespace that
// plays its far side, so one VM can face an IX and an OOB network at once.
//
// Servers listen on 127.0.0.0/8 and ::1, or inside namespaces the tests
// create and delete; nothing here sends traffic anywhere else.
package lab

//go:generate go test -run TestSignedFixtures -regenerate .
