// Package redrive stores again the uploads over MQTT a stage could not
// store: it reads the failure queue (or make local's dead-letter file),
// takes the upload rule's event out of each message, invokes the ingest
// function with it, synchronously, and deletes the message only once the
// function stored it. A message no retry can store (not a failure
// record, or one the function refuses as invalid or not the vehicle's) is
// set aside with its reason, when the run has somewhere to put it, then
// deleted; one a later retry may store stays. Invoking twice stores
// nothing twice: the ingest function's put is idempotent.
//
// The queue holds the two kinds of message contract.FailedUpload reads.
package redrive

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// Message is one message of a queue.
type Message struct {
	// ID names it in a report; Receipt deletes it.
	ID, Receipt string
	Body        []byte
}

// Queue is where the failed uploads wait.
type Queue interface {
	// Receive returns the next messages, none when no more are waiting.
	// A message received is not received again by the same run.
	Receive(ctx context.Context) ([]Message, error)
	Delete(ctx context.Context, m Message) error
}

// Invoke runs the ingest function with an event, synchronously: nil when
// it stored the upload (now or before), else its error.
type Invoke func(ctx context.Context, event []byte) error

// Aside keeps a message no retry can store, with why, before the run
// deletes it from its queue.
type Aside func(ctx context.Context, m Message, why string) error

// Report is what a run did.
type Report struct {
	Received, Stored int
	// Failed may be stored by a later run: kept. Unreadable (not a
	// failure record) and Refused (invalid, or not the vehicle's) no run
	// stores: set aside, or kept without an Aside.
	Failed, Unreadable, Refused int
	// SetAside of the Unreadable and Refused.
	SetAside int
	// Reasons of the messages left or set aside, by message ID (the first
	// 20).
	Reasons map[string]string
}

func (r Report) String() string {
	return fmt.Sprintf("messages received %d, stored and deleted %d; failed again %d (kept for a later run); unreadable %d and refused %d, of them set aside %d",
		r.Received, r.Stored, r.Failed, r.Unreadable, r.Refused, r.SetAside)
}

// Left counts the messages a later run may store.
func (r Report) Left() int { return r.Failed }

// Run redrives every message of q through invoke; aside, when set, takes
// what no retry can store.
func Run(ctx context.Context, q Queue, invoke Invoke, aside Aside) (Report, error) {
	r := Report{Reasons: map[string]string{}}
	keep := func(m Message, why string) {
		if len(r.Reasons) < 20 {
			r.Reasons[m.ID] = why
		}
	}
	setAside := func(m Message, why string) error {
		keep(m, why)
		if aside == nil {
			return nil
		}
		if err := aside(ctx, m, why); err != nil {
			return fmt.Errorf("set aside message %s: %w", m.ID, err)
		}
		if err := q.Delete(ctx, m); err != nil {
			return fmt.Errorf("delete message %s (set aside already): %w", m.ID, err)
		}
		r.SetAside++
		return nil
	}
	for {
		msgs, err := q.Receive(ctx)
		if err != nil {
			return r, fmt.Errorf("receive: %w", err)
		}
		if len(msgs) == 0 {
			return r, nil
		}
		for _, m := range msgs {
			r.Received++
			ev, err := contract.FailedUpload(m.Body, time.Now())
			if err != nil {
				r.Unreadable++
				if err := setAside(m, err.Error()); err != nil {
					return r, err
				}
				continue
			}
			payload, err := json.Marshal(ev)
			if err != nil {
				return r, err
			}
			if err := invoke(ctx, payload); err != nil {
				if ctx.Err() != nil {
					return r, ctx.Err()
				}
				if contract.FinalUploadFailure(err.Error()) {
					r.Refused++
					if err := setAside(m, err.Error()); err != nil {
						return r, err
					}
					continue
				}
				r.Failed++
				keep(m, err.Error())
				continue
			}
			if err := q.Delete(ctx, m); err != nil {
				return r, fmt.Errorf("delete message %s (stored: a rerun stores nothing twice): %w", m.ID, err)
			}
			r.Stored++
		}
	}
}
