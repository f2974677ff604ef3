//go:build !noblob_gcs

package main

// The gs:// driver of gocloud.dev/blob, registered for imgpipe's --in and --out. It is
// imported here, by the command, not by package stages/blob, so that programs and tests that
// use the library link only the stores they import; the build tag noblob_gcs leaves it (and
// its SDK) out of imgpipe, and gs:// locations are then refused as not built in.
import _ "gocloud.dev/blob/gcsblob"
