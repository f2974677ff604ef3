package job

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// machineMemory is the memory this process may use: the machine's, or its control group's
// limit when that is lower (a container).
func machineMemory() int64 {
	var info syscall.Sysinfo_t
	total := int64(0)
	if err := syscall.Sysinfo(&info); err == nil {
		total = int64(info.Totalram) * int64(info.Unit)
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && (total == 0 || v < total) {
			total = v
		}
	}
	return total
}
