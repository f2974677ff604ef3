// Package raster holds the image types every other image package of gpupipe shares, and the
// host operations that belong to the types themselves. It imports only the standard library.
//
// # Images and tensors
//
// An Image is 8-bit with interleaved channels (HWC): 1 (grey), 3 (RGB) or 4 (RGBA with
// straight alpha), with any row stride, so that a view of part of an image (Sub, CenterCrop)
// costs nothing. A Tensor is float32 in planar layout (CHW), the layout machine-learning
// frameworks take. MaxSide and MaxPixels bound every size, so that a mistaken size is an error
// rather than an allocation of terabytes; errors about an image wrap ErrImage.
//
// # Orientations
//
// An Orientation is one of the eight flips and rotations, numbered as the EXIF Orientation
// tag. Orient applies one on the host; it is the only implementation in gpupipe (the Go twin
// of the GPU kernel in package gpu/kernels calls OrientSpan).
//
// # Filters
//
// A Filter names a resampling filter (Box, Linear, CatmullRom, Lanczos3); ParseFilter reads
// the names. The resampling itself is in package gpu/kernels.
package raster
