package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
)

// Approach 1, the seed's Example 1: one worker process per sub-batch, started one after
// another; each sub-batch is serialized, sent over the child's stdin, computed there and
// sent back serialized over its stdout. The serialization is the cheapest there is (raw
// little-endian float32), the best case for this approach.
func runSubprocess(exe string, in, out []float32, n, sub int) error {
	for lo := 0; lo < n; lo += sub {
		hi := min(lo+sub, n)
		if err := subBatch(exe, in[lo*imageLen:hi*imageLen], out[lo*imageLen:hi*imageLen]); err != nil {
			return fmt.Errorf("images %d-%d: %w", lo, hi-1, err)
		}
	}
	return nil
}

func subBatch(exe string, in, out []float32) error {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleSubprocess)
	cmd.Stdin = bytes.NewReader(encode(in))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("worker process: %w", err)
	}
	raw := make([]byte, 4*len(out)) // the size is known: no buffer regrowth
	_, rerr := io.ReadFull(stdout, raw)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("worker process: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("reading the worker's result: %w", rerr)
	}
	return decode(out, raw)
}

// subprocessWorker is the child's side: read a serialized sub-batch from stdin, compute,
// write the serialized result to stdout. The sub-batch starts with its image count.
func subprocessWorker(stdin io.Reader, stdout io.Writer) error {
	var n uint32
	if err := binary.Read(stdin, binary.LittleEndian, &n); err != nil {
		return fmt.Errorf("reading the image count: %w", err)
	}
	if n == 0 || n > 1<<16 {
		return fmt.Errorf("implausible image count %d", n)
	}
	raw := make([]byte, int(n)*imageSize)
	if _, err := io.ReadFull(stdin, raw); err != nil {
		return fmt.Errorf("reading %d images: %w", n, err)
	}
	in := make([]float32, int(n)*imageLen)
	if err := decode(in, raw); err != nil {
		return err
	}
	out := make([]float32, len(in))
	processImages(out, in, int(n), 0)
	_, err := stdout.Write(encode(out)[4:])
	return err
}

// encode serializes images: their count, then their values as little-endian float32.
func encode(v []float32) []byte {
	b := make([]byte, 4+4*len(v))
	binary.LittleEndian.PutUint32(b, uint32(len(v)/imageLen))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4+4*i:], math.Float32bits(f))
	}
	return b
}

func decode(dst []float32, b []byte) error {
	if len(b) != 4*len(dst) {
		return fmt.Errorf("got %d bytes, want %d", len(b), 4*len(dst))
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return nil
}
