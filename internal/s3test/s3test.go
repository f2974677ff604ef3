// Package s3test runs an S3 server in the test's process (gofakes3 over memory), so that
// the S3 client path of package stages/blob is tested without a network or a service.
package s3test

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Start serves an empty S3 store with the given buckets until the test ends, and returns
// the query that points an s3:// URL at it: s3://BUCKET/PREFIX?+Start(t, "BUCKET").
// Requests go unsigned (anonymous), in path style, to a loopback address.
func Start(t testing.TB, buckets ...string) string {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithoutVersioning()).Server())
	t.Cleanup(srv.Close)
	q := url.Values{}
	q.Set("endpoint", srv.URL)
	q.Set("region", "us-east-1")
	q.Set("use_path_style", "true")
	q.Set("anonymous", "true")
	return q.Encode()
}
