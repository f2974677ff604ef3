package gpu

import "errors"

// ErrOutOfMemory: the device could not allocate the memory asked for. Devices wrap it, so
// callers that can live with less (the overlap engine growing a slot) test for it with
// errors.Is and retry smaller.
var ErrOutOfMemory = errors.New("gpu: out of device memory")
