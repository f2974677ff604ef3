//go:build !unix

package cpu

import "time"

func sleep(d time.Duration) { time.Sleep(d) }
