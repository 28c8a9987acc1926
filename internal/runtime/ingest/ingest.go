// Package ingest is the upload service: it stores one upload of samples
// for a vehicle, whichever way it came. Its adapters (package httpapi)
// translate their event into an Upload and its outcome into their
// protocol's answer: the REST API's createEvent into an HTTP status, the
// upload rule's MQTT message into nil or an error Lambda retries, then
// keeps in the failure queue.
//
// The event's ID is the caller's idempotency key, or the hash of its
// samples when it sends none: the same upload sent again, by either path,
// is the same event, and the conditional put stores it once. The
// synthetic vehicle's events are kept an hour, and are not the fleet's
// samples.
package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// EventStore keeps events: a put of an event stored before stores
// nothing and returns the stored one.
type EventStore interface {
	PutEvent(ctx context.Context, e fleet.Event) (fleet.PutResult, error)
}

// Service stores uploads. It holds no per-upload state.
type Service struct {
	events    EventStore
	retention time.Duration
	// acceptFor is how old a sample may be: the history's retention
	// when the stage keeps one, else retention.
	acceptFor time.Duration
	now       func() time.Time
}

// New returns the service storing into events, events kept for
// retention; now is its clock (nil: time.Now).
func New(events EventStore, retention time.Duration, now func() time.Time) (*Service, error) {
	if events == nil {
		return nil, errors.New("ingest: no event store")
	}
	if retention <= 0 {
		return nil, errors.New("ingest: the retention of events must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{events: events, retention: retention, acceptFor: retention, now: now}, nil
}

// AcceptFor lets the service take samples up to d old (never less than
// the events' retention): a stage's history keeps them after the table.
func (s *Service) AcceptFor(d time.Duration) { s.acceptFor = max(d, s.retention) }

// Upload is one upload as an adapter received it.
type Upload struct {
	// VID is the vehicle the upload is for: the path's, or the topic's.
	VID string
	// Body is the upload's body, decoded.
	Body fleet.Upload
	// IdempotencyKey is the caller's key of the upload, "" for none.
	IdempotencyKey string
}

// Stored is what an upload stored.
type Stored struct {
	// Event is the stored event: this upload's, or, when Created is false,
	// the one an earlier attempt of it stored.
	Event   fleet.Event
	Created bool
}

// SamplesIngested is the number of samples this upload stored: none for
// a retry, none of the synthetic vehicle (not the fleet's).
func (s Stored) SamplesIngested() int {
	if !s.Created || contract.IsSyntheticVID(s.Event.VID) {
		return 0
	}
	return len(s.Event.Samples)
}

// Store validates an upload and stores it once. Its errors match the
// fleet package's sentinels: ErrInvalid (the upload is not valid, or its
// key was used for other samples: ErrConflict), ErrNoVehicle (the vehicle
// is not registered), ErrUnavailable (the store did not answer in time:
// retry); anything else is a failure of the store.
func (s *Service) Store(ctx context.Context, u Upload) (Stored, error) {
	retention, acceptFor := s.retention, s.acceptFor
	if contract.IsSyntheticVID(u.VID) {
		retention, acceptFor = contract.SyntheticEventRetention, contract.SyntheticEventRetention
	}
	e, err := fleet.NewEventAccepting(u.VID, u.Body, u.IdempotencyKey, s.now(), retention, acceptFor)
	if err != nil {
		return Stored{}, err
	}
	// Not wrapped: a 4xx tells the caller the store's own words.
	res, err := s.events.PutEvent(ctx, e)
	if err != nil {
		return Stored{}, err
	}
	return Stored{Event: res.Event, Created: res.Created}, nil
}
