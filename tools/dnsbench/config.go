package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/goleudy/goleudy/tools/lab"
)

// errUsage reports bad flags; the message has already been printed.
var errUsage = errors.New("usage")

// config is what one benchmark run measures and how.
type config struct {
	duration    time.Duration // each dnsperf run
	names       int           // names in the zone queries go to
	records     int           // records in the zone load time and memory are measured with
	zones       int           // small zones loaded next to the query zone
	serverCPU   int
	clientCPU   int
	clients     int // dnsperf -c
	outstanding int // dnsperf -q
	edns        bool
	startLimit  time.Duration // per server start
	settle      time.Duration // wait after loading before reading memory
	pinSelf     bool
	servers     []server
}

// server is one server under test: a lab daemon with a name for the table.
type server struct {
	name   string
	daemon lab.Daemon
}

// serverList collects -server name=CMD flags.
type serverList []server

func (l *serverList) String() string { return "" }

func (l *serverList) Set(v string) error {
	name, cmd, ok := strings.Cut(v, "=")
	if !ok || name == "" || cmd == "" {
		return fmt.Errorf("want name=command, got %q", v)
	}
	*l = append(*l, server{name, lab.Command(name, cmd)})
	return nil
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	var builtin, cpus string
	var extra serverList
	fs := flag.NewFlagSet("dnsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./tools/dnsbench [flags]\n\n"+
			"Measures QPS, server CPU per query, memory per record and zone load\n"+
			"times for NSD, Knot and any server given with -server.\n\n")
		fs.PrintDefaults()
	}
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each dnsperf run")
	fs.IntVar(&c.names, "names", 10000, "names in the query zone bench.test. (about 3 records each)")
	fs.IntVar(&c.records, "records", 1000000, "records in the zone whose load time and memory per record are measured")
	fs.IntVar(&c.zones, "zones", 10000, "small zones loaded next to the query zone for the many-zones run")
	fs.StringVar(&builtin, "servers", "nsd,knot", "comma-separated built-in servers to measure: nsd, knot (empty for none)")
	fs.Var(&extra, "server", "another server as name=CMD; CMD is run by sh with {addr}, {host}, {port}, {zonesdir}, {dir} replaced, "+
		"must serve every ORIGIN.zone file in {zonesdir} on {addr} over UDP and TCP (repeatable)")
	fs.StringVar(&cpus, "cpus", "0,1", "CPU for the servers, CPU for dnsperf")
	fs.IntVar(&c.clients, "clients", 4, "dnsperf clients (-c)")
	fs.IntVar(&c.outstanding, "outstanding", 200, "dnsperf queries outstanding (-q)")
	fs.BoolVar(&c.edns, "edns", true, "send queries with EDNS (payload 1232), as resolvers do")
	fs.DurationVar(&c.startLimit, "start-timeout", 2*time.Minute, "how long a server may take to load its zones")
	fs.DurationVar(&c.settle, "settle", time.Second, "wait after a server has loaded before reading its memory")
	fs.BoolVar(&c.pinSelf, "pin-self", true, "pin dnsbench itself to the dnsperf CPU, off the server's")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errUsage
	}
	usage := func(format string, a ...any) (config, error) {
		fmt.Fprintf(stderr, "dnsbench: "+format+"\n", a...)
		fs.Usage()
		return c, errUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments %q", fs.Args())
	}
	for _, name := range strings.Split(builtin, ",") {
		switch strings.TrimSpace(name) {
		case "":
		case "nsd":
			c.servers = append(c.servers, server{"nsd", lab.NSD})
		case "knot":
			c.servers = append(c.servers, server{"knot", lab.Knot})
		default:
			return usage("unknown built-in server %q (nsd, knot; others with -server)", name)
		}
	}
	c.servers = append(c.servers, extra...)
	if len(c.servers) == 0 {
		return usage("no servers to measure")
	}
	a, b, ok := strings.Cut(cpus, ",")
	var errA, errB error
	c.serverCPU, errA = strconv.Atoi(strings.TrimSpace(a))
	c.clientCPU, errB = strconv.Atoi(strings.TrimSpace(b))
	if !ok || errA != nil || errB != nil || c.serverCPU < 0 || c.clientCPU < 0 {
		return usage("-cpus wants two CPU numbers, got %q", cpus)
	}
	if c.duration < time.Second || c.names < 1 || c.records < 10 || c.zones < 1 || c.clients < 1 || c.outstanding < 1 {
		return usage("-duration must be at least 1s; -names, -zones, -clients, -outstanding at least 1; -records at least 10")
	}
	return c, nil
}
