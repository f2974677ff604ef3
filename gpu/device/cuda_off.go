//go:build !cuda

package device

import (
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
)

const cudaBuilt = false

func cudaCount() (int, error) { return 0, ErrNoCUDA }

func openCUDA(ordinal int, _ config) (gpu.Device, error) {
	return nil, fmt.Errorf("device: cuda:%d: %w", ordinal, ErrNoCUDA)
}
