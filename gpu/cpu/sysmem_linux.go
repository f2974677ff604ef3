package cpu

import "syscall"

// systemMemory is the machine's memory, which the device reports when it has no limit.
func systemMemory() int64 {
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return 1 << 40
	}
	return int64(info.Totalram) * int64(info.Unit)
}
