package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/runtime/ingest"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// eventOperations are the operations of the uploads and their reads, by
// their operationId in api/swagger.yaml.
var eventOperations = map[string]operation{
	"createEvent": {serve: (*Handler).createEvent, events: true, uploads: true},
	"listEvents":  {serve: (*Handler).listEvents, events: true, paginated: true},
	"getEvent":    {serve: (*Handler).getEvent, events: true},
}

// eventSummary is the answer to an upload: the samples are not echoed.
type eventSummary struct {
	VID         string    `json:"vid"`
	EID         string    `json:"eid"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	SampleCount int       `json:"sampleCount"`
	ReceivedAt  time.Time `json:"receivedAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

type eventList struct {
	Events     []fleet.Event `json:"events"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

// createEvent is the REST adapter of the ingest service: the vid of the
// path, the body and the Idempotency-Key header in; 201 with the event's
// summary out, 200 with the same for a retry, the error's status else.
func (h *Handler) createEvent(ctx context.Context, r *request) response {
	if _, err := r.query(); err != nil {
		return errorResponse(err)
	}
	var body fleet.Upload
	if err := r.decodeJSON(&body); err != nil {
		return errorResponse(err)
	}
	vid := r.pathParam("vid")
	res, err := h.ingest.Store(ctx, ingest.Upload{VID: vid, Body: body, IdempotencyKey: r.header("Idempotency-Key")})
	if errors.Is(err, fleet.ErrNoVehicle) {
		// Only a vehicle uploads, and only as itself: an identity of a
		// vehicle not registered is refused, as the rule refuses it (the
		// spec has no 404 for the upload).
		return response{status: http.StatusForbidden, err: &authz.RefusalError{Reason: fmt.Sprintf("vehicle %s is not registered", vid)}, refused: true}
	}
	if err != nil {
		return errorResponse(err)
	}
	status := http.StatusCreated
	if !res.Created {
		// A retry: the stored event is the answer, as the first time.
		status = http.StatusOK
	}
	stored := res.Event
	return response{
		status:          status,
		samplesIngested: res.SamplesIngested(),
		body: eventSummary{VID: stored.VID, EID: stored.EID, Start: stored.Start, End: stored.End,
			SampleCount: len(stored.Samples), ReceivedAt: stored.ReceivedAt, ExpiresAt: stored.ExpiresAt},
		headers: map[string]string{"Location": "/vehicles/" + stored.VID + "/events/" + stored.EID},
	}
}

func (h *Handler) listEvents(ctx context.Context, r *request) response {
	vid := r.pathParam("vid")
	if err := fleet.ValidateVID("vid", vid); err != nil {
		return errorResponse(err)
	}
	q, err := r.query("from", "to", "limit", "cursor", "order")
	if err != nil {
		return errorResponse(err)
	}
	limit, err := parseLimit(q)
	if err != nil {
		return errorResponse(err)
	}
	from, err := parseTime(q, "from", r.now.Add(-h.cfg.EventRetention))
	if err != nil {
		return errorResponse(err)
	}
	to, err := parseTime(q, "to", r.now.Add(fleet.MaxClockSkew))
	if err != nil {
		return errorResponse(err)
	}
	// A range before the hot window reads nothing the table still holds:
	// say where those samples are rather than answer an empty page.
	_, fromGiven := q["from"]
	_, toGiven := q["to"]
	windowStart := r.now.Add(-h.cfg.EventRetention)
	for _, p := range []struct {
		field string
		t     time.Time
		given bool
	}{{"to", to, toGiven}, {"from", from, fromGiven}} {
		if p.given && p.t.Before(windowStart.Add(-hotWindowGrace)) {
			return errorResponse(&fleet.ValidationError{Field: p.field, Message: h.beforeHotWindow(p.t, windowStart)})
		}
	}
	if from.After(to) {
		return errorResponse(&fleet.ValidationError{Field: "from", Message: "must not be after to"})
	}
	newest := false
	switch q["order"] {
	case "", "asc":
	case "desc":
		newest = true
	default:
		return errorResponse(&fleet.ValidationError{Field: "order", Message: `must be "asc" (oldest first) or "desc" (newest first), got "` + truncate(q["order"]) + `"`})
	}
	page, err := h.cfg.Events.ListEvents(ctx, fleet.EventQuery{VID: vid, From: from, To: to, FromGiven: fromGiven, ToGiven: toGiven,
		Limit: limit, NewestFirst: newest, Cursor: q["cursor"]})
	if err != nil {
		return errorResponse(err)
	}
	return response{status: http.StatusOK, body: eventList{Events: page.Events, NextCursor: page.NextCursor}}
}

func (h *Handler) getEvent(ctx context.Context, r *request) response {
	vid, eid := r.pathParam("vid"), r.pathParam("eid")
	if err := fleet.ValidateVID("vid", vid); err != nil {
		return errorResponse(err)
	}
	if err := fleet.ValidateEID("eid", eid); err != nil {
		return errorResponse(err)
	}
	if _, err := r.query(); err != nil {
		return errorResponse(err)
	}
	e, err := h.cfg.Events.GetEvent(ctx, vid, eid)
	if errors.Is(err, fleet.ErrNotFound) {
		// An event of before the hot window is not here any more, or never
		// was: say where it would be.
		if start, ok := fleet.EIDTime(eid); ok && start.Before(r.now.Add(-h.cfg.EventRetention)) {
			return errorResponse(fmt.Errorf("event %q: %w: %s", eid, fleet.ErrNotFound, h.beforeHotWindow(start, r.now.Add(-h.cfg.EventRetention))))
		}
	}
	if err != nil {
		return errorResponse(err)
	}
	return response{status: http.StatusOK, body: e}
}

// hotWindowGrace lets a reader's clock run a minute ahead of the
// function's before a range counts as before the hot window.
const hotWindowGrace = time.Minute

// beforeHotWindow says that t is before the hot window and where the
// older samples are.
func (h *Handler) beforeHotWindow(t, windowStart time.Time) string {
	msg := fmt.Sprintf("%s is before the %d-day hot window of this API (it holds events since %s)",
		t.UTC().Format(time.RFC3339), int(h.cfg.EventRetention.Hours()/24), windowStart.UTC().Format(time.RFC3339))
	if h.cfg.History == "" {
		return msg + "; this stage keeps no history"
	}
	return msg + ": older samples are in the history, " + h.cfg.History + " (docs/history.md)"
}
