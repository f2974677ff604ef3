//go:build cuda

package cuda

import (
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
	"gorgonia.org/cu"
)

// driverError turns a CUresult returned by the shim into the error value gorgonia.org/cu
// returns for the same code, so that errors.Is(err, cu.OutOfMemory) holds for both.
func driverError(code int) error { return resultLike(code, cu.Success) }

// resultLike converts code to the type of like: gorgonia.org/cu's result type is unexported,
// but its constants carry it.
func resultLike[T ~int](code int, like T) T { return T(code) }

// opError is a driver failure of one stream operation.
func opError(stream int, seq int64, op string, err error) *gpu.OpError {
	return &gpu.OpError{Stream: stream, Seq: seq, Op: op, Err: fmt.Errorf("%w: %w", gpu.ErrDevice, err)}
}

// fail is a driver failure outside any stream, such as an allocation.
func (d *Device) fail(op string, err error) error {
	return fmt.Errorf("cuda: device %d: %s: %w: %w", d.ordinal, op, gpu.ErrDevice, err)
}
