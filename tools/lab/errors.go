package lab

import "errors"

var (
	// ErrMissingTool reports that a program the lab runs is not installed.
	// Its message names the Debian package that provides it.
	ErrMissingTool = errors.New("required program not installed")
	// ErrNoSOA reports zone text without an SOA record.
	ErrNoSOA = errors.New("no SOA record")
	// ErrNotReady reports a server that did not answer for its zones in time.
	ErrNotReady = errors.New("server not ready")
	// ErrExited reports a server process that exited on its own.
	ErrExited = errors.New("server exited")
	// ErrStray reports processes left in a server's process group after Stop.
	ErrStray = errors.New("processes left behind")
)
