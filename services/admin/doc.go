// Package admin is the node's HTTP API for the operator, reachable only
// over the management tunnel.
//
// A node runs unattended at a volunteer's site; console access is rare.
// What the operator needs to do to a live node without a new config —
// see what it is doing, read its recent log, take it out of the anycast
// set and put it back, reboot it — goes through this API, from the
// provisioning server or the goleudy CLI over the WireGuard tunnel:
//
//	operator ──goleudy CLI──▶ hub ══WireGuard══▶ node 10.53.0.7:9053 ──▶ admin
//	                                                                   │
//	        Status() · logring.Ring · Drain(bool) · Reboot() ◀──────────┘
//
// # Endpoints
//
//	GET  /v1/status                     200, the node's status document
//	                                    (the integrator passes the
//	                                    heartbeat, api.Heartbeat)
//	GET  /v1/log?since=SEQ&limit=N      200, LogPage: log entries from the
//	                                    in-memory ring. With since, the
//	                                    first N entries after SEQ (page
//	                                    forward with since=next); without,
//	                                    the newest N. N is 1..1000, default
//	                                    100. Other parameters are refused.
//	POST /v1/drain                      200 {"drained": true}: the node
//	                                    withdraws its anycast routes
//	POST /v1/undrain                    200 {"drained": false}
//	POST /v1/reboot                     202 {"reboot_in": "1s"}: the node
//	                                    reboots after a short delay, so the
//	                                    answer reaches the caller first
//
// Every answer is JSON with Cache-Control: no-store. Errors have the body
// of provision/api's api.Error, {"error": "..."}, and the status says
// which: 400 for a bad query, 403 for a caller outside the management
// network or a cross-origin browser request, 404 for an unknown path, 405
// (with Allow) for a wrong method, 501 for a feature the node was not
// given a callback for, 500 for a callback that failed or panicked.
//
// # Who may call
//
// Two fences. The API listens only on management.admin_listen, the
// node's tunnel address (a wildcard is refused: 0.0.0.0 would put the API
// on the IX side, where the host is promised only DNS, BGP and the info
// page). And a request is answered only if its source address lies in one
// of the prefixes Options.Allowed returns, the tunnel's allowed IPs;
// every other caller, on any path, gets 403. WireGuard authenticates the
// peer behind a tunnel source address, so the source check means
// "came through the tunnel from the hub's side". State-changing requests
// from browsers on another origin are refused too (CSRF), in case an
// operator's browser can reach the tunnel.
package admin
