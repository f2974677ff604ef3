// Package blob reads input files from, and writes output files to, object storage through
// gocloud.dev/blob: Amazon S3 and every service that speaks its protocol (MinIO, SeaweedFS,
// Ceph), Google Cloud Storage, Azure Blob Storage, a local folder through the same API, and
// buckets in memory for tests.
//
// A location is a URL, scheme://BUCKET/PREFIX?QUERY:
//
//	s3://photos/2024?region=eu-west-1
//	s3://photos/2024?endpoint=http://127.0.0.1:9000&use_path_style=true&region=us-east-1
//	gs://photos/2024
//	azblob://container/2024
//	file:///data/photos   (the folder is the bucket)
//	mem://test/in         (a bucket in this process's memory, by name)
//
// The query is what gocloud.dev's URL openers take (region, endpoint, use_path_style,
// anonymous, profile, ... for s3; metadata, no_tmp_dir for file); credentials come from the
// environment as each service's SDK finds them, never from the URL.
//
// The file and mem stores are built in. A program that reads or writes the cloud stores
// imports their drivers, as gocloud.dev's own packages expect, so that it links only the SDKs
// it uses (imgpipe imports all three):
//
//	import _ "gocloud.dev/blob/s3blob"    // s3://
//	import _ "gocloud.dev/blob/gcsblob"   // gs://
//	import _ "gocloud.dev/blob/azureblob" // azblob://
//
// A scheme whose driver is not imported fails to open with gocloud.dev's own error.
//
// A Source lists the files under a prefix as package walk lists a folder (the same order,
// extension filter, hidden names, shards and exclusions) and streams each one; a Sink writes
// one object per input file, named by the output package's templates, where an object
// appears only once it is complete (a write that fails or is cancelled leaves nothing) and
// an existing object is not replaced unless asked.
package blob

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"

	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Schemes are the URL schemes of the stores a location may name.
var Schemes = []string{"s3", "gs", "azblob", "file", "mem"}

// IsURL reports whether s names a store location (one of Schemes, then "://") rather than
// a local path.
func IsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	for _, known := range Schemes {
		if strings.EqualFold(scheme, known) {
			return true
		}
	}
	return false
}

// Location is a parsed store URL.
type Location struct {
	Scheme string // one of Schemes, lower case
	Bucket string // the bucket (or container); for mem, the memory bucket's name; "" for file
	// Prefix is the key prefix, without a leading "/": "2024/summer" for
	// s3://photos/2024/summer. A trailing "/" is dropped.
	Prefix string
	// Dir is the local folder of a file URL, the bucket's root.
	Dir string
	// Query is what the service's URL opener is given.
	Query url.Values
}

// Parse reads a store URL. It refuses a scheme it does not know, a URL without a bucket,
// and the query parameter "prefix", which the path already gives.
func Parse(s string) (Location, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("blob: location %s: %w", termsafe.Name(s), errors.Unwrap(err))
	}
	loc := Location{Scheme: strings.ToLower(u.Scheme), Query: u.Query()}
	if !IsURL(s) {
		return Location{}, fmt.Errorf("blob: location %s: want a URL of %s", termsafe.Name(s), strings.Join(Schemes, "://, ")+"://")
	}
	if _, ok := loc.Query["prefix"]; ok {
		return Location{}, fmt.Errorf("blob: location %s: give the prefix in the path (%s://BUCKET/PREFIX), not as a query parameter",
			termsafe.Name(s), loc.Scheme)
	}
	if loc.Scheme == "file" {
		if u.Host != "" && u.Host != "." {
			return Location{}, fmt.Errorf("blob: location %s: a file URL names a local folder: file:///absolute/path or file://./relative/path",
				termsafe.Name(s))
		}
		dir := u.Path
		if u.Host == "." {
			dir = strings.TrimPrefix(dir, "/")
		}
		if dir == "" {
			return Location{}, fmt.Errorf("blob: location %s: no folder", termsafe.Name(s))
		}
		loc.Dir = filepath.Clean(filepath.FromSlash(dir))
		return loc, nil
	}
	if u.Host == "" {
		return Location{}, fmt.Errorf("blob: location %s: no bucket: want %s://BUCKET/PREFIX", termsafe.Name(s), loc.Scheme)
	}
	loc.Bucket = u.Host
	loc.Prefix = strings.Trim(u.Path, "/")
	return loc, nil
}

// Root names the location in messages and as the root of its files: the URL without its
// query, which holds settings rather than a place ("s3://photos/2024").
func (l Location) Root() string {
	switch {
	case l.Scheme == "file":
		return "file://" + filepath.ToSlash(l.Dir)
	case l.Prefix == "":
		return l.Scheme + "://" + l.Bucket
	}
	return l.Scheme + "://" + l.Bucket + "/" + l.Prefix
}

// String is the URL again, query included.
func (l Location) String() string {
	s := l.Root()
	if len(l.Query) > 0 {
		s += "?" + l.Query.Encode()
	}
	return s
}

// keyPrefix is the prefix of the keys beneath the location: Prefix and a "/", or "".
func (l Location) keyPrefix() string {
	if l.Prefix == "" {
		return ""
	}
	return l.Prefix + "/"
}

// identity is what tells two buckets apart: the scheme, the bucket and, for S3, the
// endpoint (two MinIO servers can both have a bucket "photos").
func (l Location) identity() string {
	if l.Scheme == "file" {
		abs, err := filepath.Abs(l.Dir)
		if err != nil {
			abs = l.Dir
		}
		return "file://" + abs
	}
	return l.Scheme + "://" + l.Bucket + "?endpoint=" + l.Query.Get("endpoint")
}

// open opens the location's bucket; with create, a file location's folder is made. own is
// false for a memory bucket, which outlives its users.
func (l Location) open(ctx context.Context, create bool) (b *gcblob.Bucket, own bool, err error) {
	switch l.Scheme {
	case "mem":
		if len(l.Query) > 0 {
			return nil, false, fmt.Errorf("blob: location %s: a memory bucket takes no query", termsafe.Name(l.String()))
		}
		return MemBucket(l.Bucket), false, nil
	case "file":
		// No sidecar files of metadata beside the outputs: an image needs none.
		opener := &fileblob.URLOpener{Options: fileblob.Options{Metadata: fileblob.MetadataDontWrite, CreateDir: create}}
		u := &url.URL{Scheme: "file", Path: filepath.ToSlash(l.Dir), RawQuery: l.Query.Encode()}
		if !filepath.IsAbs(l.Dir) {
			u.Host = "."
			u.Path = "/" + u.Path
		}
		b, err = opener.OpenBucketURL(ctx, u)
	default:
		u := &url.URL{Scheme: l.Scheme, Host: l.Bucket, RawQuery: l.Query.Encode()}
		b, err = gcblob.OpenBucket(ctx, u.String())
	}
	if err != nil {
		return nil, false, fmt.Errorf("blob: %s: %w", termsafe.Name(l.Root()), err)
	}
	return b, true, nil
}

var mem struct {
	sync.Mutex
	buckets map[string]*gcblob.Bucket
}

// MemBucket returns the memory bucket called name (mem://name), made empty on first use and
// kept for the life of the process: tests fill it, run, and look at what was written.
func MemBucket(name string) *gcblob.Bucket {
	mem.Lock()
	defer mem.Unlock()
	if mem.buckets == nil {
		mem.buckets = map[string]*gcblob.Bucket{}
	}
	b := mem.buckets[name]
	if b == nil {
		b = memblob.OpenBucket(nil)
		mem.buckets[name] = b
	}
	return b
}

// identifier gives the files of one bucket their walk.ID: the device and inode of the file
// behind a file location's key, so that a run's protections against replacing its inputs
// hold between local folders and file URLs; for the other stores, a hash of the bucket's
// identity and of the key, which is the object's identity there.
type identifier struct {
	dir  string // a file location's folder, else ""
	hash uint64 // of the bucket's identity
}

func newIdentifier(l Location) identifier {
	h := fnv.New64a()
	h.Write([]byte(l.identity()))
	id := identifier{hash: h.Sum64()}
	if l.Scheme == "file" {
		id.dir = l.Dir
	}
	return id
}

// of returns the identity of the object at key, or false when it has none (a file location's
// file that cannot be read).
func (i identifier) of(key string) (walk.ID, bool) {
	if i.dir != "" {
		info, err := os.Stat(filepath.Join(i.dir, filepath.FromSlash(key)))
		if err != nil {
			return walk.ID{}, false
		}
		return walk.IDOf(info)
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return walk.ID{Dev: i.hash, Ino: h.Sum64()}, true
}
