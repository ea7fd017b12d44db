package netconf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/clock/clocktest"
)

// fakeKernel is an in-memory kernel: a set of objects, sysctls and links,
// with a log of every change asked of it. DHCP clients are scripted by the
// test through fakeClient.
type fakeKernel struct {
	mu       sync.Mutex
	portList []port
	links    map[string]*linkInfo
	objs     map[object]bool
	sysctls  map[string]string
	ops      []string
	dummyErr error
	failAdd  map[object]error
	clients  map[string]*fakeClient // "dhcp4 enp2s0"
	events   chan event
	rs       []string // router solicitations
}

func newFakeKernel(ports ...port) *fakeKernel {
	k := &fakeKernel{
		portList: ports, links: map[string]*linkInfo{}, objs: map[object]bool{},
		sysctls: map[string]string{}, failAdd: map[object]error{}, clients: map[string]*fakeClient{},
		events:   make(chan event),
		dummyErr: errors.New("operation not supported"),
	}
	for i, p := range ports {
		mac, _ := net.ParseMAC(p.mac)
		k.links[p.name] = &linkInfo{name: p.name, index: i + 2, mac: mac, carrier: true}
		k.sysctls["net/ipv6/conf/"+p.name+"/accept_ra"] = "1"
		k.sysctls["net/ipv6/conf/"+p.name+"/autoconf"] = "1"
	}
	k.links["lo"] = &linkInfo{name: "lo", index: 1, up: true, carrier: true}
	return k
}

func ether(name, mac string) port {
	return port{name: name, mac: mac, arphrd: arphrdEther, physical: true}
}

func (k *fakeKernel) op(format string, args ...any) {
	k.ops = append(k.ops, fmt.Sprintf(format, args...))
}

// takeOps returns and clears the change log.
func (k *fakeKernel) takeOps() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	ops := k.ops
	k.ops = nil
	return ops
}

func (k *fakeKernel) has(o object) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.objs[o]
}

// put adds an object as if someone else had.
func (k *fakeKernel) put(o object) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.objs[o] = true
}

// objects lists what is in the kernel, as ip(8) lines, sorted.
func (k *fakeKernel) objects() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for o := range k.objs {
		out = append(out, o.String())
	}
	slices.Sort(out)
	return out
}

func (k *fakeKernel) ports() ([]port, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.portList), nil
}

func (k *fakeKernel) link(name string) (linkInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.links[name]
	if !ok {
		return linkInfo{}, fmt.Errorf("find %s: %w", name, fs.ErrNotExist)
	}
	return *l, nil
}

func (k *fakeKernel) linkUp(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.links[name]
	if !ok {
		return fmt.Errorf("find %s: no such link", name)
	}
	if !l.up {
		l.up = true
		k.op("up %s", name)
	}
	return nil
}

func (k *fakeKernel) dummyAdd(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dummyErr != nil {
		return k.dummyErr
	}
	if _, ok := k.links[name]; ok {
		return errExist
	}
	k.links[name] = &linkInfo{name: name, index: 99}
	k.op("+ %s", dummyObj{name})
	return nil
}

func (k *fakeKernel) linkDel(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.links, name)
	k.op("- %s", dummyObj{name})
	return nil
}

func (k *fakeKernel) add(o object) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.failAdd[o]; err != nil {
		return err
	}
	if k.objs[o] {
		return errExist
	}
	k.objs[o] = true
	k.op("+ %s", o)
	return nil
}

func (k *fakeKernel) del(o object) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.objs, o)
	k.op("- %s", o)
	return nil
}

func (k *fakeKernel) addrAdd(a addrObj) error   { return k.add(a) }
func (k *fakeKernel) addrDel(a addrObj) error   { return k.del(a) }
func (k *fakeKernel) routeAdd(r routeObj) error { return k.add(r) }
func (k *fakeKernel) routeDel(r routeObj) error { return k.del(r) }
func (k *fakeKernel) ruleAdd(r ruleObj) error   { return k.add(r) }
func (k *fakeKernel) ruleDel(r ruleObj) error   { return k.del(r) }
func (k *fakeKernel) routeHas(r routeObj) (bool, error) {
	return k.has(r), nil
}
func (k *fakeKernel) ruleHas(r ruleObj) (bool, error) { return k.has(r), nil }

func (k *fakeKernel) addrs(link string) ([]kernelAddr, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []kernelAddr
	for o := range k.objs {
		if a, ok := o.(addrObj); ok && a.link == link {
			out = append(out, kernelAddr{prefix: a.prefix})
		}
	}
	return out, nil
}

func (k *fakeKernel) sysctl(key string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.sysctls[key]
	if !ok {
		return "", fmt.Errorf("sysctl %s: %w", key, fs.ErrNotExist)
	}
	return v, nil
}

func (k *fakeKernel) get(key string) string {
	v, _ := k.sysctl(key)
	return v
}

func (k *fakeKernel) setSysctl(key, v string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.sysctls[key]; !ok {
		return fmt.Errorf("sysctl %s: %w", key, fs.ErrNotExist)
	}
	if k.sysctls[key] != v {
		k.op("sysctl %s=%s", key, v)
	}
	k.sysctls[key] = v
	return nil
}

func (k *fakeKernel) flushSLAAC(link string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.op("flush slaac %s", link)
	return nil
}

func (k *fakeKernel) solicitRouters(link string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rs = append(k.rs, link)
	return nil
}

func (k *fakeKernel) watch(done <-chan struct{}) (<-chan event, error) {
	out := make(chan event)
	go func() {
		defer close(out)
		for {
			select {
			case <-done:
				return
			case ev := <-k.events:
				select {
				case out <- ev:
				case <-done:
					return
				}
			}
		}
	}()
	return out, nil
}

// carrier changes a link's carrier and reports it as the kernel would.
func (k *fakeKernel) carrier(t *testing.T, name string, on bool) {
	t.Helper()
	k.mu.Lock()
	l := k.links[name]
	l.carrier = on
	ev := event{link: name, index: l.index, up: l.up, carrier: on}
	k.mu.Unlock()
	select {
	case k.events <- ev:
	case <-time.After(5 * time.Second):
		t.Fatal("Run does not take link events")
	}
}

func (k *fakeKernel) dhcp4(link string, t tuning) (leaseClient, error) {
	return k.client(SourceDHCP4, link), nil
}

func (k *fakeKernel) dhcp6(link string, t tuning) (leaseClient, error) {
	return k.client(SourceDHCP6, link), nil
}

func (k *fakeKernel) client(proto, link string) *fakeClient {
	c := &fakeClient{name: proto + " " + link, acquireC: make(chan result), renewC: make(chan result), rebindC: make(chan result), calls: make(chan string, 64)}
	k.mu.Lock()
	k.clients[c.name] = c
	k.mu.Unlock()
	return c
}

// cli returns the latest client made for proto on link.
func (k *fakeKernel) cli(t *testing.T, proto, link string) *fakeClient {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		k.mu.Lock()
		c := k.clients[proto+" "+link]
		k.mu.Unlock()
		if c != nil {
			return c
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %s client on %s", proto, link)
	return nil
}

type result struct {
	l   *lease
	err error
}

// fakeClient is a DHCP client whose every exchange waits for the test to
// answer it on the matching channel.
type fakeClient struct {
	name                      string
	acquireC, renewC, rebindC chan result
	calls                     chan string
	mu                        sync.Mutex
	closed                    bool
}

func (c *fakeClient) wait(ctx context.Context, what string, ch chan result) (*lease, error) {
	c.calls <- what
	select {
	case r := <-ch:
		if r.l != nil {
			cp := *r.l
			return &cp, r.err
		}
		return nil, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *fakeClient) acquire(ctx context.Context) (*lease, error) {
	return c.wait(ctx, "acquire", c.acquireC)
}
func (c *fakeClient) renew(ctx context.Context, _ *lease) (*lease, error) {
	return c.wait(ctx, "renew", c.renewC)
}
func (c *fakeClient) rebind(ctx context.Context, _ *lease) (*lease, error) {
	return c.wait(ctx, "rebind", c.rebindC)
}
func (c *fakeClient) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// answer gives the client's pending exchange a result.
func (c *fakeClient) answer(t *testing.T, ch chan result, l *lease, err error) {
	t.Helper()
	select {
	case ch <- result{l, err}:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no exchange waiting for an answer", c.name)
	}
}

// expect waits for the client's next exchange to be what.
func (c *fakeClient) expect(t *testing.T, what string) {
	t.Helper()
	select {
	case got := <-c.calls:
		if got != what {
			t.Fatalf("%s: exchange %s, want %s", c.name, got, what)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no %s within 5s", c.name, what)
	}
}

func lease4(addr, router string, valid time.Duration) *lease {
	l := &lease{addr: netip.MustParsePrefix(addr), valid: valid, server: "10.0.0.1"}
	if router != "" {
		l.router = netip.MustParseAddr(router)
	}
	l.t1, l.t2 = timers(valid, 0, 0, 0.875)
	return l
}

var epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// newFakeManager makes a Manager on a fake kernel and clock.
func newFakeManager(t *testing.T, k *fakeKernel, o Options) (*Manager, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.NewFake(epoch)
	o.Clock = clk
	o.Log = testLogger(t)
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	m.k = k
	m.t.dhcpTries = 1
	return m, clk
}

// eventually polls cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
