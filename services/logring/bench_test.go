package logring

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

// The ring's cost is the difference between these two: the same logger
// call into a console-like text handler, directly and through the ring.
//
//	go test -bench . -benchmem ./services/logring

func BenchmarkNextOnly(b *testing.B) {
	benchLog(b, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func BenchmarkRingAndNext(b *testing.B) {
	ring := New(slog.NewTextHandler(io.Discard, nil), 0)
	benchLog(b, slog.New(ring.Handler()))
}

func BenchmarkRingAndNextParallel(b *testing.B) {
	ring := New(slog.NewTextHandler(io.Discard, nil), 0)
	l := slog.New(ring.Handler()).With("service", "dns")
	err := errors.New("connection refused")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Info("transfer failed", "zone", "example.com.", "primary", "10.53.0.1:53", "err", err, "retry", 30*time.Second)
		}
	})
}

func BenchmarkRecords(b *testing.B) {
	ring := New(nil, 0)
	l := slog.New(ring.Handler())
	for range DefaultRecords {
		l.Info("transfer", "zone", "example.com.", "serial", 7)
	}
	b.ReportAllocs()
	for b.Loop() {
		ring.Records(DefaultRecords-100, 100)
	}
}

func benchLog(b *testing.B, l *slog.Logger) {
	l = l.With("service", "dns")
	err := errors.New("connection refused")
	b.ReportAllocs()
	for b.Loop() {
		l.Info("transfer failed", "zone", "example.com.", "primary", "10.53.0.1:53", "err", err, "retry", 30*time.Second)
	}
}
