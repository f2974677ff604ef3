//go:build race

package job

// raceEnabled: the race detector is on, which changes what the heap holds.
const raceEnabled = true
