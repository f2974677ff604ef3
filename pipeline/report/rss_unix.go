//go:build linux || darwin || freebsd || netbsd || openbsd

package report

import (
	"runtime"
	"syscall"
)

// maxRSS is the process's peak resident set size in bytes, or 0 when unknown.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes on macOS
	}
	return int64(ru.Maxrss) * 1024 // kilobytes elsewhere
}
