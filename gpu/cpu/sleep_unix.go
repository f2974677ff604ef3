//go:build unix

package cpu

import (
	"syscall"
	"time"
)

// sleep blocks the calling thread for d with nanosleep. time.Sleep wakes through the
// runtime's network poller, whose timeout has millisecond resolution, and so oversleeps by
// up to a millisecond; nanosleep oversleeps by the kernel's timer slack (about 50 µs), which
// keeps the timing model honest at batch times of a few milliseconds.
func sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for d > 0 {
		var rest syscall.Timespec
		if err := syscall.Nanosleep(&ts, &rest); err != syscall.EINTR {
			return
		}
		ts = rest
	}
}
