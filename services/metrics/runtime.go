package metrics

import "runtime/metrics"

// runtimeSamples maps runtime/metrics names to the families they feed.
var runtimeSamples = []struct {
	key  string
	name string
	help string
	typ  Type
}{
	{"/sched/goroutines:goroutines", "go_goroutines", "Goroutines that currently exist.", GaugeType},
	{"/memory/classes/total:bytes", "go_memory_total_bytes", "Memory mapped by the Go runtime.", GaugeType},
	{"/memory/classes/heap/objects:bytes", "go_heap_objects_bytes", "Memory occupied by live and not yet swept heap objects.", GaugeType},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", "Completed garbage collection cycles.", CounterType},
}

// RuntimeCollector reports the Go runtime's goroutines, memory and GC
// cycles. goleudy-node is PID 1 on boards with as little as 512 MB, so a
// leak of either shows here long before the kernel's OOM killer ends it.
// It reads runtime/metrics, which does not stop the world.
func RuntimeCollector() Collector {
	return func() []Family {
		samples := make([]metrics.Sample, len(runtimeSamples))
		for i, r := range runtimeSamples {
			samples[i].Name = r.key
		}
		metrics.Read(samples)
		var fams []Family
		for i, r := range runtimeSamples {
			var v float64
			switch samples[i].Value.Kind() {
			case metrics.KindUint64:
				v = float64(samples[i].Value.Uint64())
			case metrics.KindFloat64:
				v = samples[i].Value.Float64()
			default:
				continue // not in this Go version
			}
			fams = append(fams, Family{Name: r.name, Help: r.help, Type: r.typ, Samples: []Sample{{Value: v}}})
		}
		return fams
	}
}
