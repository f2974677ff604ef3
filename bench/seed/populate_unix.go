//go:build unix && !linux

package main

import "syscall"

// mapFlags share the mapping between processes.
const mapFlags = syscall.MAP_SHARED
