//go:build !linux

package lab

import (
	"errors"
	"os"
)

func openTap(*Netns, string) (*os.File, error) { return nil, errors.New("TAP devices need Linux") }
