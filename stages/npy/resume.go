package npy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/gpupipe/gpupipe/stages/output"
)

// ErrNotResumable is wrapped by the error of a writer that finds shards with its prefix that
// it cannot resume: shards without a manifest (written by another program or an earlier
// version), or a manifest that records another row shape or Config. Options.Overwrite
// replaces them.
var ErrNotResumable = errors.New("npy: the shards there cannot be resumed")

// manifestVersion is the version of the manifest's format this package writes and reads.
const manifestVersion = 1

// manifest is the record of what is committed: the shards, in order, with the rows each
// holds and where its lines end in the index. It is rewritten (to a temporary name, then
// renamed) after every shard, so that it is always whole; a shard or index line it does not
// list is not committed.
type manifest struct {
	Version    int             `json:"version"`
	Descr      string          `json:"descr"`
	RowShape   []int           `json:"row_shape"`
	Config     string          `json:"config,omitempty"`
	Rows       int             `json:"rows"`
	IndexBytes int64           `json:"index_bytes"`
	Complete   bool            `json:"complete"` // the last writer was closed, not aborted or killed
	Shards     []manifestShard `json:"shards"`
}

type manifestShard struct {
	Name     string `json:"name"`
	Rows     int    `json:"rows"`
	IndexEnd int64  `json:"index_end"` // the index's length once this shard's lines are in it
}

// ManifestPath is where the manifest is: <Prefix>-manifest.json.
func (w *ShardWriter) ManifestPath() string {
	return filepath.Join(w.opts.Dir, w.opts.Prefix+"-manifest.json")
}

// lockPath is the file a writer locks while it is open, so that two writers of one prefix
// cannot interleave their shards: .<Prefix>.lock. It stays in Dir, empty.
func (w *ShardWriter) lockPath() string {
	return filepath.Join(w.opts.Dir, "."+w.opts.Prefix+".lock")
}

// start takes the lock, then resumes or starts afresh.
func (w *ShardWriter) start() error {
	if err := os.MkdirAll(w.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("npy: %w", &output.Error{Path: w.opts.Dir, Op: "create folder", Err: unwrapPath(err)})
	}
	lock, err := lockFile(w.lockPath())
	if errors.Is(err, errLocked) {
		return fmt.Errorf("npy: another writer is writing the shards %s-*.npy in %s", w.opts.Prefix, w.opts.Dir)
	}
	if err != nil {
		return fmt.Errorf("npy: %w", &output.Error{Path: w.lockPath(), Op: "lock", Err: unwrapPath(err)})
	}
	w.lock = lock
	w.done = newSourceSet()
	w.manifest = manifest{Version: manifestVersion, Descr: w.descr, RowShape: w.dims, Config: w.opts.Config, Shards: []manifestShard{}}
	if err = w.resume(); err == nil {
		err = w.writeManifest()
	}
	if err != nil {
		if w.index != nil {
			w.index.Close()
		}
		lock.Close()
		return err
	}
	return nil
}

// resume keeps what an earlier writer committed and removes the rest; with Overwrite, or
// when there is nothing, it starts afresh.
func (w *ShardWriter) resume() error {
	if w.opts.Overwrite {
		if err := w.removeShards(nil); err != nil {
			return err
		}
		for _, p := range []string{w.ManifestPath(), w.IndexPath()} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("npy: %w", &output.Error{Path: p, Op: "remove", Err: unwrapPath(err)})
			}
		}
		return w.openIndex(0)
	}
	old, err := readManifest(w.ManifestPath())
	if errors.Is(err, fs.ErrNotExist) {
		found := w.shardFiles()
		if _, err := os.Lstat(w.IndexPath()); err == nil {
			found = append(found, filepath.Base(w.IndexPath()))
		}
		if len(found) > 0 {
			return fmt.Errorf("%w: %s holds %s but no manifest %s: they were written by another program or an earlier version",
				ErrNotResumable, w.opts.Dir, listNames(found), filepath.Base(w.ManifestPath()))
		}
		return w.openIndex(0)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotResumable, err)
	}
	switch {
	case old.Descr != w.descr || !slices.Equal(old.RowShape, w.dims):
		return fmt.Errorf("%w: the shards in %s hold rows of %s %v, not %s %v", ErrNotResumable, w.opts.Dir,
			old.Descr, old.RowShape, w.descr, w.dims)
	case old.Config != w.opts.Config:
		return fmt.Errorf("%w: the shards in %s were made by %q, not %q", ErrNotResumable, w.opts.Dir, old.Config, w.opts.Config)
	}
	kept, end := w.verify(old)
	if err := w.removeShards(kept); err != nil {
		return err
	}
	w.manifest.Shards = kept
	for _, s := range kept {
		w.manifest.Rows += s.Rows
	}
	w.manifest.IndexBytes = end
	w.number = len(kept)
	return w.openIndex(end)
}

// verify returns the leading shards of m that are whole on disk (a header that says their
// rows and shape, and the data to match) and listed row by row in the index, with the
// index's length after their lines; it adds their rows' sources to w.done. A damaged or
// missing shard ends the list there: it and the shards after it are made again.
func (w *ShardWriter) verify(m manifest) (kept []manifestShard, end int64) {
	f, err := os.Open(w.IndexPath())
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	r := bufio.NewReader(io.LimitReader(f, m.IndexBytes))
	for i, s := range m.Shards {
		if s.Name != filepath.Base(w.ShardPath(i)) || s.Rows <= 0 || !w.wholeShard(s) {
			break
		}
		var sources []string
		n := end
		for row := range s.Rows {
			line, err := r.ReadBytes('\n')
			n += int64(len(line))
			var e Entry
			if err != nil || json.Unmarshal(line, &e) != nil || e.Shard != s.Name || e.Row != row {
				return kept, end
			}
			sources = append(sources, e.Path)
		}
		if n != s.IndexEnd {
			break
		}
		for _, src := range sources {
			w.done.add(src)
		}
		kept, end = append(kept, s), n
	}
	return kept, end
}

// wholeShard checks a shard's header and size against the rows the manifest says it has.
func (w *ShardWriter) wholeShard(s manifestShard) bool {
	f, err := os.Open(filepath.Join(w.opts.Dir, s.Name))
	if err != nil {
		return false
	}
	defer f.Close()
	h, err := ReadHeader(f)
	if err != nil || h.Descr != w.descr || h.FortranOrder || len(h.Shape) != 1+len(w.dims) ||
		h.Shape[0] != s.Rows || !slices.Equal(h.Shape[1:], w.dims) {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Size() == h.DataOffset+int64(s.Rows)*int64(w.rowBytes)
}

// shardFiles lists the files in Dir named as this writer's shards: <Prefix>-NNNNN.npy.
func (w *ShardWriter) shardFiles() []string {
	entries, _ := os.ReadDir(w.opts.Dir)
	pattern := regexp.MustCompile(`^` + regexp.QuoteMeta(w.opts.Prefix) + `-[0-9]{5,}\.npy$`)
	var names []string
	for _, e := range entries {
		if pattern.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}

// removeShards removes the shard files of this prefix that kept does not list: shards an
// earlier writer renamed into place but did not get into its manifest, and those past a
// damaged one, so that a loader that globs the folder finds only listed shards.
func (w *ShardWriter) removeShards(kept []manifestShard) error {
	for _, name := range w.shardFiles() {
		if slices.ContainsFunc(kept, func(s manifestShard) bool { return s.Name == name }) {
			continue
		}
		p := filepath.Join(w.opts.Dir, name)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("npy: %w", &output.Error{Path: p, Op: "remove", Err: unwrapPath(err)})
		}
	}
	return nil
}

// openIndex opens the index for appending after its first size bytes, which it keeps.
func (w *ShardWriter) openIndex(size int64) error {
	p := w.IndexPath()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err == nil {
		if err = f.Truncate(size); err != nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("npy: %w", &output.Error{Path: p, Op: "open", Err: unwrapPath(err)})
	}
	w.index = f
	return nil
}

// appendIndex appends the lines of a committed shard to the index.
func (w *ShardWriter) appendIndex(lines []byte) error {
	_, err := w.index.Write(lines)
	if err == nil && w.opts.Sync {
		err = w.index.Sync()
	}
	if err != nil {
		// Lines written in part are past the manifest's index_bytes: the next writer
		// truncates them.
		return fmt.Errorf("npy: %w", &output.Error{Path: w.IndexPath(), Op: "write", Err: unwrapPath(err)})
	}
	return nil
}

// writeManifest replaces the manifest with w's, atomically.
func (w *ShardWriter) writeManifest() error {
	err := output.WriteFile(context.Background(), w.ManifestPath(), output.Options{Overwrite: true, Sync: w.opts.Sync},
		func(out io.Writer) error {
			enc := json.NewEncoder(out)
			enc.SetIndent("", " ")
			return enc.Encode(w.manifest)
		})
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

func readManifest(path string) (manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return manifest{}, err
	}
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return manifest{}, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.Version != manifestVersion {
		return manifest{}, fmt.Errorf("manifest %s: version %d, this program reads %d", path, m.Version, manifestVersion)
	}
	return m, nil
}

// listNames is the first few of names, for a message.
func listNames(names []string) string {
	slices.Sort(names)
	if len(names) > 3 {
		return fmt.Sprintf("%s, %s, %s and %d more", names[0], names[1], names[2], len(names)-3)
	}
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sourceSet holds the sources of committed rows as 128-bit hashes: 16 bytes a row, whatever
// the length of the paths, with no false match in practice.
type sourceSet struct {
	seeds [2]maphash.Seed
	m     map[[2]uint64]struct{}
}

func newSourceSet() sourceSet {
	return sourceSet{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, m: map[[2]uint64]struct{}{}}
}

func (s sourceSet) key(src string) [2]uint64 {
	return [2]uint64{maphash.String(s.seeds[0], src), maphash.String(s.seeds[1], src)}
}

func (s sourceSet) add(src string) { s.m[s.key(src)] = struct{}{} }

func (s sourceSet) has(src string) bool {
	_, ok := s.m[s.key(src)]
	return ok
}
