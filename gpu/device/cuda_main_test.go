//go:build cuda

package device

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/cuda"
)

// TestMain keeps every GPU's primary context alive for the whole test binary, so that the
// tests' Opens and Closes do not destroy and create it again each time (see gpu/cuda's
// keepContext).
func TestMain(m *testing.M) {
	var keep []*cuda.Device
	if n, err := cuda.Count(); err == nil {
		for i := range n {
			if d, err := cuda.Open(i); err == nil {
				keep = append(keep, d)
			}
		}
	}
	code := m.Run()
	var errs []error
	for _, d := range keep {
		errs = append(errs, d.Close())
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "closing the devices that kept the contexts:", err)
		code = 1
	}
	os.Exit(code)
}
