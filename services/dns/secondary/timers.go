package secondary

import "time"

// Bounds clamp the SOA timers of every zone. SOA values come from
// customers; a refresh of 1 s would have every node hammer the primary,
// and an expire of 0 would take a zone down at the first failed refresh.
type Bounds struct {
	MinRefresh, MaxRefresh time.Duration
	MinRetry, MaxRetry     time.Duration
	MinExpire, MaxExpire   time.Duration
}

// DefaultBounds: refresh 60 s..24 h, retry 10 s..2 h, expire 1 h..8 weeks.
// Expire is also raised to at least refresh+retry after clamping, so a
// zone always gets one retry before it expires.
var DefaultBounds = Bounds{
	MinRefresh: time.Minute, MaxRefresh: 24 * time.Hour,
	MinRetry: 10 * time.Second, MaxRetry: 2 * time.Hour,
	MinExpire: time.Hour, MaxExpire: 8 * 7 * 24 * time.Hour,
}

// timers are the clamped SOA timers of one zone.
type timers struct {
	refresh, retry, expire time.Duration
}

func (b Bounds) clamp(refresh, retry, expire uint32) timers {
	sec := func(v uint32) time.Duration { return time.Duration(v) * time.Second }
	t := timers{
		refresh: clampDur(sec(refresh), b.MinRefresh, b.MaxRefresh),
		retry:   clampDur(sec(retry), b.MinRetry, b.MaxRetry),
		expire:  clampDur(sec(expire), b.MinExpire, b.MaxExpire),
	}
	t.expire = max(t.expire, t.refresh+t.retry)
	return t
}

func clampDur(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}
