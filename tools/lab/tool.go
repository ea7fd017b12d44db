package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool is a program the lab runs, with the Debian package that provides it,
// so a missing one fails with the exact apt-get line to fix it.
type Tool struct {
	Name    string // program name, e.g. "nsd-control"
	Package string // Debian package, e.g. "nsd"
}

// Programs the lab and its users run.
var (
	ToolNSD          = Tool{"nsd", "nsd"}
	ToolNSDControl   = Tool{"nsd-control", "nsd"}
	ToolKnotd        = Tool{"knotd", "knot"}
	ToolKnotc        = Tool{"knotc", "knot"}
	ToolKdig         = Tool{"kdig", "knot-dnsutils"}
	ToolLdnsKeygen   = Tool{"ldns-keygen", "ldnsutils"}
	ToolLdnsSignzone = Tool{"ldns-signzone", "ldnsutils"}
	ToolDnsperf      = Tool{"dnsperf", "dnsperf"}
	ToolTaskset      = Tool{"taskset", "util-linux"}
	ToolBIRD         = Tool{"bird", "bird2"}
	ToolBirdc        = Tool{"birdc", "bird2"}
	ToolNft          = Tool{"nft", "nftables"}
	ToolChromium     = Tool{"chromium", "chromium"}
	ToolCurl         = Tool{"curl", "curl"}
)

// Path finds the program. Daemons live in /usr/sbin, which an ordinary
// user's PATH often lacks, so that is searched too.
func (t Tool) Path() (string, error) {
	if p, err := exec.LookPath(t.Name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(dir, t.Name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("lab: %s: %w: apt-get install %s", t.Name, ErrMissingTool, t.Package)
}

// Require fails the test, naming the Debian package, unless every tool is
// installed. Tests that need these must fail in CI, never skip.
func Require(tb testing.TB, tools ...Tool) {
	tb.Helper()
	for _, t := range tools {
		if _, err := t.Path(); err != nil {
			tb.Fatal(err)
		}
	}
}
