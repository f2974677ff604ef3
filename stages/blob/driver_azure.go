//go:build !noblob_azure

package blob

// The azblob:// driver; the build tag noblob_azure leaves it (and its SDK) out of a binary
// that does not need it, and azblob:// locations are then refused as not built in.
import _ "gocloud.dev/blob/azureblob"
