//go:build !linux

package dnsserver

const msgTrunc = 0
