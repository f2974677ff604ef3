//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package report

// maxRSS is unknown on this system.
func maxRSS() int64 { return 0 }
