//go:build !linux

package main

import (
	"errors"
	"io"
)

func run(io.Writer) error { return errors.New("runs only as /init of a Linux initramfs") }
