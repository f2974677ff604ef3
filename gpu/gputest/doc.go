// Package gputest is a conformance suite for gpu.Device implementations: whatever runs it
// green behaves as package gpu documents, so that code tested on one device works on another.
//
// Run checks buffers, copies, kernels, stream order, events across streams, timing and
// misuse errors; it leaves the device usable. RunFaults checks sticky device faults; on a
// real GPU a fault poisons the whole context, so run it on a device of its own. RunClose
// checks Close and closes the device.
//
// The suite registers one kernel, Kernel, with both a PTX form (saxpy.cu compiled by nvcc)
// and a Go form, so the same tests run on the CPU device and on a GPU.
package gputest
