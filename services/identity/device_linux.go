package identity

import (
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// devices are probed in order. The resource manager (tpmrm0) comes first:
// it lets other users share the TPM and flushes our transient objects if we
// die half-way.
var devices = []string{"/dev/tpmrm0", "/dev/tpm0"}

func openDevice(path string) (transport.TPMCloser, error) { return linuxtpm.Open(path) }
