//go:build !linux

package netconf

import (
	"errors"
	"fmt"
)

// Interfaces are configured over netlink, so the Manager runs on Linux
// only; elsewhere New fails, so a port of the node fails at once.
func newKernel(string) (kernel, error) {
	return nil, fmt.Errorf("netconf: %w", errors.ErrUnsupported)
}
