package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Input is one input of a run, named by a string: a local folder or file, or a store URL
// (s3://BUCKET/PREFIX?QUERY and the other schemes of package stages/blob). Its files are
// walk.Files either way; those of a store carry their walk.Store, which the decoder reads.
type Input interface {
	// Walk calls fn for the input's files, in order, as walk.Walk does for one root.
	Walk(ctx context.Context, opts walk.Options, fn func(walk.File) error) error
	// Count is the number of files Walk visits with opts and no shard.
	Count(ctx context.Context, opts walk.Options) (int, error)
	// Stat returns the input's file rel (relative to the input, "/" between folders) as
	// Walk gives it: for a worker that has a file's name from a queue, not from a walk.
	Stat(ctx context.Context, rel string) (walk.File, error)
	// String is the input as named.
	String() string
	Close() error
}

// OpenInput opens an input by its name: a store URL (blob.IsURL) or a local path.
func OpenInput(ctx context.Context, name string) (Input, error) {
	if !blob.IsURL(name) {
		return localInput(name), nil
	}
	src, err := blob.OpenSource(ctx, name)
	if err != nil {
		return nil, err
	}
	return blobInput{src, name}, nil
}

// localInput is a local folder or file.
type localInput string

func (l localInput) Walk(ctx context.Context, opts walk.Options, fn func(walk.File) error) error {
	return walk.Walk(ctx, []string{string(l)}, opts, fn)
}

func (l localInput) Count(ctx context.Context, opts walk.Options) (int, error) {
	return walk.Count(ctx, []string{string(l)}, opts)
}

func (l localInput) Stat(_ context.Context, rel string) (walk.File, error) {
	root := filepath.Clean(string(l))
	rel = filepath.FromSlash(rel)
	if !filepath.IsLocal(rel) {
		return walk.File{}, fmt.Errorf("input %s: %s is not inside it", termsafe.Name(root), termsafe.Name(rel))
	}
	info, err := os.Stat(filepath.Join(root, rel))
	if err != nil {
		return walk.File{}, err
	}
	if !info.Mode().IsRegular() {
		return walk.File{}, fmt.Errorf("%s: not a regular file", termsafe.Name(filepath.Join(root, rel)))
	}
	id, _ := walk.IDOf(info)
	return walk.File{Root: root, Rel: rel, Size: info.Size(), ID: id}, nil
}

func (l localInput) String() string { return string(l) }
func (l localInput) Close() error   { return nil }

// blobInput is a folder of a bucket.
type blobInput struct {
	*blob.Source
	name string
}

func (b blobInput) String() string { return b.name }

// OpenInputs opens every input; on failure it closes those it opened.
func OpenInputs(ctx context.Context, names []string) ([]Input, error) {
	ins := make([]Input, 0, len(names))
	for _, n := range names {
		in, err := OpenInput(ctx, n)
		if err != nil {
			CloseInputs(ins)
			return nil, err
		}
		ins = append(ins, in)
	}
	return ins, nil
}

// CloseInputs closes inputs.
func CloseInputs(ins []Input) error {
	var errs []error
	for _, in := range ins {
		errs = append(errs, in.Close())
	}
	return errors.Join(errs...)
}

// WalkInputs calls fn for the files of every input, input after input, as walk.Walk does
// for several roots: with a shard, the part of the whole list (counted first) that it
// selects. Local inputs alone are walked by walk.Walk itself, which also enters a folder
// named twice only once.
func WalkInputs(ctx context.Context, ins []Input, opts walk.Options, fn func(walk.File) error) error {
	if paths, ok := localPaths(ins); ok {
		return walk.Walk(ctx, paths, opts, fn)
	}
	if _, err := walk.ParseShard(opts.Shard.String()); err != nil {
		return err
	}
	lo, hi, last := 0, -1, true
	if opts.Shard.Count > 1 {
		n, err := CountInputs(ctx, ins, opts)
		if err != nil {
			return err
		}
		lo, hi = opts.Shard.Range(n)
		last = opts.Shard.Index == opts.Shard.Count-1
	}
	each := opts
	each.Shard = walk.Shard{}
	index := 0
	if onError := opts.OnError; onError != nil {
		// A problem is reported by the shard that owns the position it was met at, as
		// walk.Walk does: by exactly one shard.
		each.OnError = func(path string, err error) error {
			if index >= lo && (hi < 0 || index < hi || last) {
				return onError(path, err)
			}
			return nil
		}
	}
	for _, in := range ins {
		err := in.Walk(ctx, each, func(f walk.File) error {
			i := index
			index++
			if i < lo {
				return nil
			}
			if hi >= 0 && i >= hi {
				return errShardDone
			}
			return fn(f)
		})
		if errors.Is(err, errShardDone) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var errShardDone = errors.New("job: shard done")

// CountInputs is the number of files WalkInputs visits with opts and no shard.
func CountInputs(ctx context.Context, ins []Input, opts walk.Options) (int, error) {
	opts.Shard = walk.Shard{}
	if paths, ok := localPaths(ins); ok {
		return walk.Count(ctx, paths, opts)
	}
	n := 0
	for _, in := range ins {
		c, err := in.Count(ctx, opts)
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// seqInputs is WalkInputs as an iterator, as walk.Seq is.
func seqInputs(ctx context.Context, ins []Input, opts walk.Options) func(func(walk.File, error) bool) {
	return func(yield func(walk.File, error) bool) {
		stopped := false
		err := WalkInputs(ctx, ins, opts, func(f walk.File) error {
			if !yield(f, nil) {
				stopped = true
				return errShardDone
			}
			return nil
		})
		if err != nil && !stopped {
			yield(walk.File{}, err)
		}
	}
}

func localPaths(ins []Input) ([]string, bool) {
	paths := make([]string, 0, len(ins))
	for _, in := range ins {
		l, ok := in.(localInput)
		if !ok {
			return nil, false
		}
		paths = append(paths, string(l))
	}
	return paths, true
}

// Output is where a run writes image files: a local folder (output.Writer: temporary
// names renamed into place beneath an os.Root) or a folder of a bucket (blob.Sink: objects
// committed when complete). Both name outputs by the template, skip or replace existing
// ones alike, and refuse to replace an input of the run once Protect is set from the plan.
type Output interface {
	// Rel is f's output path relative to the output.
	Rel(f walk.File) (string, error)
	// Path names f's output.
	Path(f walk.File) (string, error)
	// Pending reports whether f's output is still to be made (see output.Writer.Pending).
	Pending(ctx context.Context, f walk.File) (bool, error)
	// Write writes f's output with the content write gives, whole or not at all, and
	// returns its name; an output already there (without Overwrite) matches
	// output.ErrExists.
	Write(ctx context.Context, f walk.File, write func(io.Writer) error) (string, error)
	Close() error
}

// OutputOptions name and guard a run's outputs.
type OutputOptions struct {
	Template  *output.Template // nil: output.DefaultTemplate
	Ext       string           // the format's extension: ".jpg"
	Overwrite bool
}

// OpenOutput opens an output by its name: a store URL (blob.IsURL) or a local folder,
// made on the first write.
func OpenOutput(ctx context.Context, name string, opts OutputOptions) (Output, error) {
	if !blob.IsURL(name) {
		return &output.Writer{Dir: name, Template: opts.Template, Ext: opts.Ext, Options: output.Options{Overwrite: opts.Overwrite}}, nil
	}
	sink, err := blob.OpenSink(ctx, name)
	if err != nil {
		return nil, err
	}
	sink.Template, sink.Ext, sink.Overwrite = opts.Template, opts.Ext, opts.Overwrite
	return sink, nil
}
