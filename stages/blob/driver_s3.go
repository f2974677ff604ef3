//go:build !noblob_s3

package blob

// The s3:// driver; the build tag noblob_s3 leaves it (and its SDK) out of a binary
// that does not need it, and s3:// locations are then refused as not built in.
import _ "gocloud.dev/blob/s3blob"
