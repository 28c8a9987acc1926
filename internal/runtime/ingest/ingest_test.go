package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

var now = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// store keeps events by vehicle and ID, as the conditional put does.
type store struct {
	puts   int
	events map[string]fleet.Event
	err    error
}

func (s *store) PutEvent(_ context.Context, e fleet.Event) (fleet.PutResult, error) {
	s.puts++
	if s.err != nil {
		return fleet.PutResult{}, s.err
	}
	if old, ok := s.events[e.VID+"/"+e.EID]; ok {
		return fleet.PutResult{Event: old}, nil
	}
	s.events[e.VID+"/"+e.EID] = e
	return fleet.PutResult{Event: e, Created: true}, nil
}

func samples(n int, start time.Time) fleet.Upload {
	var up fleet.Upload
	for i := range n {
		up.Samples = append(up.Samples, fleet.Sample{Timestamp: start.Add(time.Duration(i) * time.Second), Signals: map[string]float64{"Vehicle.Speed": float64(40 + i)}})
	}
	return up
}

func newService(t *testing.T, s *store) *Service {
	t.Helper()
	svc, err := New(s, 30*24*time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// An upload is stored once: sent again without a key it is the same
// event (its ID the samples' hash), counted as no new samples; with a key
// the key names it.
func TestStoreOnce(t *testing.T) {
	s := &store{events: map[string]fleet.Event{}}
	svc := newService(t, s)
	up := Upload{VID: "car-1", Body: samples(10, now.Add(-time.Hour))}
	first, err := svc.Store(context.Background(), up)
	if err != nil || !first.Created || first.SamplesIngested() != 10 {
		t.Fatalf("first: %+v, %v", first, err)
	}
	if want := now.Add(30 * 24 * time.Hour).Truncate(time.Second); !first.Event.ExpiresAt.Equal(want) || !first.Event.ReceivedAt.Equal(now) {
		t.Errorf("received at %v, expires at %v; want %v (its receipt and the service's retention), %v", first.Event.ReceivedAt, first.Event.ExpiresAt, want, now)
	}
	again, err := svc.Store(context.Background(), up)
	if err != nil || again.Created || again.SamplesIngested() != 0 || again.Event.EID != first.Event.EID {
		t.Errorf("again: %+v, %v; want the first event, not created", again, err)
	}
	keyed, err := svc.Store(context.Background(), Upload{VID: "car-1", Body: up.Body, IdempotencyKey: "batch-0001"})
	if err != nil || !keyed.Created || keyed.Event.EID == first.Event.EID {
		t.Errorf("with a key: %+v, %v; want a new event of its own ID", keyed, err)
	}
	if len(s.events) != 2 {
		t.Errorf("%d events stored, want 2", len(s.events))
	}
}

// The synthetic vehicle's events are kept an hour, whatever the stage's
// retention, and are no samples of the fleet's.
func TestSyntheticVehicleEvents(t *testing.T) {
	s := &store{events: map[string]fleet.Event{}}
	svc := newService(t, s)
	got, err := svc.Store(context.Background(), Upload{VID: contract.SyntheticVIDPrefix + "FleetApi-prod-Fleet", Body: samples(3, now.Add(-time.Minute))})
	if err != nil || !got.Created || got.SamplesIngested() != 0 {
		t.Fatalf("stored %+v, %v; want created, no samples ingested", got, err)
	}
	if want := now.Add(contract.SyntheticEventRetention).Truncate(time.Second); !got.Event.ExpiresAt.Equal(want) {
		t.Errorf("expires at %v, want %v (its receipt and an hour)", got.Event.ExpiresAt, want)
	}
}

// An invalid upload reaches no store; the store's errors come back as
// they are, for the adapters to translate.
func TestStoreRefuses(t *testing.T) {
	s := &store{events: map[string]fleet.Event{}}
	svc := newService(t, s)
	for name, up := range map[string]Upload{
		"bad vid":            {VID: "car 1", Body: samples(1, now.Add(-time.Hour))},
		"no samples":         {VID: "car-1"},
		"future":             {VID: "car-1", Body: samples(1, now.Add(time.Hour))},
		"bad key":            {VID: "car-1", Body: samples(1, now.Add(-time.Hour)), IdempotencyKey: "a b"},
		"older than a month": {VID: "car-1", Body: samples(1, now.Add(-31*24*time.Hour))},
	} {
		if _, err := svc.Store(context.Background(), up); !errors.Is(err, fleet.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if s.puts != 0 {
		t.Errorf("%d puts of invalid uploads", s.puts)
	}
	s.err = fleet.ErrNoVehicle
	if _, err := svc.Store(context.Background(), Upload{VID: "car-9", Body: samples(1, now.Add(-time.Hour))}); !errors.Is(err, fleet.ErrNoVehicle) {
		t.Errorf("an unregistered vehicle: %v", err)
	}
	if _, err := New(nil, time.Hour, nil); err == nil {
		t.Error("a service without a store")
	}
	if _, err := New(s, 0, nil); err == nil {
		t.Error("a service without a retention")
	}
}
