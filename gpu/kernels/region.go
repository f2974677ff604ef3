package kernels

import "unsafe"

// region is memory a job reads or writes: rows of row bytes, stride bytes apart, from
// address lo.
type region struct {
	lo          uintptr
	rows        int
	stride, row uintptr
	write       bool
}

// viewRegion is the region of a view of rows rows at byte offset off of mem.
func viewRegion(mem []byte, off int64, rows, stride, row int, write bool) region {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	return region{lo: base + uintptr(off), rows: rows, stride: uintptr(stride), row: uintptr(row), write: write}
}

// end is the address just past the last row.
func (r region) end() uintptr { return r.lo + uintptr(r.rows-1)*r.stride + r.row }

// overlaps reports whether a row of r shares a byte with a row of s.
func (r region) overlaps(s region) bool {
	if r.end() <= s.lo || s.end() <= r.lo {
		return false
	}
	if r.rows > s.rows {
		r, s = s, r
	}
	for i := range r.rows {
		lo := r.lo + uintptr(i)*r.stride
		if s.meets(lo, lo+r.row) {
			return true
		}
	}
	return false
}

// meets reports whether [lo, hi) shares a byte with a row of r.
func (r region) meets(lo, hi uintptr) bool {
	if lo < r.lo {
		return r.lo < hi
	}
	k := r.rows - 1 // the last row that starts at or before lo
	if r.stride > 0 {
		k = min(int((lo-r.lo)/r.stride), r.rows-1)
	}
	start := r.lo + uintptr(k)*r.stride
	if lo < start+r.row {
		return true
	}
	return k+1 < r.rows && start+r.stride < hi
}
