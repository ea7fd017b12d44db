package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

// The query mix, in percent: names that exist, names that do not
// (NXDOMAIN), and names a wildcard answers.
const (
	mixExisting = 70
	mixNX       = 15
	mixWildcard = 100 - mixExisting - mixNX
)

// queryLines is how many queries the file holds; dnsperf loops over it.
const queryLines = 100000

// writeQueries writes a dnsperf query file for benchZone(names), the same
// on every run: a fixed seed.
func writeQueries(w io.Writer, names int) error {
	rng := rand.New(rand.NewPCG(53, 53))
	bw := bufio.NewWriter(w)
	for range queryLines {
		p := rng.IntN(100)
		i := rng.IntN(names)
		switch {
		case p < mixExisting:
			types := []string{"A", "AAAA"}
			if i%4 == 0 {
				types = append(types, "MX")
			}
			if i%8 == 0 {
				types = append(types, "TXT")
			}
			fmt.Fprintf(bw, "h%d.%s %s\n", i, benchOrigin, types[rng.IntN(len(types))])
		case p < mixExisting+mixNX:
			fmt.Fprintf(bw, "nx%d.%s A\n", i, benchOrigin)
		default:
			fmt.Fprintf(bw, "w%d.wild.%s A\n", i, benchOrigin)
		}
	}
	return bw.Flush()
}
