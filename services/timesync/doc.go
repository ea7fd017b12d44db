// Package timesync gives the node a time it can use to check signatures.
//
// Raspberry Pis have no real-time clock: they boot in 1970, or wherever
// the kernel's build left them. The node's signed config and update
// metadata carry expiry times, and an expiry check against 1970 accepts
// anything, so a node must know when its clock can be believed. This
// package has three parts:
//
//   - An SNTPv4 client ([Query], RFC 4330 and the client side of RFC 5905)
//     with the sanity checks a node on a hostile IX needs: the reply must
//     echo the random transmit timestamp we sent, be a server-mode reply
//     from a synchronised stratum 1..15 server, and kiss-o'-death codes
//     are obeyed.
//   - A clock floor ([Floor], <state>/clock.floor): a time the node has
//     known to be true, written at every sync, hourly (from the synced
//     clock, or before a sync from the floor at boot plus the time the
//     node has been up), and when the Service stops. At boot a clock
//     below the floor is set to the floor, so a Pi that lost power
//     restarts at "at least when it last ran" rather than in 1970.
//   - The [Service], run by the supervisor as "timesync", which syncs from
//     the configured servers (from DHCP, or a default list) with backoff,
//     steps the clock on the first sync when it may (only PID 1 may), keeps
//     the floor, and answers [Service.Trusted] for the code that checks
//     signatures.
//
// The data flow is
//
//	state dir ──clock.floor──▶ New (boot: clock := max(clock, floor))
//	NTP servers ──SNTP──▶ Service.Run ──step──▶ system clock
//	                          └──raise──▶ clock.floor
//	config/update verification ──Trusted()──▶ Service
//
// It is deliberately not an NTP daemon: it does not slew or discipline the
// clock. DNS and BGP need a clock right to a second or so, and signature
// expiry to minutes; an hourly step is plenty and much simpler.
package timesync
