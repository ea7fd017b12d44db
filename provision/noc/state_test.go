package noc

import (
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	now := genTime
	fresh := now.Add(-5 * time.Second)
	stale := now.Add(-DefaultDownAfter - time.Second)
	// healthy is a live node; each case changes what it names.
	healthy := Input{DocState: "live", Enrolled: true, LastHeartbeat: fresh, Ready: true, Healthy: true, ConfigSerial: 7, WantSerial: 7, Now: now}
	tests := []struct {
		name string
		edit func(*Input)
		want State
	}{
		{"live", func(*Input) {}, StateLive},
		{"empty doc state is live", func(in *Input) { in.DocState = "" }, StateLive},
		{"ahead of fleet serial is live", func(in *Input) { in.ConfigSerial = 8 }, StateLive},
		{"maintenance", func(in *Input) { in.DocState = "maintenance" }, StateMaintenance},
		{"drained", func(in *Input) { in.DocState = "drained" }, StateMaintenance},
		{"unknown doc state never live", func(in *Input) { in.DocState = "retired" }, StateMaintenance},
		{"maintenance and unhealthy", func(in *Input) { in.DocState = "maintenance"; in.Healthy = false }, StateMaintenance},
		{"maintenance but down: down wins", func(in *Input) { in.DocState = "maintenance"; in.LastHeartbeat = stale }, StateDown},
		{"drained but down: down wins", func(in *Input) { in.DocState = "drained"; in.LastHeartbeat = stale }, StateDown},
		{"not enrolled", func(in *Input) { in.Enrolled = false; in.LastHeartbeat = time.Time{} }, StateInProgress},
		{"not enrolled, stale heartbeat", func(in *Input) { in.Enrolled = false; in.LastHeartbeat = stale }, StateInProgress},
		{"never heard", func(in *Input) { in.LastHeartbeat = time.Time{} }, StateInProgress},
		{"never heard, maintenance", func(in *Input) { in.LastHeartbeat = time.Time{}; in.DocState = "maintenance" }, StateMaintenance},
		{"stale", func(in *Input) { in.LastHeartbeat = stale }, StateDown},
		{"exactly DownAfter is not down", func(in *Input) { in.LastHeartbeat = now.Add(-DefaultDownAfter) }, StateLive},
		{"custom DownAfter", func(in *Input) { in.DownAfter = 2 * time.Second }, StateDown},
		{"negative DownAfter means default", func(in *Input) { in.DownAfter = -1 }, StateLive},
		{"heartbeat from the future", func(in *Input) { in.LastHeartbeat = now.Add(time.Hour) }, StateLive},
		{"not ready", func(in *Input) { in.Ready = false }, StateInProgress},
		{"not healthy", func(in *Input) { in.Healthy = false }, StateInProgress},
		{"behind fleet serial", func(in *Input) { in.ConfigSerial = 6 }, StateInProgress},
		{"stale and unhealthy: down", func(in *Input) { in.LastHeartbeat = stale; in.Healthy = false }, StateDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := healthy
			tt.edit(&in)
			if got := Classify(in); got != tt.want {
				t.Errorf("Classify(%+v) = %q, want %q", in, got, tt.want)
			}
		})
	}
}
