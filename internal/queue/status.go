package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Status is where a queue's job stands.
type Status struct {
	Queue string `json:"queue"`
	Job   Job    `json:"job"`
	// Queued are the messages never delivered yet; InFlight those delivered without an
	// outcome yet: held by a worker, handed back by a stopped one and not yet taken again,
	// waiting out a retry's backoff, or held by a worker that died until its AckWait runs
	// out (the server counts them as one). Done, Failed and Dead are the files recorded so.
	Queued   int `json:"queued"`
	InFlight int `json:"in_flight"`
	Done     int `json:"done"`
	Failed   int `json:"failed"`
	Dead     int `json:"dead_lettered"`
	// Failures are the failed and dead-lettered files with their reasons, by path.
	Failures []Failure `json:"failures"`
}

// Failure is one file that failed for good or was dead-lettered.
type Failure struct {
	Path       string `json:"path"`
	Reason     string `json:"reason"`
	Dead       bool   `json:"dead_lettered,omitempty"`
	Deliveries int    `json:"deliveries,omitempty"`
}

// Total is every file of the job so far: waiting, in flight or settled.
func (s Status) Total() int { return s.Queued + s.InFlight + s.Done + s.Failed + s.Dead }

// Finished reports whether no file waits or is in flight.
func (s Status) Finished() bool { return s.Queued == 0 && s.InFlight == 0 }

// Status reads the queue's counts and failures. A file recorded done is counted done even
// if an earlier delivery of it was recorded failed (a resubmission after the file was
// fixed).
func (q *Queue) Status(ctx context.Context) (Status, error) {
	s := Status{Queue: q.Name}
	var err error
	if s.Job, err = q.Job(ctx); err != nil {
		return s, err
	}
	info, err := q.cons.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("queue %s: %w", q.Name, err)
	}
	s.Queued, s.InFlight = int(info.NumPending), info.NumAckPending
	done, err := q.keys(ctx, "done")
	if err != nil {
		return s, err
	}
	s.Done = len(done)
	for _, kind := range []string{"failed", "dead"} {
		keys, err := q.keys(ctx, kind)
		if err != nil {
			return s, err
		}
		for k := range keys {
			if done[k] {
				continue
			}
			e, err := q.kv.Get(ctx, kind+"."+k)
			if err != nil {
				return s, fmt.Errorf("queue %s: %w", q.Name, err)
			}
			var rec record
			_ = json.Unmarshal(e.Value(), &rec)
			s.Failures = append(s.Failures, Failure{Path: rec.Path, Reason: rec.Reason, Dead: kind == "dead", Deliveries: rec.Deliveries})
			if kind == "dead" {
				s.Dead++
			} else {
				s.Failed++
			}
		}
	}
	sort.Slice(s.Failures, func(i, k int) bool { return s.Failures[i].Path < s.Failures[k].Path })
	return s, nil
}

// keys lists the record keys of one kind, without the kind.
func (q *Queue) keys(ctx context.Context, kind string) (map[string]bool, error) {
	lister, err := q.kv.ListKeysFiltered(ctx, kind+".>")
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", q.Name, err)
	}
	keys := map[string]bool{}
	for k := range lister.Keys() {
		keys[strings.TrimPrefix(k, kind+".")] = true
	}
	// The listing ends by closing Keys; Stop then has nothing left to stop and says so.
	_ = lister.Stop()
	return keys, nil
}
