package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"gocloud.dev/gcerrors"
)

// storeError keeps a store's error for errors.Is and errors.As (and gcerrors.Code), and makes
// a missing object match fs.ErrNotExist and a refusal fs.ErrPermission, as a local file's
// errors do. A cancellation is returned as it is.
func storeError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	case gcerrors.PermissionDenied:
		return fmt.Errorf("%w: %w", fs.ErrPermission, err)
	case gcerrors.Canceled:
		return context.Canceled
	}
	return err
}

// Fatal reports whether a store's error on one file would come back for every other file of
// the run: access refused, or a bucket that is not there. A job stops on it rather than fail
// each file alone.
func Fatal(err error) bool {
	switch gcerrors.Code(err) {
	case gcerrors.PermissionDenied:
		return true
	case gcerrors.NotFound:
		// On a write, only the bucket can be missing.
		return true
	}
	return false
}
