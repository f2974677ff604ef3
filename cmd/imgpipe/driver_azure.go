//go:build !noblob_azure

package main

// The azblob:// driver of gocloud.dev/blob, registered for imgpipe's --in and --out. It is
// imported here, by the command, not by package stages/blob, so that programs and tests that
// use the library link only the stores they import; the build tag noblob_azure leaves it (and
// its SDK) out of imgpipe, and azblob:// locations are then refused as not built in.
import _ "gocloud.dev/blob/azureblob"
