package lab

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

// BIRD 2 (Debian package bird2) is the upstream router in BGP
// integration tests; these are where Debian installs it.
const (
	birdPath  = "/usr/sbin/bird"
	birdcPath = "/usr/sbin/birdc"
)

// BIRDPeer is one passive eBGP session on the BIRD side. It imports
// everything and exports nothing, unless Offer asks it to send routes.
type BIRDPeer struct {
	Name     string // BIRD protocol name
	Local    netip.Addr
	LocalASN uint32
	Neighbor netip.Addr
	PeerASN  uint32
	Password string
	// Offer is how many /24s (IPv4) or /48s (IPv6) this session exports,
	// to prove that the other side imports none of them.
	Offer int
}

// BIRDConfig is a whole BIRD instance.
type BIRDConfig struct {
	RouterID netip.Addr
	Peers    []BIRDPeer
	// Kernel installs the routes BIRD learns in its namespace's kernel
	// table, so the namespace forwards traffic for them (a router
	// between clients and the anycast node).
	Kernel bool
}

// BIRD is a running BIRD in a namespace.
type BIRD struct {
	Dir    string
	Socket string
	Log    string
	cmd    *exec.Cmd
}

var birdTemplate = template.Must(template.New("bird").Funcs(template.FuncMap{
	"offered": offeredRoutes,
	"afi": func(a netip.Addr) string {
		if a.Is4() {
			return "ipv4"
		}
		return "ipv6"
	},
}).Parse(`log "{{.Log}}" all;
router id {{.C.RouterID}};
protocol device {}
{{if .C.Kernel}}protocol kernel { ipv4 { export all; }; }
protocol kernel { ipv6 { export all; }; }
{{end}}{{range .C.Peers}}{{if .Offer}}
protocol static offer_{{.Name}} {
	{{afi .Neighbor}};
{{range offered .Neighbor .Offer}}	route {{.}} unreachable;
{{end}}}
{{end}}
protocol bgp {{.Name}} {
	local {{.Local}} as {{.LocalASN}};
	neighbor {{.Neighbor}} as {{.PeerASN}};
	passive on;
{{if .Password}}	password "{{.Password}}";
{{end}}	{{afi .Neighbor}} {
		import all;
{{if .Offer}}		export where proto = "offer_{{.Name}}";
{{else}}		export none;
{{end}}	};
}
{{end}}`))

func offeredRoutes(a netip.Addr, n int) []string {
	out := make([]string, n)
	for i := range n {
		if a.Is4() {
			out[i] = fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256)
		} else {
			out[i] = fmt.Sprintf("2001:db8:%x::/48", 0x1000+i)
		}
	}
	return out
}

// BIRDConfigText renders c as bird.conf, logging to logPath.
func BIRDConfigText(c BIRDConfig, logPath string) (string, error) {
	var b strings.Builder
	if err := birdTemplate.Execute(&b, struct {
		C   BIRDConfig
		Log string
	}{c, logPath}); err != nil {
		return "", fmt.Errorf("lab: bird config: %w", err)
	}
	return b.String(), nil
}

// StartBIRD runs BIRD in n with config c, waits until birdc answers, and
// stops it when the test ends. A missing bird binary fails the test.
func StartBIRD(tb testing.TB, n *Netns, c BIRDConfig) *BIRD {
	tb.Helper()
	for _, p := range []string{birdPath, birdcPath} {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("lab: BIRD 2 is needed (Debian package bird2): %v", err)
		}
	}
	dir := tb.TempDir()
	b := &BIRD{Dir: dir, Socket: filepath.Join(dir, "bird.ctl"), Log: filepath.Join(dir, "bird.log")}
	text, err := BIRDConfigText(c, b.Log)
	if err != nil {
		tb.Fatal(err)
	}
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	b.cmd = n.Command(context.Background(), birdPath, "-f", "-c", conf, "-s", b.Socket, "-P", filepath.Join(dir, "bird.pid"))
	out, err := os.Create(filepath.Join(dir, "bird.out"))
	if err != nil {
		tb.Fatal(err)
	}
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err := b.cmd.Start(); err != nil {
		tb.Fatalf("lab: start bird: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); out.Close(); close(done) }()
	tb.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := b.Birdc(context.Background(), "show", "status"); err == nil {
			return b
		}
		select {
		case <-done:
			o, _ := os.ReadFile(filepath.Join(dir, "bird.out"))
			tb.Fatalf("lab: bird exited at start:\n%s\nconfig:\n%s", o, text)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatal("lab: bird did not open its control socket within 10s")
		}
	}
}

// Birdc runs one birdc command. The control socket is a file, so birdc
// needs no namespace.
func (b *BIRD) Birdc(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, birdcPath, append([]string{"-s", b.Socket}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lab: birdc %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Established reports whether BGP protocol name is established.
func (b *BIRD) Established(ctx context.Context, name string) (bool, error) {
	out, err := b.Birdc(ctx, "show", "protocols", name)
	if err != nil {
		return false, err
	}
	return strings.Contains(out, "Established"), nil
}

// Routes returns BIRD's routes learned over BGP (show route all).
func (b *BIRD) Routes(ctx context.Context) ([]BIRDRoute, error) {
	out, err := b.Birdc(ctx, "show", "route", "all")
	if err != nil {
		return nil, err
	}
	all, err := ParseBIRDRoutes(out)
	if err != nil {
		return nil, err
	}
	var bgp []BIRDRoute
	for _, r := range all {
		if r.BGP {
			bgp = append(bgp, r)
		}
	}
	return bgp, nil
}

// LogText is BIRD's log so far.
func (b *BIRD) LogText() string {
	o, _ := os.ReadFile(b.Log)
	return string(o)
}

// BIRDRoute is one route from `show route all`.
type BIRDRoute struct {
	Prefix           netip.Prefix
	Protocol         string
	BGP              bool
	ASPath           []uint32
	Communities      []string // "64500:100"
	LargeCommunities []string // "64512:1:2"
	NextHop          string
}

// ParseBIRDRoutes parses the output of birdc show route all.
func ParseBIRDRoutes(out string) ([]BIRDRoute, error) {
	var routes []BIRDRoute
	var cur *BIRDRoute
	var last netip.Prefix
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "BIRD ") || strings.HasPrefix(line, "Table ") {
			continue
		}
		if strings.HasPrefix(line, "\t") {
			if cur == nil {
				continue
			}
			if err := cur.attr(strings.TrimSpace(line)); err != nil {
				return nil, err
			}
			continue
		}
		f := strings.Fields(line)
		if p, err := netip.ParsePrefix(f[0]); err == nil {
			last = p
			f = f[1:]
		} else if !last.IsValid() {
			return nil, fmt.Errorf("lab: bird route line %q has no prefix", line)
		}
		r := BIRDRoute{Prefix: last}
		for _, w := range f {
			if strings.HasPrefix(w, "[") {
				r.Protocol = strings.TrimPrefix(w, "[")
				break
			}
		}
		routes = append(routes, r)
		cur = &routes[len(routes)-1]
	}
	return routes, sc.Err()
}

func (r *BIRDRoute) attr(line string) error {
	k, v, ok := strings.Cut(line, ":")
	if !ok {
		if strings.HasPrefix(line, "via ") {
			r.NextHop = strings.Fields(line)[1]
		}
		return nil
	}
	v = strings.TrimSpace(v)
	switch k {
	case "Type":
		r.BGP = strings.HasPrefix(v, "BGP")
	case "BGP.as_path":
		for _, a := range strings.Fields(v) {
			n, err := strconv.ParseUint(a, 10, 32)
			if err != nil {
				return fmt.Errorf("lab: bird as_path %q: %w", v, err)
			}
			r.ASPath = append(r.ASPath, uint32(n))
		}
	case "BGP.community":
		for _, c := range strings.Fields(v) {
			c = strings.Trim(c, "()")
			r.Communities = append(r.Communities, strings.ReplaceAll(c, ",", ":"))
		}
	case "BGP.large_community":
		// (64512, 1, 2) (64512, 3, 4)
		for _, c := range strings.Split(v, ")") {
			c = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c), "("))
			if c == "" {
				continue
			}
			r.LargeCommunities = append(r.LargeCommunities, strings.ReplaceAll(strings.ReplaceAll(c, " ", ""), ",", ":"))
		}
	}
	return nil
}
