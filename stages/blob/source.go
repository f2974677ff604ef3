package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"path"
	"path/filepath"
	"slices"
	"strings"

	gcblob "gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Source is a folder of a bucket: the objects under a prefix, read as files. It is the
// walk.Store of the files it lists, and is safe for concurrent use.
//
// Keys are read as paths with "/" between folders: an object "2024/summer/a.jpg" under the
// prefix "2024" is the file "summer/a.jpg" of the source. Objects whose key ends in "/"
// (folder markers some tools make) are not files.
type Source struct {
	loc    Location
	bucket *gcblob.Bucket
	own    bool
	root   string // the name of the source's root, its files' walk.File.Root
	prefix string // the keys' prefix: "" or a folder ending in "/"
	ids    identifier
}

var _ walk.Store = (*Source)(nil)

// OpenSource opens the location a store URL names (see Parse) for reading. Nothing is read
// until a walk or an Open.
func OpenSource(ctx context.Context, rawURL string) (*Source, error) {
	loc, err := Parse(rawURL)
	if err != nil {
		return nil, err
	}
	b, own, err := loc.open(ctx, false)
	if err != nil {
		return nil, err
	}
	return &Source{loc: loc, bucket: b, own: own, root: loc.Root(), prefix: loc.keyPrefix(), ids: newIdentifier(loc)}, nil
}

// NewSource reads the objects under prefix of a bucket the caller opened and keeps (Close
// leaves it open). name names the bucket in messages, as "s3://photos" does.
func NewSource(b *gcblob.Bucket, name, prefix string) *Source {
	loc := Location{Scheme: "bucket", Bucket: name, Prefix: strings.Trim(prefix, "/")}
	root := strings.TrimSuffix(name, "/")
	if loc.Prefix != "" {
		root += "/" + loc.Prefix
	}
	return &Source{loc: loc, bucket: b, root: root, prefix: loc.keyPrefix(), ids: newIdentifier(loc)}
}

// Location is the location the source reads.
func (s *Source) Location() Location { return s.loc }

// Root names the source's root folder, as its files' walk.File.Root does.
func (s *Source) Root() string { return s.root }

// Close releases the bucket, if the source opened it.
func (s *Source) Close() error {
	if !s.own {
		return nil
	}
	return s.bucket.Close()
}

// Name names the file rel of the source: its root, "/", rel.
func (s *Source) Name(rel string) string { return s.root + "/" + filepath.ToSlash(rel) }

// Open starts reading the file rel and returns its size. A missing object is an error
// that matches fs.ErrNotExist.
func (s *Source) Open(ctx context.Context, rel string) (io.ReadCloser, int64, error) {
	r, err := s.bucket.NewReader(ctx, s.prefix+filepath.ToSlash(rel), nil)
	if err != nil {
		return nil, 0, storeError(err)
	}
	return r, r.Size(), nil
}

// Stat returns the file rel of the source as a walk would, for a caller that has a name
// rather than a listing (a work queue's message).
func (s *Source) Stat(ctx context.Context, rel string) (walk.File, error) {
	key := s.prefix + filepath.ToSlash(rel)
	attrs, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return walk.File{}, fmt.Errorf("%s: %w", termsafe.Name(s.Name(rel)), storeError(err))
	}
	id, _ := s.ids.of(key)
	return walk.File{Root: s.root, Rel: filepath.FromSlash(filepath.ToSlash(rel)), Size: attrs.Size, ID: id, Store: s}, nil
}

// Walk calls fn for every file of the source, in the order, with the selection and the
// error handling of walk.Walk over a folder (see package walk): depth-first, the entries of
// each folder sorted by name, hidden names skipped unless opts.Hidden, extensions matched
// without regard to case, folders in opts.Exclude left out (store URLs of the same bucket,
// or local folders inside a file location's folder), a shard taken after a count.
//
// A source whose prefix names an object rather than a folder is that one file. A prefix
// with nothing under it is an error naming the location, as a missing folder is. Listing
// memory is bounded by the largest folder, as for a local walk.
func (s *Source) Walk(ctx context.Context, opts walk.Options, fn func(walk.File) error) error {
	if _, err := walk.ParseShard(opts.Shard.String()); err != nil {
		return err
	}
	lo, hi, last := 0, -1, true
	if opts.Shard.Count > 1 {
		n, err := s.Count(ctx, walk.Options{Exts: opts.Exts, Hidden: opts.Hidden, Exclude: opts.Exclude})
		if err != nil {
			return err
		}
		lo, hi = opts.Shard.Range(n)
		last = opts.Shard.Index == opts.Shard.Count-1
	}
	w := s.newWalker(ctx, opts, fn)
	w.lo, w.hi, w.last = lo, hi, last
	err := w.run()
	if errors.Is(err, errStop) {
		return nil // the shard is complete
	}
	return err
}

// Count returns the number of files Walk would visit with opts and no shard; problems
// below the root are skipped silently, as the walk that follows reports them.
func (s *Source) Count(ctx context.Context, opts walk.Options) (int, error) {
	opts.Shard = walk.Shard{}
	opts.OnError = func(string, error) error { return nil }
	w := s.newWalker(ctx, opts, func(walk.File) error { return nil })
	err := w.run()
	return w.index, err
}

// Seq returns the walk as an iterator, as walk.Seq does: an error is yielded last, with a
// zero File.
func (s *Source) Seq(ctx context.Context, opts walk.Options) iter.Seq2[walk.File, error] {
	return func(yield func(walk.File, error) bool) {
		err := s.Walk(ctx, opts, func(f walk.File) error {
			if !yield(f, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(walk.File{}, err)
		}
	}
}

var errStop = errors.New("blob: stop")

type walker struct {
	s       *Source
	ctx     context.Context
	opts    walk.Options
	exts    map[string]bool
	exclude map[string]bool // folders' key prefixes, ending in "/"
	fn      func(walk.File) error
	index   int
	lo, hi  int
	last    bool
}

func (s *Source) newWalker(ctx context.Context, opts walk.Options, fn func(walk.File) error) *walker {
	w := &walker{s: s, ctx: ctx, opts: opts, fn: fn, hi: -1, last: true}
	if len(opts.Exts) > 0 {
		w.exts = map[string]bool{}
		for _, e := range opts.Exts {
			e = strings.ToLower(e)
			if !strings.HasPrefix(e, ".") {
				e = "." + e
			}
			w.exts[e] = true
		}
	}
	for _, ex := range opts.Exclude {
		if p, ok := s.excludedPrefix(ex); ok {
			if w.exclude == nil {
				w.exclude = map[string]bool{}
			}
			w.exclude[p] = true
		}
	}
	return w
}

// excludedPrefix is the key prefix of the folder ex names, when it is in the source's
// bucket: a store URL of the same bucket, or a local folder inside a file location's.
func (s *Source) excludedPrefix(ex string) (string, bool) {
	if IsURL(ex) {
		loc, err := Parse(ex)
		if err != nil || loc.identity() != s.loc.identity() {
			return "", false
		}
		if loc.Scheme == "file" {
			return "", false // a file location is a folder of its own, not a prefix
		}
		return loc.keyPrefix(), loc.Prefix != ""
	}
	if s.loc.Scheme != "file" {
		return "", false
	}
	dir, err1 := filepath.Abs(s.loc.Dir)
	out, err2 := filepath.Abs(ex)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(dir, out)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		return "", false
	}
	return filepath.ToSlash(rel) + "/", true
}

// run walks the source's root: one file, or a folder.
func (w *walker) run() error {
	s := w.s
	if s.loc.Prefix != "" && s.loc.Scheme != "file" {
		attrs, err := s.bucket.Attributes(w.ctx, s.loc.Prefix)
		switch {
		case err == nil:
			parent := *s
			dir, base := path.Split(s.loc.Prefix)
			parent.prefix = dir
			parent.root = strings.TrimSuffix(strings.TrimSuffix(s.root, base), "/")
			id, _ := s.ids.of(s.loc.Prefix)
			return w.emit(walk.File{Root: parent.root, Rel: base, Size: attrs.Size, ID: id, Store: &parent})
		case gcerrors.Code(err) != gcerrors.NotFound:
			return fmt.Errorf("walk: input %s: %w", termsafe.Name(s.root), storeError(err))
		}
	}
	entries, err := w.list(s.prefix)
	if err != nil {
		return fmt.Errorf("walk: input %s: %w", termsafe.Name(s.root), storeError(err))
	}
	if len(entries) == 0 && s.prefix != "" {
		return fmt.Errorf("walk: input %s: no object under this prefix", termsafe.Name(s.root))
	}
	return w.entries(entries)
}

// entry is one name of a folder's listing.
type entry struct {
	name string // without the folder's prefix or a trailing "/"
	key  string // the object's key, or the subfolder's prefix ending in "/"
	size int64
	dir  bool
}

// list reads one folder whole, sorted by name as os.ReadDir sorts: a listing sorts by key,
// where "a/" comes after "a-b.jpg" and "a.jpg", but a walk enters folder "a" before them.
func (w *walker) list(prefix string) ([]entry, error) {
	it := w.s.bucket.List(&gcblob.ListOptions{Prefix: prefix, Delimiter: "/"})
	var out []entry
	for {
		obj, err := it.Next(w.ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, prefix), "/")
		if name == "" || strings.Contains(name, "/") {
			continue // the folder's own marker
		}
		if !obj.IsDir && strings.HasSuffix(obj.Key, "/") {
			continue // a marker of a folder, not a file
		}
		out = append(out, entry{name: name, key: obj.Key, size: obj.Size, dir: obj.IsDir})
	}
	slices.SortStableFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// entries walks a folder's sorted entries.
func (w *walker) entries(entries []entry) error {
	for _, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if !w.opts.Hidden && strings.HasPrefix(e.name, ".") {
			continue
		}
		if e.dir {
			if w.exclude[e.key] {
				continue
			}
			sub, err := w.list(e.key)
			if err != nil {
				if perr := w.problem(w.s.root+"/"+strings.TrimPrefix(e.key, w.s.prefix), fmt.Errorf("reading folder: %w", storeError(err))); perr != nil {
					return perr
				}
				continue
			}
			if err := w.entries(sub); err != nil {
				return err
			}
			continue
		}
		if !w.matches(e.name) {
			continue
		}
		id, _ := w.s.ids.of(e.key)
		rel := filepath.FromSlash(strings.TrimPrefix(e.key, w.s.prefix))
		if err := w.emit(walk.File{Root: w.s.root, Rel: rel, Size: e.size, ID: id, Store: w.s}); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) matches(name string) bool {
	return w.exts == nil || w.exts[strings.ToLower(path.Ext(name))]
}

func (w *walker) emit(f walk.File) error {
	i := w.index
	w.index++
	if i < w.lo {
		return nil
	}
	if w.hi >= 0 && i >= w.hi {
		return errStop
	}
	return w.fn(f)
}

// problem routes an error about a folder to OnError, if this shard owns the position where
// it was met, as package walk does.
func (w *walker) problem(name string, err error) error {
	owned := w.index >= w.lo && (w.hi < 0 || w.index < w.hi || w.last)
	if !owned {
		return nil
	}
	err = &walk.Error{Path: name, Err: err}
	if w.opts.OnError == nil {
		return err
	}
	return w.opts.OnError(name, err)
}
