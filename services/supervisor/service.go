package supervisor

import "context"

// Service is a long-running part of the node: the DNS server, the BGP
// speaker, the info and metrics endpoints, the admin API, the updater.
//
// Run does the service's work until ctx is cancelled, then returns promptly.
// Its result tells the supervisor what to do next:
//
//   - A non-nil error is a failure: the supervisor restarts the service
//     after a backoff delay. A panic counts as a failure too.
//   - A nil return while the supervisor is not shutting down means the
//     service has finished its job for good (a one-shot task, or a service
//     that has nothing to do on this board). It becomes Stopped and is not
//     restarted.
//   - Anything Run returns after ctx is cancelled ends the service.
//
// Run must not call the Supervisor's Close, which waits for Run to return;
// a service that needs to stop the node cancels the context its owner gave
// the supervisor instead.
type Service interface {
	// Name identifies the service in logs and status; it must be unique
	// within a Supervisor and stable.
	Name() string
	Run(ctx context.Context) error
}

// HealthChecker is implemented by services that can tell whether they are
// doing their job, beyond merely running: a DNS server that has loaded its
// zones, a BGP speaker with an established session. The supervisor reports
// the result in ServiceStatus.Health while the service is Running, and the
// BGP health gate uses it to decide whether to announce the node.
//
// Health may be called at any time from any goroutine, including
// concurrently with Run, and should return quickly. A nil result is healthy.
type HealthChecker interface {
	Health() error
}
