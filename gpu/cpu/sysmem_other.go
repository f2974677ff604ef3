//go:build !linux

package cpu

// systemMemory is what the device reports as its memory without a limit where the machine's
// memory is not at hand: 1 TiB, more than any process gets.
func systemMemory() int64 { return 1 << 40 }
