package walk

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard selects part Index of Count of the sorted file list, so that several machines can
// split one input between them. The parts are contiguous ranges, as in NVIDIA DALI's readers
// (shard_id, num_shards): part i of n of a list of N files is [N·i/n, N·(i+1)/n). Every file
// belongs to exactly one part as long as the tree does not change while the machines walk it.
// The zero value (and any Count of 0 or 1) selects the whole list.
type Shard struct {
	Index, Count int
}

// ParseShard parses "i/n" with 0 ≤ i < n, as given to a --shard flag. The empty string is the
// whole list.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("walk: shard %q: want i/n, such as 0/4", s)
	}
	sh := Shard{Index: i, Count: n}
	if err := sh.validate(); err != nil {
		return Shard{}, err
	}
	return sh, nil
}

func (s Shard) validate() error {
	if s.Count < 0 || s.Index < 0 || (s.Count > 0 && s.Index >= s.Count) || (s.Count == 0 && s.Index != 0) {
		return fmt.Errorf("walk: shard %d/%d: want 0 ≤ i < n", s.Index, s.Count)
	}
	return nil
}

// Range is the half-open range of positions [lo, hi) this shard takes from a list of n.
func (s Shard) Range(n int) (lo, hi int) {
	if s.Count <= 1 {
		return 0, n
	}
	return n * s.Index / s.Count, n * (s.Index + 1) / s.Count
}

// String formats the shard as ParseShard reads it.
func (s Shard) String() string {
	if s.Count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}
