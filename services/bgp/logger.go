package bgp

import (
	"context"
	"log/slog"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// gobgpLogger adapts GoBGP's logrus-shaped logger interface to the node's
// slog logger, so GoBGP's own messages carry the "bgp" prefix and land in
// the same place as ours. GoBGP's Fatal and Panic levels are logged as
// errors and do not exit or panic: in PID 1 the supervisor, not a library,
// decides what a failure costs.
type gobgpLogger struct {
	log   *slog.Logger
	level gobgplog.LogLevel
	// onPeer, if set, hears GoBGP's warnings and errors about one peer
	// (those with a "Key" field), so Status can show the last one.
	onPeer func(key, msg string)
}

func newGoBGPLogger(l *slog.Logger) *gobgpLogger {
	return &gobgpLogger{log: l, level: gobgplog.InfoLevel}
}

func (g *gobgpLogger) emit(lvl slog.Level, msg string, fields gobgplog.Fields) {
	if lvl >= slog.LevelWarn && g.onPeer != nil {
		if k, ok := fields["Key"].(string); ok {
			g.onPeer(k, msg)
		}
	}
	ctx := context.Background()
	if !g.log.Enabled(ctx, lvl) {
		return
	}
	attrs := make([]slog.Attr, 0, len(fields))
	for k, v := range fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	g.log.LogAttrs(ctx, lvl, "gobgp: "+msg, attrs...)
}

func (g *gobgpLogger) Panic(msg string, f gobgplog.Fields) { g.emit(slog.LevelError, msg, f) }
func (g *gobgpLogger) Fatal(msg string, f gobgplog.Fields) { g.emit(slog.LevelError, msg, f) }
func (g *gobgpLogger) Error(msg string, f gobgplog.Fields) { g.emit(slog.LevelError, msg, f) }
func (g *gobgpLogger) Warn(msg string, f gobgplog.Fields)  { g.emit(slog.LevelWarn, msg, f) }
func (g *gobgpLogger) Info(msg string, f gobgplog.Fields)  { g.emit(slog.LevelInfo, msg, f) }
func (g *gobgpLogger) Debug(msg string, f gobgplog.Fields) { g.emit(slog.LevelDebug, msg, f) }

func (g *gobgpLogger) SetLevel(l gobgplog.LogLevel) { g.level = l }
func (g *gobgpLogger) GetLevel() gobgplog.LogLevel  { return g.level }
