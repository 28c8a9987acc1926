// Package tracker keeps each vehicle's latest state: from the events
// table's stream (every upload stored, whichever path it came by, and
// nothing the table refused) and from AWS IoT Core's lifecycle events; on
// a schedule, it counts the fleet's connected, silent and unseen vehicles
// into CloudWatch metrics. One function serves all three, telling them
// apart by the event's shape.
package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// Store keeps the vehicles' state and decodes the events table's items.
type Store interface {
	UpdateState(ctx context.Context, u dynamostore.StateUpdate) (bool, error)
	EachState(ctx context.Context, fn func(fleet.VehicleState) error) error
	EventFromImage(image map[string]events.DynamoDBAttributeValue) (fleet.Event, error)
}

// Config wires a Tracker.
type Config struct {
	Store Store
	// SilentAfter and NotSeenAfter are the stage's: how long a connected
	// vehicle uploads nothing before it counts as silent, and how long a
	// vehicle is not heard of before it counts as not seen.
	SilentAfter, NotSeenAfter time.Duration
	// FunctionName is the dimension of the figures' metrics.
	FunctionName string
	// Logger gets a line per invocation; the figures are embedded metrics
	// in theirs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Workers bounds the vehicles of a batch updated at once. Default 16.
	Workers int
}

// Tracker serves the tracker function's invocations. It holds no
// per-invocation state.
type Tracker struct{ cfg Config }

// New returns a Tracker.
func New(cfg Config) (*Tracker, error) {
	if cfg.Store == nil {
		return nil, errors.New("tracker: a Store is required")
	}
	if cfg.SilentAfter <= 0 || cfg.NotSeenAfter <= 0 {
		return nil, errors.New("tracker: SilentAfter and NotSeenAfter must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	return &Tracker{cfg: cfg}, nil
}

// shape is enough of an event to tell which of the three it is.
type shape struct {
	Records    []struct{ EventSource string } `json:"Records"`
	EventType  string                         `json:"eventType"`
	Source     string                         `json:"source"`
	DetailType string                         `json:"detail-type"`
}

// Invoke is the function's handler: a DynamoDB stream batch, a lifecycle
// event (the lifecycle rule's), or the figures' schedule.
func (t *Tracker) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var s shape
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, fmt.Errorf("tracker: an event that is no JSON object: %w", err)
	}
	switch {
	case len(s.Records) > 0 && s.Records[0].EventSource == "aws:dynamodb":
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("tracker: a stream batch: %w", err)
		}
		return t.HandleStream(ctx, ev), nil
	case s.EventType == contract.LifecycleConnected || s.EventType == contract.LifecycleDisconnected:
		var ev contract.LifecycleEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("tracker: a lifecycle event: %w", err)
		}
		return nil, t.HandleLifecycle(ctx, ev)
	case s.Source == "aws.events" && s.DetailType == "Scheduled Event":
		_, err := t.Figures(ctx)
		return nil, err
	default:
		return nil, errors.New("tracker: an event that is neither a DynamoDB stream batch, a lifecycle event nor the schedule's")
	}
}

// HandleStream applies a batch of the events table's stream: each
// vehicle's new events in one update of its state (a batch of a window's
// uploads is one write per vehicle), the vehicles in parallel. It answers
// Lambda's partial batch response: the first record of the first vehicle
// whose update failed, from which Lambda retries; the vehicles applied
// before it are applied again, which changes nothing.
func (t *Tracker) HandleStream(ctx context.Context, ev events.DynamoDBEvent) events.DynamoDBEventResponse {
	start := time.Now()
	type vehicle struct {
		first  int // index of its first record
		events []fleet.Event
	}
	byVID := map[string]*vehicle{}
	var order []string
	var failed []int // records that cannot be applied
	for i, r := range ev.Records {
		// An upload is an INSERT: events are never modified, and a
		// REMOVE is the TTL expiring an old one.
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			continue
		}
		e, err := t.cfg.Store.EventFromImage(r.Change.NewImage)
		if err != nil {
			t.cfg.Logger.ErrorContext(ctx, "stream record not applied", "sequenceNumber", r.Change.SequenceNumber, "error", err.Error())
			failed = append(failed, i)
			continue
		}
		if contract.IsSyntheticVID(e.VID) {
			continue // not the fleet's: its state is kept nowhere
		}
		v := byVID[e.VID]
		if v == nil {
			v = &vehicle{first: i}
			byVID[e.VID] = v
			order = append(order, e.VID)
		}
		v.events = append(v.events, e)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, t.cfg.Workers)
	written := 0
	for _, vid := range order {
		v := byVID[vid]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			wrote, err := t.cfg.Store.UpdateState(ctx, dynamostore.StateUpdate{VID: vid, Apply: func(st *fleet.VehicleState) bool {
				changed := false
				for _, e := range v.events {
					changed = st.ApplyEvent(e) || changed
				}
				return changed
			}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.cfg.Logger.ErrorContext(ctx, "state not updated", "vid", vid, "events", len(v.events), "error", err.Error())
				failed = append(failed, v.first)
			} else if wrote {
				written++
			}
		})
	}
	wg.Wait()
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	if len(failed) > 0 {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: ev.Records[slices.Min(failed)].Change.SequenceNumber})
	}
	t.cfg.Logger.InfoContext(ctx, "stream batch", "records", len(ev.Records), "vehicles", len(order), "statesWritten", written,
		"failedFrom", len(failed) > 0, "durationMs", time.Since(start).Milliseconds())
	return resp
}

// HandleLifecycle applies a connect or disconnect event to its vehicle's
// state. A client that is no vehicle of this stage (its client ID is no
// registered vid: another stage's thing, another application in the
// account, whose events the rule sees too) is left alone; an error is
// Lambda's to retry.
func (t *Tracker) HandleLifecycle(ctx context.Context, ev contract.LifecycleEvent) error {
	if fleet.ValidateVID("clientId", ev.ClientID) != nil || ev.Timestamp <= 0 || contract.IsSyntheticVID(ev.ClientID) {
		t.cfg.Logger.InfoContext(ctx, "lifecycle event of no vehicle", "clientId", truncate(ev.ClientID), "eventType", ev.EventType)
		return nil
	}
	le := fleet.LifecycleEvent{ClientID: ev.ClientID, Connectivity: fleet.Connectivity{
		Connected: ev.EventType == contract.LifecycleConnected, Since: time.UnixMilli(ev.Timestamp).UTC(),
		Session: ev.SessionIdentifier, Version: ev.VersionNumber, DisconnectReason: ev.DisconnectReason,
	}}
	wrote, err := t.cfg.Store.UpdateState(ctx, dynamostore.StateUpdate{VID: ev.ClientID, RegisteredOnly: true,
		Apply: func(st *fleet.VehicleState) bool { return st.ApplyLifecycle(le) }})
	if errors.Is(err, fleet.ErrNoVehicle) {
		t.cfg.Logger.InfoContext(ctx, "lifecycle event of no vehicle", "clientId", ev.ClientID, "eventType", ev.EventType)
		return nil
	}
	if err != nil {
		return fmt.Errorf("lifecycle event %s of %s: %w", ev.EventType, ev.ClientID, err)
	}
	t.cfg.Logger.InfoContext(ctx, "lifecycle event", "vid", ev.ClientID, "eventType", ev.EventType, "stateWritten", wrote)
	return nil
}

// FleetFigures are the counts the figures' metrics carry.
type FleetFigures struct {
	Vehicles, Connected, Silent, NotSeen int
}

// Figures reads every vehicle's state and writes the fleet's figures as
// one embedded metric format log line.
func (t *Tracker) Figures(ctx context.Context) (FleetFigures, error) {
	now := t.cfg.Now()
	var f FleetFigures
	err := t.cfg.Store.EachState(ctx, func(st fleet.VehicleState) error {
		f.Vehicles++
		if st.Connected() {
			f.Connected++
		}
		if st.SilentFor(now, t.cfg.SilentAfter) {
			f.Silent++
		}
		if st.NotSeenFor(now, t.cfg.NotSeenAfter) {
			f.NotSeen++
		}
		return nil
	})
	if err != nil {
		return FleetFigures{}, fmt.Errorf("the fleet's figures: %w", err)
	}
	attrs := metrics.Embedded(now.UnixMilli(), []metrics.Dimension{{Name: metrics.DimensionFunctionName, Value: t.cfg.FunctionName}},
		metrics.Value{Name: metrics.VehiclesConnected, Unit: "Count", Value: float64(f.Connected)},
		metrics.Value{Name: metrics.VehiclesSilent, Unit: "Count", Value: float64(f.Silent)},
		metrics.Value{Name: metrics.VehiclesNotSeen, Unit: "Count", Value: float64(f.NotSeen)})
	t.cfg.Logger.InfoContext(ctx, "fleet figures", append(attrs, "vehicles", f.Vehicles)...)
	return f, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
