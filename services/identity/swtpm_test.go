package identity

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/tcp"

	"github.com/goleudy/goleudy/tools/lab"
)

// toolSwtpm is the TPM 2.0 emulator from Debian.
var toolSwtpm = lab.Tool{Name: "swtpm", Package: "swtpm"}

// swtpm is a running TPM emulator on loopback. Its state directory is the
// TPM: two swtpms with different state directories are two boards, the
// same directory after a restart is the same board after a reboot.
type swtpm struct {
	state         string
	cmdAddr, ctrl string
	log           string
	cmd           *exec.Cmd
	done          chan struct{}
}

// startSwtpm runs swtpm on state (created if missing) until the test
// ends. Ports are picked free and retried if another process wins them.
func startSwtpm(t *testing.T, state string) *swtpm {
	t.Helper()
	lab.Require(t, toolSwtpm)
	path, err := toolSwtpm.Path()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	var last error
	for range 5 {
		s, err := trySwtpm(t, path, state)
		if err == nil {
			t.Cleanup(s.stop)
			return s
		}
		last = err
	}
	t.Fatalf("swtpm did not start: %v", last)
	return nil
}

func trySwtpm(t *testing.T, path, state string) (*swtpm, error) {
	s := &swtpm{
		state:   state,
		cmdAddr: lab.FreeAddr(t),
		ctrl:    lab.FreeAddr(t),
		log:     filepath.Join(t.TempDir(), "swtpm.log"),
		done:    make(chan struct{}),
	}
	_, cmdPort, _ := net.SplitHostPort(s.cmdAddr)
	_, ctrlPort, _ := net.SplitHostPort(s.ctrl)
	out, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	s.cmd = exec.Command(path, "socket", "--tpm2",
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+cmdPort,
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+ctrlPort,
		"--flags", "not-need-init,startup-clear",
		"--tpmstate", "dir="+state)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start swtpm: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("swtpm exited at start: %s", s.logText())
		default:
		}
		if listening(s.cmdAddr) && listening(s.ctrl) {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("swtpm not listening on %s after 10s: %s", s.ctrl, s.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// open connects to the emulator, as Options.OpenTPM.
func (s *swtpm) open() (transport.TPMCloser, error) {
	t, err := tcp.Open(tcp.Config{CommandAddress: s.cmdAddr, PlatformAddress: s.ctrl})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// stop kills the emulator, as pulling the power would. swtpm writes its
// state at every change, so that is a fair reboot.
func (s *swtpm) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

func (s *swtpm) logText() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
