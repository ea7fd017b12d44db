// Package mgmt is the node's management agent: it enrolls the node over
// its OOB network with the one-time token from its seed, brings the
// WireGuard tunnel to the provisioning server up, pulls the node's signed
// config over the tunnel (a long poll, so a change arrives within a
// second), and sends heartbeats.
//
// Everything it learns is kept in the state directory, so a node that
// restarts while the server is unreachable comes back with its tunnel and
// its last good config (the caller keeps that) and keeps serving:
//
//	identity.key/.pub  the node's ed25519 identity, made at first start
//	wireguard.key      its WireGuard key, bound to the identity at enrollment
//	enrollment.json    the server's signed answer, checked against the seed's
//	                   pinned server key at every start
package mgmt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/statedir"
	"github.com/goleudy/goleudy/services/tunnel"
)

// File names in the state directory.
const (
	IdentityKey    = "identity"
	WireGuardKey   = "wireguard.key"
	EnrollmentFile = "enrollment.json"
)

// Timing.
const (
	// PollWait is how long the server may hold a config poll.
	PollWait = 55 * time.Second
	// MaxBackoff caps the wait between failed attempts.
	MaxBackoff = time.Minute
)

// Options configure an Agent.
type Options struct {
	StateDir string
	Seed     api.Seed
	// Interface names the tunnel interface; default "wg0".
	Interface string
	// OnConfig offers a signed config fetched from the server; an error
	// is the node's refusal, logged and reported in heartbeats.
	OnConfig func(data []byte) error
	// Heartbeat fills in a heartbeat; the agent sets the time and id.
	Heartbeat func() api.Heartbeat
	// HeartbeatEvery defaults to api.DefaultHeartbeat.
	HeartbeatEvery time.Duration
	Facts          api.Facts
	Log            *slog.Logger
	// Identity is the node's ed25519 identity (services/identity, which
	// may keep it in a TPM). Nil: identity.key in StateDir.
	Identity ed25519.PrivateKey
	// WireGuard is the node's WireGuard key. Zero: wireguard.key in
	// StateDir, made at first start.
	WireGuard tunnel.Key
	// RevertAfter is how long a management change from a config may go
	// without one successful poll before the agent goes back to the
	// settings that last worked; default 2 minutes.
	RevertAfter time.Duration
}

// Agent is the management agent. It is a supervisor.Service.
type Agent struct {
	o        Options
	log      *slog.Logger
	identity ed25519.PrivateKey
	wg       tunnel.Key
	server   ed25519.PublicKey

	mu       sync.Mutex
	enr      *api.Enrollment
	tun      *tunnel.Tunnel
	etag     string
	cfgErr   string
	kick     chan struct{}
	wake     chan struct{} // closed and replaced by NetworkChanged
	override *config.Management
	link     link   // what the running tunnel was built from
	worked   *link  // the last link a poll succeeded over
	restart  func() // ends the running link so Run builds it again
}

// LoadSeed reads a seed file strictly; errors name the field.
func LoadSeed(file string) (api.Seed, error) {
	var s api.Seed
	data, err := os.ReadFile(file)
	if err != nil {
		return s, fmt.Errorf("seed: %w", err)
	}
	if err := api.DecodeBytes(data, &s); err != nil {
		return s, fmt.Errorf("seed %s: %w", file, err)
	}
	var probs []string
	if s.NodeID == "" {
		probs = append(probs, "node_id: missing")
	}
	if s.Token == "" {
		probs = append(probs, "token: missing")
	}
	if !strings.HasPrefix(s.EnrollURL, "http://") && !strings.HasPrefix(s.EnrollURL, "https://") {
		probs = append(probs, fmt.Sprintf("enroll_url: %q is not an http(s) URL", s.EnrollURL))
	}
	if k, err := base64.StdEncoding.DecodeString(s.ServerKey); err != nil || len(k) != ed25519.PublicKeySize {
		probs = append(probs, "server_key: is not a base64 ed25519 public key")
	}
	if len(s.Trust) == 0 {
		probs = append(probs, "trust: no config keys to trust")
	}
	for i, t := range s.Trust {
		if k, err := base64.StdEncoding.DecodeString(t); err != nil || len(k) != ed25519.PublicKeySize {
			probs = append(probs, fmt.Sprintf("trust[%d]: is not a base64 ed25519 public key", i))
		}
	}
	if len(probs) > 0 {
		return s, fmt.Errorf("seed %s: %s", file, strings.Join(probs, "; "))
	}
	return s, nil
}

// TrustSet is the seed's config keys.
func TrustSet(s api.Seed) (*envelope.TrustSet, error) {
	var keys []ed25519.PublicKey
	for _, t := range s.Trust {
		k, err := base64.StdEncoding.DecodeString(t)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ed25519.PublicKey(k))
	}
	return envelope.NewTrustSet(keys...)
}

// New loads or creates the node's keys and its enrollment, if any.
func New(o Options) (*Agent, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Interface == "" {
		o.Interface = "wg0"
	}
	if o.HeartbeatEvery <= 0 {
		o.HeartbeatEvery = api.DefaultHeartbeat
	}
	if o.OnConfig == nil || o.Heartbeat == nil {
		return nil, errors.New("mgmt: OnConfig and Heartbeat are required")
	}
	if o.RevertAfter <= 0 {
		o.RevertAfter = 2 * time.Minute
	}
	a := &Agent{o: o, log: o.Log, kick: make(chan struct{}, 1), wake: make(chan struct{})}
	sk, err := base64.StdEncoding.DecodeString(o.Seed.ServerKey)
	if err != nil || len(sk) != ed25519.PublicKeySize {
		return nil, errors.New("mgmt: seed server_key is not a base64 ed25519 public key")
	}
	a.server = ed25519.PublicKey(sk)
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("mgmt: %w", err)
	}
	if a.identity = o.Identity; a.identity == nil {
		prefix := filepath.Join(o.StateDir, IdentityKey)
		if _, err := os.Stat(prefix + ".key"); errors.Is(err, os.ErrNotExist) {
			if _, err := envelope.NewKeyPair(prefix); err != nil {
				return nil, fmt.Errorf("mgmt: identity: %w", err)
			}
			o.Log.Info("identity key created", "file", prefix+".key")
		}
		if a.identity, err = envelope.LoadPrivateKey(prefix + ".key"); err != nil {
			return nil, fmt.Errorf("mgmt: identity: %w", err)
		}
	}
	if a.wg = o.WireGuard; a.wg.IsZero() {
		if a.wg, err = tunnel.LoadOrCreateKey(filepath.Join(o.StateDir, WireGuardKey)); err != nil {
			return nil, fmt.Errorf("mgmt: %w", err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(o.StateDir, EnrollmentFile)); err == nil {
		e, err := a.verifyEnrollment(data)
		if err != nil {
			// Not trusted any more (a new seed pins another server):
			// enroll again rather than follow it.
			o.Log.Error("stored enrollment refused; enrolling again", "err", err)
		} else {
			a.enr = e
		}
	}
	return a, nil
}

// Name implements supervisor.Service.
func (a *Agent) Name() string { return "mgmt" }

// Enrolled reports whether the node holds a verified enrollment.
func (a *Agent) Enrolled() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.enr != nil
}

// Beat asks for a heartbeat now, e.g. after a config was applied.
func (a *Agent) Beat() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// SetConfigError records the last config refusal for heartbeats.
func (a *Agent) SetConfigError(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cfgErr = ""
	if err != nil {
		a.cfgErr = err.Error()
	}
}

// Run enrolls if needed, brings the tunnel up, and pulls configs and sends
// heartbeats until ctx ends; the tunnel goes down with it. When a config
// changes the management settings, the tunnel is rebuilt with them.
func (a *Agent) Run(ctx context.Context) error {
	e, err := a.enrolled(ctx)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		if err := a.runLink(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// runLink runs one tunnel, built from the enrollment and the config's
// management settings, until ctx ends or Apply asks for a new one.
func (a *Agent) runLink(ctx context.Context, e *api.Enrollment) error {
	a.mu.Lock()
	l, err := a.want(e)
	a.mu.Unlock()
	if err != nil {
		return err
	}
	t, err := a.tunnelUp(l)
	if err != nil {
		a.mu.Lock()
		bad := a.override != nil
		a.override = nil
		a.mu.Unlock()
		if !bad {
			return err
		}
		a.log.Error("tunnel from the config's management settings would not come up; using the enrollment's", "err", err)
		return nil
	}
	lctx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	a.link, a.restart = l, cancel
	a.mu.Unlock()
	defer func() {
		cancel()
		a.mu.Lock()
		a.tun, a.restart = nil, nil
		a.mu.Unlock()
		t.Close()
	}()
	var wg sync.WaitGroup
	wg.Go(func() { a.pull(lctx, l) })
	wg.Go(func() { a.beat(lctx, l) })
	wg.Go(func() { a.guard(lctx, l) })
	wg.Wait()
	return nil
}

// enrolled returns the stored enrollment or enrolls, retrying until it
// works or ctx ends.
func (a *Agent) enrolled(ctx context.Context) (*api.Enrollment, error) {
	a.mu.Lock()
	e := a.enr
	a.mu.Unlock()
	if e != nil {
		return e, nil
	}
	wait := time.Second
	for {
		e, err := a.enroll(ctx)
		if err == nil {
			a.mu.Lock()
			a.enr = e
			a.mu.Unlock()
			return e, nil
		}
		a.log.Error("enrollment failed; trying again", "url", a.o.Seed.EnrollURL, "err", err, "in", wait)
		if !a.sleep(ctx, wait) {
			return nil, ctx.Err()
		}
		wait = backoff(wait)
	}
}

func (a *Agent) enroll(ctx context.Context) (*api.Enrollment, error) {
	facts := a.o.Facts
	if facts.Arch == "" {
		facts.Arch = runtime.GOARCH
	}
	if facts.CPUs == 0 {
		facts.CPUs = runtime.NumCPU()
	}
	body, err := json.Marshal(api.EnrollRequest{
		NodeID: a.o.Seed.NodeID, Token: a.o.Seed.Token,
		IdentityKey: base64.StdEncoding.EncodeToString(a.identity.Public().(ed25519.PublicKey)),
		WireGuard:   a.wg.Public().String(),
		Facts:       facts, Time: time.Now().UTC(),
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.o.Seed.EnrollURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(a.identity, body)))
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, api.MaxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var ae api.Error
		if json.Unmarshal(data, &ae) == nil && ae.Error != "" {
			return nil, fmt.Errorf("server said %s: %s", resp.Status, ae.Error)
		}
		return nil, fmt.Errorf("server said %s", resp.Status)
	}
	e, err := a.verifyEnrollment(data)
	if err != nil {
		return nil, err
	}
	if err := statedir.WriteFile(filepath.Join(a.o.StateDir, EnrollmentFile), data, 0o600); err != nil {
		return nil, fmt.Errorf("keeping the enrollment: %w", err)
	}
	a.log.Info("enrolled", "address", e.Tunnel.Address, "endpoint", e.Tunnel.Endpoint)
	return e, nil
}

// verifyEnrollment checks the server's answer against the pinned key and
// that it is for this node and these keys.
func (a *Agent) verifyEnrollment(data []byte) (*api.Enrollment, error) {
	trust, err := envelope.NewTrustSet(a.server)
	if err != nil {
		return nil, err
	}
	payload, _, err := trust.Verify(data, api.PayloadEnrollment)
	if err != nil {
		return nil, fmt.Errorf("enrollment answer: %w", err)
	}
	var e api.Enrollment
	if err := api.DecodeBytes(payload, &e); err != nil {
		return nil, fmt.Errorf("enrollment answer: %w", err)
	}
	switch {
	case e.NodeID != a.o.Seed.NodeID:
		return nil, fmt.Errorf("enrollment answer is for node %q, not %q", e.NodeID, a.o.Seed.NodeID)
	case e.IdentityKey != base64.StdEncoding.EncodeToString(a.identity.Public().(ed25519.PublicKey)):
		return nil, errors.New("enrollment answer is for another identity key")
	case e.WireGuard != a.wg.Public().String():
		return nil, errors.New("enrollment answer is for another WireGuard key")
	}
	return &e, nil
}

func (a *Agent) tunnelUp(l link) (*tunnel.Tunnel, error) {
	peer, err := l.peer()
	if err != nil {
		return nil, err
	}
	t, err := tunnel.Up(tunnel.Config{
		Name:       a.o.Interface,
		PrivateKey: a.wg,
		Address:    l.address,
		Peers:      []tunnel.Peer{peer},
		Log:        a.log.With("part", "tunnel"),
	})
	if err != nil {
		return nil, fmt.Errorf("mgmt: %w", err)
	}
	a.mu.Lock()
	a.tun = t
	a.mu.Unlock()
	a.log.Info("tunnel up", "interface", t.Name(), "address", l.address, "endpoint", peer.Endpoint.String())
	return t, nil
}

// pull long-polls the config URL and offers each new config.
func (a *Agent) pull(ctx context.Context, l link) {
	hc := &http.Client{Timeout: PollWait + 15*time.Second}
	wait := time.Second
	for ctx.Err() == nil {
		changed, err := a.pollOnce(ctx, hc, l.configURL)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("config pull failed; serving the last good config", "err", err, "retry_in", wait)
			if !a.sleep(ctx, wait) {
				return
			}
			wait = backoff(wait)
			continue
		}
		wait = time.Second
		a.mu.Lock()
		a.worked = &l
		a.mu.Unlock()
		if changed {
			a.Beat()
		}
	}
}

func (a *Agent) pollOnce(ctx context.Context, hc *http.Client, url string) (bool, error) {
	a.mu.Lock()
	etag := a.etag
	a.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s?wait=%d", url, int(PollWait/time.Second)), nil)
	if err != nil {
		return false, err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return false, nil
	case http.StatusOK:
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("server said %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, envelope.MaxSize))
	if err != nil {
		return false, err
	}
	err = a.o.OnConfig(data)
	a.SetConfigError(err)
	a.mu.Lock()
	// Remember the tag even after a refusal: the same bytes would be
	// refused again, so wait for the next change rather than spin.
	a.etag = resp.Header.Get("ETag")
	a.mu.Unlock()
	if err != nil {
		a.log.Error("config from the server refused; keeping the current one", "err", err)
	}
	return true, nil
}

// beat sends heartbeats every HeartbeatEvery, and at once when kicked.
func (a *Agent) beat(ctx context.Context, l link) {
	hc := &http.Client{Timeout: 10 * time.Second}
	t := time.NewTicker(a.o.HeartbeatEvery)
	defer t.Stop()
	for {
		hb := a.o.Heartbeat()
		hb.NodeID, hb.Time = a.o.Seed.NodeID, time.Now().UTC()
		a.mu.Lock()
		if hb.ConfigError == "" {
			hb.ConfigError = a.cfgErr
		}
		a.mu.Unlock()
		if err := send(ctx, hc, l.heartbeatURL, hb); err != nil && ctx.Err() == nil {
			a.log.Debug("heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
		}
	}
}

func send(ctx context.Context, hc *http.Client, url string, hb api.Heartbeat) error {
	body, err := json.Marshal(hb)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server said %s", resp.Status)
	}
	return nil
}

// backoff doubles d with jitter, up to MaxBackoff.
func backoff(d time.Duration) time.Duration {
	d *= 2
	d += time.Duration(rand.Int64N(int64(d/4) + 1))
	return min(d, MaxBackoff)
}
