package history

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// Objects is where the history's objects go: the stage's bucket, or a
// directory of make local's.
type Objects interface {
	// Put writes body at key, replacing what was there.
	Put(ctx context.Context, key string, body []byte) error
}

// Failures keeps the stream records the writer cannot decode: the
// failure queue in AWS, a file of make local's.
type Failures interface {
	Keep(ctx context.Context, r Failure) error
}

// Failure is a record the writer could not turn into history, with why.
type Failure struct {
	EventID        string                                   `json:"eventID"`
	SequenceNumber string                                   `json:"sequenceNumber"`
	Keys           map[string]events.DynamoDBAttributeValue `json:"keys"`
	Error          string                                   `json:"error"`
}

// Decoder turns a record's new image into the event the table stored.
type Decoder interface {
	EventFromImage(image map[string]events.DynamoDBAttributeValue) (fleet.Event, error)
}

// Writer turns batches of the events table's stream into history objects.
type Writer struct {
	Objects  Objects
	Failures Failures
	Decoder  Decoder
	// Prefix is the objects' key prefix, the Glue table's location below
	// the bucket ("samples").
	Prefix string
	Logger *slog.Logger
}

// Written is what one batch became.
type Written struct {
	Records, Events, Rows, Objects, Bytes, Failed int
	// OldestArrival is when the batch's oldest upload was stored: the
	// history's lag behind the table is the time since.
	OldestArrival time.Time
}

// HandleStream writes a batch: each partition's rows as one object whose
// key derives from the batch's first and last records, so that Lambda's
// retry of the same batch replaces the objects it wrote before instead of
// adding more (at least once in, never twice out). A record it cannot
// decode goes to Failures, and the rest of the batch on; an object it
// cannot put fails the whole batch, which Lambda retries.
func (w *Writer) HandleStream(ctx context.Context, ev events.DynamoDBEvent) (Written, error) {
	var out Written
	var evs []fleet.Event
	var first, last string
	for _, r := range ev.Records {
		out.Records++
		// An upload is an INSERT; a REMOVE is the hot window's TTL, which
		// never deletes history.
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			continue
		}
		if first == "" {
			first = r.EventID
		}
		last = r.EventID
		e, err := w.Decoder.EventFromImage(r.Change.NewImage)
		if err != nil {
			out.Failed++
			f := Failure{EventID: r.EventID, SequenceNumber: r.Change.SequenceNumber, Keys: r.Change.Keys, Error: err.Error()}
			if kerr := w.Failures.Keep(ctx, f); kerr != nil {
				return out, fmt.Errorf("history: keep the undecodable record %s: %w", r.EventID, errors.Join(err, kerr))
			}
			w.logger().ErrorContext(ctx, "stream record kept as a failure", "eventID", r.EventID, "sequenceNumber", r.Change.SequenceNumber, "error", err.Error())
			continue
		}
		if contract.IsSyntheticVID(e.VID) {
			continue // the stage's own test vehicle: not the fleet's history
		}
		evs = append(evs, e)
		if out.OldestArrival.IsZero() || e.ReceivedAt.Before(out.OldestArrival) {
			out.OldestArrival = e.ReceivedAt
		}
	}
	out.Events = len(evs)
	if len(evs) == 0 {
		return out, nil
	}
	name := BatchName(first, last)
	for p, rows := range Partitioned(evs) {
		body, err := Encode(rows)
		if err != nil {
			return out, err
		}
		key := path.Join(w.Prefix, p.Path(), name)
		if err := w.Objects.Put(ctx, key, body); err != nil {
			return out, fmt.Errorf("history: put %s: %w", key, err)
		}
		out.Rows += len(rows)
		out.Objects++
		out.Bytes += len(body)
	}
	return out, nil
}

// Invoke handles a batch as Lambda hands it (its JSON) and logs what it
// wrote; an error fails the batch, which Lambda retries whole.
func (w *Writer) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("history: not a batch of a DynamoDB stream: %w", err)
	}
	start := time.Now()
	got, err := w.HandleStream(ctx, ev)
	attrs := []any{"records", got.Records, "events", got.Events, "rows", got.Rows, "objects", got.Objects, "bytes", got.Bytes,
		"failed", got.Failed, "durationMs", time.Since(start).Milliseconds()}
	if !got.OldestArrival.IsZero() {
		attrs = append(attrs, "lagSeconds", time.Since(got.OldestArrival).Seconds())
	}
	if err != nil {
		w.logger().ErrorContext(ctx, "history batch failed", append(attrs, "error", err.Error())...)
		return nil, err
	}
	w.logger().InfoContext(ctx, "history written", attrs...)
	return nil, nil
}

// BatchName names a batch's objects after its first and last records'
// event IDs (unique in the stream): the same batch, retried, is the same
// name.
func BatchName(firstEventID, lastEventID string) string {
	sum := sha256.Sum256([]byte(firstEventID + "\x00" + lastEventID))
	return hex.EncodeToString(sum[:12]) + ".parquet"
}

func (w *Writer) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}
