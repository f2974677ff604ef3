//go:build !linux

package job

// machineMemory is 0 where the machine's memory is not at hand: the default budget then
// does not depend on it.
func machineMemory() int64 { return 0 }
