package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	gcblob "gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Sink writes one object per input file beneath a prefix of a bucket, named by an output
// template as output.Writer names files beneath a folder. It is safe for concurrent use
// once configured.
//
// An object appears only when complete: the store commits a write when it ends, and a
// write whose content fails, or whose context is cancelled first, is aborted and leaves
// nothing (S3 uploads in parts, which an abort discards). An existing object is not replaced
// unless Overwrite is set; where the store supports conditional writes (S3 and the services
// that follow it, GCS, Azure, file and memory buckets), this holds even against another
// writer between the check and the write.
type Sink struct {
	// Template names outputs; nil means output.DefaultTemplate.
	Template *output.Template
	// Ext is the output format's extension, such as ".jpg".
	Ext string
	// Overwrite replaces existing objects instead of reporting them with output.ErrExists.
	Overwrite bool
	// Protect, when set, is asked about an object found where an output goes, by its
	// identity (a walk.ID, as a Source gives its files): a non-nil error keeps the object
	// and fails the write with it. output.Plan.ProtectID refuses every input of the run.
	Protect func(walk.ID) error

	loc    Location
	bucket *gcblob.Bucket
	own    bool
	root   string
	prefix string
	ids    identifier
}

// OpenSink opens the location a store URL names (see Parse) for writing; a file location's
// folder is made when missing. The bucket must exist and be reachable: a sink that cannot
// write is refused here, before any work, rather than once per file.
func OpenSink(ctx context.Context, rawURL string) (*Sink, error) {
	loc, err := Parse(rawURL)
	if err != nil {
		return nil, err
	}
	b, own, err := loc.open(ctx, true)
	if err != nil {
		return nil, err
	}
	if ok, err := b.IsAccessible(ctx); !ok || err != nil {
		if own {
			b.Close()
		}
		if err == nil {
			err = errors.New("the bucket does not exist")
		}
		return nil, fmt.Errorf("blob: %s: %w", termsafe.Name(loc.Root()), storeError(err))
	}
	return &Sink{loc: loc, bucket: b, own: own, root: loc.Root(), prefix: loc.keyPrefix(), ids: newIdentifier(loc)}, nil
}

// NewSink writes beneath prefix of a bucket the caller opened and keeps (Close leaves it
// open). name names the bucket in messages, as "s3://thumbs" does.
func NewSink(b *gcblob.Bucket, name, prefix string) *Sink {
	src := NewSource(b, name, prefix)
	return &Sink{loc: src.loc, bucket: b, root: src.root, prefix: src.prefix, ids: src.ids}
}

// Location is the location the sink writes.
func (s *Sink) Location() Location { return s.loc }

// Close releases the bucket, if the sink opened it.
func (s *Sink) Close() error {
	if !s.own {
		return nil
	}
	return s.bucket.Close()
}

// Name names the object of the output rel.
func (s *Sink) Name(rel string) string { return s.root + "/" + filepath.ToSlash(rel) }

// Key is the key of the output rel.
func (s *Sink) Key(rel string) string { return s.prefix + filepath.ToSlash(rel) }

func (s *Sink) template() *output.Template {
	if s.Template == nil {
		t, _ := output.ParseTemplate(output.DefaultTemplate)
		return t
	}
	return s.Template
}

// Rel returns the output's path relative to the sink's prefix, in the system's form, as
// output.Writer.Rel does.
func (s *Sink) Rel(f walk.File) (string, error) { return s.template().Expand(f, s.Ext) }

// Path names f's output object.
func (s *Sink) Path(f walk.File) (string, error) {
	rel, err := s.Rel(f)
	if err != nil {
		return "", err
	}
	return s.Name(rel), nil
}

// Done reports whether f's output exists and will be skipped: one request to the store
// (a HEAD for S3). With Overwrite it is false. An existing output that Protect refuses is an
// error.
func (s *Sink) Done(ctx context.Context, f walk.File) (bool, error) {
	if s.Overwrite && s.Protect == nil {
		return false, nil // nothing to learn from asking
	}
	rel, err := s.Rel(f)
	if err != nil {
		return false, err
	}
	ok, err := s.bucket.Exists(ctx, s.Key(rel))
	if err != nil {
		return false, &output.Error{Path: s.Name(rel), Op: "check", Err: storeError(err)}
	}
	if !ok {
		return false, nil
	}
	if err := s.protect(rel); err != nil {
		return false, err
	}
	return !s.Overwrite, nil
}

// Pending is the opposite of Done, in the shape of a pipeline.Filter function.
func (s *Sink) Pending(ctx context.Context, f walk.File) (bool, error) {
	done, err := s.Done(ctx, f)
	return !done, err
}

func (s *Sink) protect(rel string) error {
	if s.Protect == nil {
		return nil
	}
	if id, ok := s.ids.of(s.Key(rel)); ok {
		if err := s.Protect(id); err != nil {
			return &output.Error{Path: s.Name(rel), Op: "plan", Err: err}
		}
	}
	return nil
}

// Write writes f's output object with the content write gives and returns its name. The
// object appears when write returns nil and the store commits it; otherwise nothing
// appears. Without Overwrite, an object already there is kept and the error matches
// output.ErrExists.
func (s *Sink) Write(ctx context.Context, f walk.File, write func(io.Writer) error) (string, error) {
	rel, err := s.Rel(f)
	if err != nil {
		return "", err
	}
	name := s.Name(rel)
	if s.Overwrite && s.Protect != nil {
		// Refuse before encoding, as output.Writer does.
		if ok, err := s.bucket.Exists(ctx, s.Key(rel)); err == nil && ok {
			if err := s.protect(rel); err != nil {
				return name, err
			}
		}
	}
	return name, s.put(ctx, rel, write)
}

func (s *Sink) put(ctx context.Context, rel string, write func(io.Writer) error) error {
	name := s.Name(rel)
	if err := ctx.Err(); err != nil {
		return err
	}
	// Cancelling the writer's context is the store's abort: the object never appears.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, s.Key(rel), &gcblob.WriterOptions{IfNotExist: !s.Overwrite, ContentType: contentType(rel)})
	if err != nil {
		return s.fail(name, "create", err)
	}
	err = write(w)
	if err == nil {
		err = ctx.Err() // cancelled while writing: the object must not appear
	}
	if err != nil {
		cancel()
		w.Close()
		return s.fail(name, "write", err)
	}
	if err := w.Close(); err != nil {
		return s.fail(name, "commit", err)
	}
	return nil
}

// fail makes a write's error an *output.Error naming the object; a conditional write that
// found an object matches output.ErrExists.
func (s *Sink) fail(name, op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if !s.Overwrite && gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return &output.Error{Path: name, Op: op, Err: output.ErrExists}
	}
	var oe *output.Error
	if errors.As(err, &oe) {
		return err
	}
	return &output.Error{Path: name, Op: op, Err: storeError(err)}
}

// contentType is the media type of an output, by its extension: stores serve it back, and
// browsers show images whose type is right.
func contentType(rel string) string {
	switch strings.ToLower(filepath.Ext(rel)) {
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".webp":
		return "image/webp"
	case ".npy":
		return "application/octet-stream"
	}
	return ""
}
