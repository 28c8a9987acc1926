package localapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetapi/fleetapi/internal/local/localhistory"
	"github.com/fleetapi/fleetapi/internal/local/localstream"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/history"
	"github.com/fleetapi/fleetapi/internal/runtime/tracker"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// TrackingOptions are a stage's settings of its tracker.
type TrackingOptions struct {
	// Window is the stream's batching window; default
	// contract.DefaultStateBatchingWindow, a stage's.
	Window time.Duration
	// SilentAfter and NotSeenAfter count the fleet's figures; defaults
	// contract.DefaultSilentAfter and DefaultNotSeenAfter.
	SilentAfter, NotSeenAfter time.Duration
	// History, when set, writes the stage's history as its writer does:
	// the stream's INSERTs, batched by HistoryWindow (default
	// contract.DefaultHistoryBatchingWindow), as Parquet files below
	// History.Root; the records it cannot decode in HistoryFailures.
	History         *localhistory.Dir
	HistoryWindow   time.Duration
	HistoryFailures string
	Logger          *slog.Logger
}

// Tracking is a stage's tracker, run locally: the events table's stream
// (package localstream, dynalite having none) mapped to the tracker code
// with the stage's batching window, the broker's connects and disconnects
// handed to it as the lifecycle rule hands IoT Core's, and its figures.
type Tracking struct {
	// Store is the store to serve the API with: its puts of events reach
	// the stream.
	Store   *dynamostore.Store
	Stream  *localstream.Stream
	Tracker *tracker.Tracker
	// HistoryStream maps the same table's stream to the history writer:
	// its second reader, as in a stage. Nil without History.
	HistoryStream *localstream.Stream
	History       *history.Writer
}

// NewTracking builds a store on db whose event puts feed the tracker.
func NewTracking(db dynamostore.API, tables dynamostore.Tables, cursorKey []byte, o TrackingOptions) (*Tracking, error) {
	if tables.State == "" {
		return nil, errors.New("localapi: tracking needs the state table")
	}
	o.Window = cmp.Or(o.Window, contract.DefaultStateBatchingWindow)
	o.SilentAfter = cmp.Or(o.SilentAfter, contract.DefaultSilentAfter)
	o.NotSeenAfter = cmp.Or(o.NotSeenAfter, contract.DefaultNotSeenAfter)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tracking{}
	t.Stream = localstream.New(func(ctx context.Context, payload json.RawMessage) (any, error) { return t.Tracker.Invoke(ctx, payload) },
		localstream.Options{Window: o.Window, BatchSize: contract.StateBatchSize, Logger: o.Logger})
	events := t.Stream.Table(db, tables.Events)
	if o.History != nil {
		t.History = &history.Writer{Objects: o.History, Failures: &localhistory.FailureFile{Path: o.HistoryFailures}, Decoder: dynamostore.NewEventCodec(), Prefix: contract.HistoryPrefix,
			Logger: o.Logger.With("function", "history")}
		t.HistoryStream = localstream.New(func(ctx context.Context, payload json.RawMessage) (any, error) { return t.History.Invoke(ctx, payload) },
			localstream.Options{Window: cmp.Or(o.HistoryWindow, contract.DefaultHistoryBatchingWindow), BatchSize: contract.HistoryBatchSize, Logger: o.Logger})
		events = t.HistoryStream.Table(events, tables.Events)
	}
	store, err := dynamostore.New(events, tables, cursorKey)
	if err != nil {
		t.Close()
		return nil, err
	}
	tr, err := tracker.New(tracker.Config{Store: store, SilentAfter: o.SilentAfter, NotSeenAfter: o.NotSeenAfter,
		FunctionName: "local-tracker", Logger: o.Logger.With("function", "tracker")})
	if err != nil {
		t.Close()
		return nil, err
	}
	t.Store, t.Tracker = store, tr
	return t, nil
}

// Lifecycle hands a lifecycle event to the tracker as the lifecycle rule
// does: the event's JSON as its payload.
func (t *Tracking) Lifecycle(ctx context.Context, ev contract.LifecycleEvent) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("lifecycle event: %w", err)
	}
	_, err = t.Tracker.Invoke(ctx, payload)
	return err
}

// Close stops the streams' mappings. The history's pending records are
// written first: a stage's stream keeps them for its writer across a
// restart, and the local history would otherwise lose them for good; the
// state's catch up with the vehicles' next uploads.
func (t *Tracking) Close() {
	t.Stream.Close()
	if t.HistoryStream != nil {
		t.HistoryStream.Flush()
		t.HistoryStream.Close()
	}
}
