//go:build !linux

package identity

import (
	"errors"

	"github.com/google/go-tpm/tpm2/transport"
)

// devices is empty: only Linux nodes have TPM devices we know how to open.
var devices []string

func openDevice(string) (transport.TPMCloser, error) {
	return nil, errors.New("TPM devices are supported on Linux only; use Options.OpenTPM")
}
