//go:build !noblob_s3

package main

// The s3:// driver of gocloud.dev/blob, registered for imgpipe's --in and --out. It is
// imported here, by the command, not by package stages/blob, so that programs and tests that
// use the library link only the stores they import; the build tag noblob_s3 leaves it (and
// its SDK) out of imgpipe, and s3:// locations are then refused as not built in.
import _ "gocloud.dev/blob/s3blob"
