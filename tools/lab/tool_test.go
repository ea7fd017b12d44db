package lab

import (
	"errors"
	"strings"
	"testing"
)

// A missing program must fail naming the Debian package to install.
func TestToolMissing(t *testing.T) {
	_, err := Tool{Name: "lab-no-such-program", Package: "lab-fake-package"}.Path()
	if !errors.Is(err, ErrMissingTool) || !strings.Contains(err.Error(), "apt-get install lab-fake-package") {
		t.Errorf("got %v", err)
	}
	for _, tool := range []Tool{ToolNSD, ToolKnotd, ToolKdig, ToolLdnsSignzone, ToolDnsperf, ToolTaskset} {
		if _, err := tool.Path(); err != nil {
			t.Error(err) // CI installs every one of these
		}
	}
}
