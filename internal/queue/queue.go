// Package queue spreads one imgpipe job over many workers through a NATS JetStream work
// queue. A queue is named by a URL, nats://HOST:PORT/NAME, and holds on the server:
//
//	stream  imgpipe-NAME   subject imgpipe.NAME.files, work-queue retention: one message per
//	                       input file ({job, root, rel}: a folder every worker sees at the
//	                       same path, or a store's URL), removed once a worker acknowledges it
//	consumer workers       durable pull consumer shared by every worker: each message goes to
//	                       one worker at a time; AckWait and the retry limit as submitted
//	bucket  imgpipe-NAME   key-value records: "job" (the settings every worker runs with:
//	                       the processing flags, the inputs, the output) and one record per
//	                       file outcome: done.KEY, failed.KEY (with its reason), dead.KEY
//	                       (retries exhausted, with the last reason)
//
// Submit records the job and publishes its files, each with a message id, so submitting the
// same job again publishes nothing twice (and skips files already recorded done); Worker
// runs the job's pipeline on messages (internal/job with Config.Queue) and acknowledges a
// message once its output is committed; Status counts what is queued, in flight, done,
// failed and dead.
//
// Delivery is at least once: a worker killed mid-batch loses nothing (its messages come
// back after AckWait, which in-progress acks keep short), and a file processed twice writes
// the same output under the same name, atomically, or finds it there.
package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Defaults of a submitted job's delivery settings.
const (
	DefaultAckWait    = 30 * time.Second
	DefaultMaxDeliver = 5
)

// Job is what a queue's workers run: recorded by Submit, read by every worker.
type Job struct {
	// ID names the job: a hash of the rest, so that a resubmission of the same job is
	// recognised and another job is refused on the same queue.
	ID string `json:"id"`
	// Args are the processing flags as a local run takes them (--size, --ops, --format, …),
	// without --in and --out; a worker adds its own device and concurrency flags.
	Args []string `json:"args"`
	// Inputs are the roots the files were found under and Output the output folder: local
	// paths that every worker sees at the same place (a shared file system), or URLs.
	Inputs []string `json:"inputs"`
	Output string   `json:"output"`
	// AckWait is how long a message may go without news from its worker before it is
	// delivered again; MaxDeliver how many times a transiently failing file is tried.
	AckWait    time.Duration `json:"ack_wait"`
	MaxDeliver int           `json:"max_deliver"`
}

func (j *Job) setID() {
	j.ID = ""
	b, _ := json.Marshal(j)
	sum := sha256.Sum256(b)
	j.ID = hex.EncodeToString(sum[:8])
}

// message is the body of one file's message: what a worker on another machine needs to
// find the file and name its output.
type message struct {
	Job string `json:"job"`
	// Root is the root the file was found under: a local folder (under a shared root), or
	// the URL of a store's folder with the query that opens it, such as
	// s3://photos/2024?endpoint=http://10.0.0.5:9000&use_path_style=true (see rootOf).
	Root string `json:"root"`
	Rel  string `json:"rel"` // the file below it
}

// rootOf is the root a message names for f: the root a walk gave it, and for a file of a
// store the query of the store's URL as well (the endpoint, the region, ...: what a worker
// needs to reach the store, never credentials, which each machine's environment gives).
func rootOf(f walk.File) string {
	src, ok := f.Store.(*blob.Source)
	if !ok {
		return f.Root
	}
	if q := src.Location().Query; len(q) > 0 {
		return f.Root + "?" + q.Encode()
	}
	return f.Root
}

// url reports whether the message's root is a store's URL rather than a local folder.
func (m message) url() bool { return blob.IsURL(m.Root) }

// key is the file's record key and message id: a hash of its root and relative path.
func (m message) key() string {
	sum := sha256.Sum256([]byte(m.Root + "\x00" + m.Rel))
	return hex.EncodeToString(sum[:16])
}

// path names the file in records and messages: for a store, its URL without the query, as
// the store's walk.File.Path names it.
func (m message) path() string {
	if m.url() {
		root, _, _ := strings.Cut(m.Root, "?")
		return strings.TrimSuffix(root, "/") + "/" + filepath.ToSlash(m.Rel)
	}
	return m.Root + string(os.PathSeparator) + m.Rel
}

// record is the value of a done, failed or dead record.
type record struct {
	Path       string    `json:"path"`
	Reason     string    `json:"reason,omitempty"`
	Deliveries int       `json:"deliveries,omitempty"`
	Worker     string    `json:"worker,omitempty"`
	Time       time.Time `json:"time"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ParseURL splits a queue URL, nats://HOST:PORT/NAME, into the server's URL and the queue's
// name (letters, digits, - and _).
func ParseURL(s string) (server, name string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("queue %q: %w", s, err)
	}
	if u.Scheme != "nats" && u.Scheme != "tls" || u.Host == "" {
		return "", "", fmt.Errorf("queue %q: want nats://HOST:PORT/NAME", s)
	}
	name = strings.Trim(u.Path, "/")
	if !nameRE.MatchString(name) {
		return "", "", fmt.Errorf("queue %q: the name %q after the server must be 1 to 64 letters, digits, - or _", s, name)
	}
	u.Path, u.RawQuery = "", ""
	return u.String(), name, nil
}

// Queue is a connection to one named queue.
type Queue struct {
	Name   string
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	cons   jetstream.Consumer
	kv     jetstream.KeyValue
}

func (q *Queue) subject() string { return "imgpipe." + q.Name + ".files" }
func (q *Queue) streamName() string {
	return "imgpipe-" + q.Name
}

// ErrNoJob is returned by Open for a queue no job was submitted to.
var ErrNoJob = errors.New("no job was submitted to this queue")

// connect connects to the server of a queue URL.
func connect(rawURL string) (*Queue, error) {
	server, name, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(server, nats.Name("imgpipe"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", rawURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("queue %s: %w", rawURL, err)
	}
	return &Queue{Name: name, nc: nc, js: js}, nil
}

// Open connects to an existing queue: its stream, consumer and records.
func Open(ctx context.Context, rawURL string) (*Queue, error) {
	q, err := connect(rawURL)
	if err != nil {
		return nil, err
	}
	if q.stream, err = q.js.Stream(ctx, q.streamName()); err == nil {
		if q.cons, err = q.stream.Consumer(ctx, "workers"); err == nil {
			q.kv, err = q.js.KeyValue(ctx, q.streamName())
		}
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrBucketNotFound) {
		err = ErrNoJob
	}
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("queue %s: %w", rawURL, err)
	}
	return q, nil
}

// Close closes the connection, once what was sent has reached the server: the
// negative acknowledgements that hand files back are not confirmed, and would otherwise
// be lost with the process, leaving their files to wait out the AckWait.
func (q *Queue) Close() {
	_ = q.nc.FlushTimeout(5 * time.Second)
	q.nc.Close()
}

// Job reads the job's settings.
func (q *Queue) Job(ctx context.Context) (Job, error) {
	var j Job
	e, err := q.kv.Get(ctx, "job")
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return j, fmt.Errorf("queue %s: %w", q.Name, ErrNoJob)
	}
	if err != nil {
		return j, fmt.Errorf("queue %s: job: %w", q.Name, err)
	}
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return j, fmt.Errorf("queue %s: job record: %w", q.Name, err)
	}
	return j, nil
}

// put writes an outcome record.
func (q *Queue) put(ctx context.Context, kind string, m message, rec record) error {
	rec.Path, rec.Time = m.path(), time.Now().UTC()
	if rec.Worker == "" {
		host, _ := os.Hostname()
		rec.Worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = q.kv.Put(ctx, kind+"."+m.key(), b)
	return err
}
