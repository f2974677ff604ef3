//go:build !noblob_gcs

package blob

// The gs:// driver; the build tag noblob_gcs leaves it (and its SDK) out of a binary
// that does not need it, and gs:// locations are then refused as not built in.
import _ "gocloud.dev/blob/gcsblob"
