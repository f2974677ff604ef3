package kernels

import (
	_ "embed"
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
)

// The PTX modules, generated from csrc/*.cu by go generate (gen-ptx.sh) and committed.
var (
	//go:embed ptx/pixel.ptx
	pixelPTX []byte
	//go:embed ptx/resample.ptx
	resamplePTX []byte
)

// modules maps a .cu file's name to its PTX.
var modules = map[string][]byte{"pixel": pixelPTX, "resample": resamplePTX}

// kernelDefs are all the kernels, in both forms.
var kernelDefs = []*kernelDef{colorK, greyK, lutK, normalizeK, orientK, resampleH, resampleV, resampleVColor, resampleVNorm, unsharpK}

// kernelArgs is the C parameter list every kernel shares:
// (const Job* jobs, int n, const u8* src, u8* dst, const u8* tab).
var kernelArgs = []gpu.ArgKind{gpu.KindPtr, gpu.KindInt32, gpu.KindPtr, gpu.KindPtr, gpu.KindPtr}

func init() {
	for _, k := range kernelDefs {
		err := gpu.RegisterKernel(gpu.KernelSpec{Name: k.name, PTX: modules[k.module], Host: k.host, Args: kernelArgs})
		if err != nil {
			panic(fmt.Sprintf("kernels: %v", err)) // two packages registering one name is a build mistake
		}
	}
}

// Names lists the kernels this package registers with package gpu.
func Names() []string {
	names := make([]string, len(kernelDefs))
	for i, k := range kernelDefs {
		names[i] = k.name
	}
	return names
}
