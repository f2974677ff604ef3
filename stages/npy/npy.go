// Package npy writes images as tensor shards in NumPy's .npy format (version 1.0), which
// numpy.load, PyTorch and JAX read without any extra library, plus an index that maps each row
// of each shard to its source file.
//
// A ShardWriter takes rows one at a time and starts a new shard every N rows. Each shard is
// streamed into a temporary file whose header, reserved at the start, is written last with
// the final row count, then renamed into place: a shard on disk is always complete.
//
// # Files
//
// A writer with Prefix "shard" writes, in its folder:
//
//	shard-00000.npy, shard-00001.npy, ...   the shards, RowsPerShard rows each but the last
//	shard-index.jsonl                        one line per row: {"shard", "row", "path"}
//	shard-manifest.json                      what is committed: the shards, their rows, the
//	                                         index's length, the rows' shape and Config
//	.shard.lock                              held while a writer is open
//
// Runs split with imgpipe --shard i/n take the prefix shard-s{i}of{n}, so that the parts of
// one input can be written into one folder without colliding.
//
// # Committing and resuming
//
// A shard is committed in three steps: renamed into place, its rows appended to the index,
// then the manifest rewritten (to a temporary name, then renamed) to list it. Whatever stops a
// run (a cancellation, a full disk, SIGKILL, a power loss with Options.Sync), the manifest
// lists whole shards whose rows the index holds, and anything past it (a shard renamed but not
// listed, index lines written in part) is not committed. A reader that wants only committed
// rows reads the manifest; once a run has ended, the index lists exactly the manifest's
// shards and nothing else is left.
//
// A new writer with the same Prefix resumes: it reads the manifest, checks that it records
// the same row shape and Options.Config, keeps the listed shards that are whole on disk and
// whose rows the index lists (up to the first that is not), truncates the index after them,
// removes every other shard file of the prefix, and numbers its shards after the kept ones.
// Committed reports the sources of the kept rows, so that the caller skips them: as rows are
// committed in input order, a rerun over the same sorted input then appends the rows that are
// missing, in order, and ends with the shards an uninterrupted run would have written, byte
// for byte. A rerun after a complete run adds nothing. Shards a writer cannot resume (no
// manifest, or another shape or Config) are an error wrapping ErrNotResumable;
// Options.Overwrite removes every shard file of the prefix, the index and the manifest, and
// starts afresh, so that no stale shard is left for a loader that globs the folder.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Element types, as NumPy spells them in a header's 'descr'.
const (
	Float32 = "<f4" // little-endian float32
	Uint8   = "|u1" // uint8; byte order does not apply
)

// magic starts every .npy file.
const magic = "\x93NUMPY"

// align is the multiple the data offset is padded to, as NumPy does, so that the data can be
// memory-mapped aligned.
const align = 64

// Header is the description at the start of a .npy file.
type Header struct {
	Descr        string // element type, such as Float32 or Uint8
	FortranOrder bool   // column-major; always false here
	Shape        []int
	DataOffset   int64 // where the data starts: the header's length in bytes
}

// EncodeHeader returns a version 1.0 header for an array of descr elements in C order with
// the given shape, padded with spaces and ended with a newline so that the data starts at a
// multiple of 64 bytes.
func EncodeHeader(descr string, shape []int) []byte {
	h, _ := encodeHeader(descr, shape, 0)
	return h
}

// encodeHeader pads the header to size bytes when size is not 0, so that a header written
// first with a guess and rewritten with the final shape keeps its length. It fails when the
// header does not fit in size, or in version 1.0's 65535 bytes.
func encodeHeader(descr string, shape []int, size int) ([]byte, error) {
	dims := make([]string, len(shape))
	for i, n := range shape {
		dims[i] = strconv.Itoa(n)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += "," // a one-element tuple, as Python writes it
	}
	var dict strings.Builder
	fmt.Fprintf(&dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	fixed := len(magic) + 2 + 2 + dict.Len() + 1 // magic, version, length, dict, newline
	total := (fixed + align - 1) / align * align
	if size != 0 {
		if size < fixed || size%align != 0 {
			return nil, fmt.Errorf("npy: header for shape %v does not fit in %d bytes", shape, size)
		}
		total = size
	}
	if total-len(magic)-4 > 0xffff {
		return nil, fmt.Errorf("npy: header for shape %v is too long for format 1.0", shape)
	}
	out := make([]byte, 0, total)
	out = append(out, magic...)
	out = append(out, 1, 0)
	out = binary.LittleEndian.AppendUint16(out, uint16(total-len(magic)-4))
	out = append(out, dict.String()...)
	out = append(out, bytes.Repeat([]byte{' '}, total-fixed)...)
	return append(out, '\n'), nil
}

// ReadHeader reads the header of a .npy file of version 1.0, 2.0 or 3.0 and leaves r at the
// start of the data.
func ReadHeader(r io.Reader) (Header, error) {
	var pre [len(magic) + 2]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return Header{}, fmt.Errorf("npy: reading header: %w", err)
	}
	if string(pre[:len(magic)]) != magic {
		return Header{}, errors.New("npy: not a .npy file (bad magic)")
	}
	var n, lenSize int
	switch pre[len(magic)] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, fmt.Errorf("npy: reading header: %w", err)
		}
		n, lenSize = int(binary.LittleEndian.Uint16(b[:])), 2
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, fmt.Errorf("npy: reading header: %w", err)
		}
		n, lenSize = int(binary.LittleEndian.Uint32(b[:])), 4
		if n > 1<<20 {
			return Header{}, fmt.Errorf("npy: header of %d bytes", n)
		}
	default:
		return Header{}, fmt.Errorf("npy: unsupported format version %d.%d", pre[len(magic)], pre[len(magic)+1])
	}
	dict := make([]byte, n)
	if _, err := io.ReadFull(r, dict); err != nil {
		return Header{}, fmt.Errorf("npy: reading header: %w", err)
	}
	h, err := parseDict(string(dict))
	h.DataOffset = int64(len(pre) + lenSize + n)
	return h, err
}

// parseDict reads the three keys of a header dictionary, as NumPy writes them.
func parseDict(s string) (Header, error) {
	var h Header
	bad := func(what string) (Header, error) {
		return Header{}, fmt.Errorf("npy: header %q: %s", strings.TrimSpace(s), what)
	}
	descr, ok := value(s, "descr")
	if !ok || len(descr) < 2 || descr[0] != '\'' || descr[len(descr)-1] != '\'' {
		return bad("no 'descr'")
	}
	h.Descr = descr[1 : len(descr)-1]
	switch fo, _ := value(s, "fortran_order"); fo {
	case "False":
	case "True":
		h.FortranOrder = true
	default:
		return bad("no 'fortran_order'")
	}
	shape, ok := value(s, "shape")
	if !ok || !strings.HasPrefix(shape, "(") || !strings.HasSuffix(shape, ")") {
		return bad("no 'shape'")
	}
	for _, f := range strings.Split(shape[1:len(shape)-1], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return bad("bad 'shape'")
		}
		h.Shape = append(h.Shape, n)
	}
	return h, nil
}

// value returns the text of key's value in a header dictionary: up to the next ", '" or the
// closing brace, with a tuple kept whole.
func value(s, key string) (string, bool) {
	i := strings.Index(s, "'"+key+"':")
	if i < 0 {
		return "", false
	}
	v := strings.TrimLeft(s[i+len(key)+3:], " ")
	end := strings.IndexAny(v, ",}")
	if strings.HasPrefix(v, "(") {
		end = strings.IndexByte(v, ')') + 1
	}
	if end <= 0 {
		return "", false
	}
	return strings.TrimSpace(v[:end]), true
}
