package lab

import (
	"context"
	"sync"
)

// Differential sends every query to the servers at addrA and addrB and
// returns the queries whose answers differ, in corpus order. A query
// neither server answers is no mismatch: both behaved alike. Queries run
// on a few workers, so a corpus of tens of thousands takes seconds; ctx
// stops the run early, returning what was found so far.
func Differential(ctx context.Context, addrA, addrB string, queries []Query, c Comparer) []Mismatch {
	const workers = 8
	results := make([]*Mismatch, len(queries))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = compareOne(addrA, addrB, queries[i], c)
			}
		}()
	}
feed:
	for i := range queries {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	var out []Mismatch
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out
}

func compareOne(addrA, addrB string, q Query, c Comparer) *Mismatch {
	m := q.Msg()
	a, errA := Ask(addrA, m, q.Net)
	b, errB := Ask(addrB, m, q.Net)
	var diffs []Difference
	switch {
	case errA != nil && errB != nil:
		return nil
	case errA != nil || errB != nil:
		if !c.Ignore[FieldResponse] {
			diffs = []Difference{{Field: FieldResponse, A: errString(errA), B: errString(errB)}}
		}
	default:
		diffs = c.Compare(a, b)
	}
	if len(diffs) == 0 {
		return nil
	}
	return &Mismatch{Query: q, Diffs: diffs, A: a, B: b}
}

func errString(err error) string {
	if err == nil {
		return "reply"
	}
	return err.Error()
}
