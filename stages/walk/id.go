package walk

// ID identifies a file by its device and inode numbers: two paths with one ID are one file
// (a hard link, a link, or a folder reached twice). It is comparable and 16 bytes, so a set
// of the inputs of a run costs little.
type ID struct{ Dev, Ino uint64 }

// IsZero reports whether id is unknown.
func (id ID) IsZero() bool { return id == ID{} }
