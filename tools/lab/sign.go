package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// SignOptions chooses how SignZone signs.
type SignOptions struct {
	// NSEC3 denies existence with NSEC3 instead of NSEC.
	NSEC3 bool
	// OptOut (implies NSEC3) leaves insecure delegations out of the NSEC3
	// chain, as a TLD does, so opt-out proofs get exercised.
	OptOut bool
	// Salt is the NSEC3 salt in hex; empty for none, as RFC 9276 advises.
	Salt string
	// Iterations is the number of extra NSEC3 hash iterations; RFC 9276
	// says 0, which is the default.
	Iterations int
	// Algorithm is an ldns-keygen algorithm name: ECDSAP256SHA256 (the
	// default) or ED25519.
	Algorithm string
}

// Signature validity. Expiration is far off but within 68 years of now:
// RRSIG times compare in RFC 1982 serial arithmetic, so a date more than
// 2^31 seconds ahead (such as 2099 seen from 2026) reads as the past.
// Inception is fixed so re-signing changes only keys and signatures.
const (
	signInception  = "20250101000000"
	signExpiration = "20900101000000"
)

// SignZone signs zoneText for origin with a fresh KSK and ZSK using
// ldns-keygen and ldns-signzone, and returns the signed zone text.
func SignZone(tb testing.TB, zoneText, origin string, opts SignOptions) string {
	tb.Helper()
	Require(tb, ToolLdnsKeygen, ToolLdnsSignzone)
	signed, err := Sign(context.Background(), zoneText, origin, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return signed
}

// Sign is SignZone for callers without a testing.TB.
func Sign(ctx context.Context, zoneText, origin string, opts SignOptions) (string, error) {
	origin = dns.Fqdn(origin)
	dir, err := os.MkdirTemp("", "lab-sign-")
	if err != nil {
		return "", fmt.Errorf("lab: sign %s: %w", origin, err)
	}
	defer os.RemoveAll(dir)

	text, unsigned := zoneText, ""
	if opts.OptOut {
		opts.NSEC3 = true
		if text, unsigned, err = splitInsecure(zoneText, origin); err != nil {
			return "", err
		}
	}
	in := filepath.Join(dir, "zone")
	if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("lab: sign %s: %w", origin, err)
	}
	alg := opts.Algorithm
	if alg == "" {
		alg = "ECDSAP256SHA256"
	}
	ksk, err := runTool(ctx, dir, ToolLdnsKeygen, "-a", alg, "-k", origin)
	if err != nil {
		return "", fmt.Errorf("lab: sign %s: KSK: %w", origin, err)
	}
	zsk, err := runTool(ctx, dir, ToolLdnsKeygen, "-a", alg, origin)
	if err != nil {
		return "", fmt.Errorf("lab: sign %s: ZSK: %w", origin, err)
	}
	out := filepath.Join(dir, "signed")
	args := []string{"-o", origin, "-i", signInception, "-e", signExpiration, "-f", out}
	if opts.NSEC3 {
		args = append(args, "-n", "-a", "1", "-t", strconv.Itoa(opts.Iterations))
		if opts.Salt != "" {
			args = append(args, "-s", opts.Salt)
		}
		if opts.OptOut {
			args = append(args, "-p")
		}
	}
	args = append(args, in, strings.TrimSpace(ksk), strings.TrimSpace(zsk))
	if _, err := runTool(ctx, dir, ToolLdnsSignzone, args...); err != nil {
		return "", fmt.Errorf("lab: sign %s: %w", origin, err)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		return "", fmt.Errorf("lab: sign %s: %w", origin, err)
	}
	if unsigned != "" {
		signed = append(signed, "; insecure delegations, outside the opt-out NSEC3 chain\n"+unsigned...)
	}
	return string(signed), nil
}

// splitInsecure separates insecure delegations (NS without DS) and
// everything at or below them from the rest of the zone. ldns-signzone -p
// only sets the opt-out flag; leaving the delegations out of the chain is
// done, as its manual says, by adding them after signing.
func splitInsecure(zoneText, origin string) (secure, insecure string, err error) {
	rrs, err := ParseZone(zoneText, origin)
	if err != nil {
		return "", "", err
	}
	ns, ds := map[string]bool{}, map[string]bool{}
	for _, rr := range rrs {
		name := canonical(rr.Header().Name)
		switch rr.Header().Rrtype {
		case dns.TypeNS:
			ns[name] = name != origin
		case dns.TypeDS:
			ds[name] = true
		}
	}
	var s, u strings.Builder
	for _, rr := range rrs {
		out := &s
		for cut := range ns {
			if ns[cut] && !ds[cut] && dns.IsSubDomain(cut, canonical(rr.Header().Name)) {
				out = &u
				break
			}
		}
		out.WriteString(rr.String() + "\n")
	}
	return s.String(), u.String(), nil
}

// runTool runs t in dir and returns its standard output.
func runTool(ctx context.Context, dir string, t Tool, args ...string) (string, error) {
	path, err := t.Path()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", t.Name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}
