package imageio

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gpupipe/gpupipe/stages/walk"
)

// readInput reads the whole of f, a local file or a file of a walk.Store (an object in a
// bucket), under the same limits: the size is checked before anything is read, and the
// file's first bytes are checked for an image signature before the rest is read.
func readInput(ctx context.Context, f walk.File, max int64, pool *Pool) ([]byte, error) {
	if f.Store == nil {
		return readFile(ctx, f.Path(), max, pool)
	}
	// The listing's size refuses a file before a byte of it is fetched; the size the
	// store gives when the read starts is the one read, and is checked again.
	if err := checkSize(f.Size, max); err != nil {
		return nil, err
	}
	r, size, err := f.Store.Open(ctx, f.Rel)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := checkSize(size, max); err != nil {
		return nil, err
	}
	return readAll(ctx, r, size, pool)
}

// checkSize refuses an empty file and one over the limit max (negative: none).
func checkSize(size, max int64) error {
	switch {
	case size == 0:
		return ErrEmpty
	case max >= 0 && size > max:
		return fmt.Errorf("%w: file is %d bytes, over the limit of %d", ErrTooLarge, size, max)
	}
	return nil
}

// sniffSize is how much of a file is read before its signature is checked: enough for the
// header of every format the decoders read.
const sniffSize = 4 << 10

// readAll reads size bytes from r into a buffer from pool, in chunks between which it looks
// at ctx. The first sniffSize bytes are read alone and must start as an image of a known
// format, so that a large file that is no image (a video in a photo folder, an object
// in a bucket) costs a few kilobytes of reading, not its size.
func readAll(ctx context.Context, r io.Reader, size int64, pool *Pool) ([]byte, error) {
	// The head goes into a small buffer of its own: the file's buffer is taken only for
	// an image.
	head := make([]byte, min(size, sniffSize))
	if err := readChunks(ctx, r, head); err != nil {
		return nil, err
	}
	if !knownSignature(head) {
		return nil, ErrUnknownFormat
	}
	buf := pool.Get(int(size))
	copy(buf, head)
	if err := readChunks(ctx, r, buf[len(head):]); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return buf, nil
}

// readChunks fills buf from r, readChunk bytes at a time, stopping when ctx is done.
func readChunks(ctx context.Context, r io.Reader, buf []byte) error {
	for off := 0; off < len(buf); off += readChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, buf[off:min(off+readChunk, len(buf))]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return errors.New("file shrank while being read")
			}
			return unwrapPath(err)
		}
	}
	return nil
}
