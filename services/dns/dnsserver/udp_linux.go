package dnsserver

import "syscall"

const msgTrunc = syscall.MSG_TRUNC
