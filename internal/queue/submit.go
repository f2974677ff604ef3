package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gpupipe/gpupipe/stages/walk"
)

// ErrOtherJob is returned by Submit when the queue holds a job with other settings.
var ErrOtherJob = errors.New("the queue holds another job")

// Submitted is what Submit did.
type Submitted struct {
	Queued int // files published
	Before int // files queued by an earlier submission of the same job, or recorded done
}

// dedupWindow is how long the server remembers message ids: a resubmission within it
// publishes nothing twice even for files in flight; after it, files recorded done are
// still skipped, and a file queued again finds its output there.
const dedupWindow = 24 * time.Hour

// Submit creates the queue if need be, records the job (refusing another job's settings on
// the same queue) and publishes one message for each file that files yields. The files are
// those of job.Inputs, as job.Plan walks them.
func Submit(ctx context.Context, rawURL string, j Job, files func(yield func(walk.File) error) error) (Submitted, error) {
	var s Submitted
	if j.AckWait <= 0 {
		j.AckWait = DefaultAckWait
	}
	if j.MaxDeliver <= 0 {
		j.MaxDeliver = DefaultMaxDeliver
	}
	j.setID()
	q, err := connect(rawURL)
	if err != nil {
		return s, err
	}
	defer q.Close()
	if err := q.create(ctx, j); err != nil {
		return s, fmt.Errorf("queue %s: %w", rawURL, err)
	}
	var pending []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range pending {
			select {
			case ack := <-f.Ok():
				if ack.Duplicate {
					s.Before++
				} else {
					s.Queued++
				}
			case err := <-f.Err():
				return fmt.Errorf("queue %s: publishing %s: %w", rawURL, f.Msg().Header.Get(jetstream.MsgIDHeader), err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pending = pending[:0]
		return nil
	}
	err = files(func(f walk.File) error {
		m := message{Job: j.ID, Root: rootOf(f), Rel: f.Rel}
		if _, err := q.kv.Get(ctx, "done."+m.key()); err == nil {
			s.Before++
			return nil
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("queue %s: %w", rawURL, err)
		}
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		f2, err := q.js.PublishAsync(q.subject(), body, jetstream.WithMsgID(j.ID+"."+m.key()))
		if err != nil {
			return fmt.Errorf("queue %s: publishing %s: %w", rawURL, m.path(), err)
		}
		if pending = append(pending, f2); len(pending) >= 256 {
			return wait()
		}
		return nil
	})
	if err == nil {
		err = wait()
	}
	return s, err
}

// create makes the stream, the consumer and the bucket, and records the job.
func (q *Queue) create(ctx context.Context, j Job) error {
	var err error
	q.stream, err = q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: q.streamName(), Subjects: []string{q.subject()}, Retention: jetstream.WorkQueuePolicy,
		Duplicates: dedupWindow, Description: "imgpipe job files",
	})
	if err != nil {
		return err
	}
	q.kv, err = q.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: q.streamName(),
		Description: "imgpipe job settings and file outcomes"})
	if err != nil {
		return err
	}
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if _, err := q.kv.Create(ctx, "job", body); errors.Is(err, jetstream.ErrKeyExists) {
		old, err := q.Job(ctx)
		if err != nil {
			return err
		}
		if old.ID != j.ID {
			return fmt.Errorf("%w (inputs %v, output %s, flags %v): give this one another queue name",
				ErrOtherJob, old.Inputs, old.Output, old.Args)
		}
	} else if err != nil {
		return err
	}
	// The retry limit is the workers' (package jsqueue): the server's MaxDeliver would
	// strand a message without a record once reached.
	q.cons, err = q.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy, AckWait: j.AckWait,
		MaxAckPending: 10000, Description: "imgpipe workers",
	})
	return err
}
