package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/runtime/ingest"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// invocation is any event a function is invoked with: API Gateway's proxy
// event or the upload rule's, whose members do not overlap, decoded once.
type invocation struct {
	events.APIGatewayProxyRequest
	contract.RuleEvent
}

// Invoke serves one invocation of the function, Lambda's raw handler:
// an API Gateway proxy event answers with a proxy response; an upload
// rule's event with nothing, or with an error that sends it on the failure
// path (Lambda retries an asynchronous invocation, then hands it to the
// function's on-failure destination with the error's message).
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev invocation
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("the invocation is not an API Gateway proxy event or an upload rule's: %w", err)
	}
	switch {
	case ev.Source == contract.RuleEventSource:
		return nil, h.HandleRule(ctx, ev.RuleEvent)
	case ev.HTTPMethod != "":
		resp, _ := h.Handle(ctx, ev.APIGatewayProxyRequest)
		return json.Marshal(resp)
	}
	return nil, errors.New("the invocation is not an API Gateway proxy event or an upload rule's")
}

// HandleRule is the upload rule's adapter of the ingest service: a
// message a vehicle published over MQTT is stored as an upload over HTTPS
// is (the same service, so the same validation, event ID and idempotent
// put), its vid from the topic alone (the upload body has none), from the
// connected thing's own topic only. nil: stored, now or before; an error
// sends the message on the failure path (Lambda retries the asynchronous
// invocation, then hands it to the failure queue with the error's
// message), saying whether a retry can store it (ErrRetry).
func (h *Handler) HandleRule(ctx context.Context, ev contract.RuleEvent) error {
	if h.ingest == nil {
		return fmt.Errorf("upload on %s not served: this function serves no uploads", ev.Topic)
	}
	start := time.Now()
	log := h.cfg.Logger.With("source", "mqtt", "vid", truncate(ev.VID))
	res, err := h.ruleUpload(ctx, ev)
	var refusal *authz.RefusalError
	outcome := "stored"
	switch {
	case err == nil && !res.Created:
		outcome = "stored before" // a redelivery
	case errors.Is(err, ErrRetry):
		outcome = contract.UploadNotStored
	case errors.As(err, &refusal):
		outcome = contract.UploadRefused
	case err != nil:
		outcome = contract.UploadInvalid
	}
	h.logRule(ctx, log, ev, start, outcome, res.SamplesIngested(), refusal != nil, err)
	if err != nil {
		return contract.UploadFailure(ev.Topic, outcome, err)
	}
	return nil
}

// ErrRetry marks the failure of an upload rule's event that a later
// attempt may store: the store did not answer, or failed. Any other is
// the message's own (invalid, too large, not its thing's): it is kept
// for a person to look at.
var ErrRetry = errors.New("a retry may store it")

// retryable is a failure a retry may undo; it reads as its cause.
type retryable struct{ error }

func (r retryable) Unwrap() []error { return []error{ErrRetry, r.error} }

// ruleUpload translates the rule's event into the service's upload and
// stores it.
func (h *Handler) ruleUpload(ctx context.Context, ev contract.RuleEvent) (ingest.Stored, error) {
	vid, ok := contract.ParseUploadTopic(ev.Topic)
	if !ok || vid != ev.VID {
		return ingest.Stored{}, &fleet.ValidationError{Field: "topic", Message: fmt.Sprintf("must be %s, got %q", contract.UploadTopic("VID"), truncate(ev.Topic))}
	}
	// The vehicles' IoT policy lets a thing connect with its own name as
	// client ID and publish to its own topic only; should a message of
	// another ever arrive, it is refused here too.
	if ev.ClientID != vid {
		return ingest.Stored{}, &authz.RefusalError{Reason: fmt.Sprintf("client %q may not upload for vehicle %s", truncate(ev.ClientID), truncate(vid))}
	}
	payload, err := boundedBody("payload", ev.Payload, true)
	if err != nil {
		return ingest.Stored{}, err
	}
	if contract.IsGzip(payload) {
		// An agent's compressed upload: inflated within the body's limit.
		payload, err = contract.InflateUpload(payload, MaxBodyBytes)
		switch {
		case errors.Is(err, contract.ErrInflatedTooLarge):
			return ingest.Stored{}, fmt.Errorf("%w: payload %w", errTooLarge, err)
		case err != nil:
			return ingest.Stored{}, &fleet.ValidationError{Field: "payload", Message: "is " + err.Error()}
		}
	}
	var body fleet.Upload
	if err := decodeStrict(payload, &body); err != nil {
		return ingest.Stored{}, err
	}
	storeCtx, cancel := h.storeContext(ctx)
	defer cancel()
	res, err := h.ingest.Store(storeCtx, ingest.Upload{VID: vid, Body: body})
	switch {
	case errors.Is(err, fleet.ErrNoVehicle):
		return res, &authz.RefusalError{Reason: fmt.Sprintf("vehicle %s is not registered", vid)}
	case errors.Is(err, fleet.ErrInvalid), errors.Is(err, fleet.ErrConflict):
		return res, err
	case err != nil:
		return res, retryable{err}
	}
	return res, nil
}

// logRule writes the rule's event's one log line, with its metric: the
// samples stored (read by the metric filter), or a refusal (embedded). A
// stored upload's line is the stage's most frequent: the topic and the
// client are the vid's, checked, and only a failure's line names them.
func (h *Handler) logRule(ctx context.Context, log *slog.Logger, ev contract.RuleEvent, start time.Time, outcome string, ingested int, refused bool, err error) {
	attrs := []any{"outcome", outcome, "durationMs", time.Since(start).Milliseconds()}
	switch {
	case ingested > 0:
		attrs = append(attrs, metrics.SamplesIngested, ingested)
	case refused:
		attrs = append(attrs, h.embeddedMetric(start, metrics.AccessRefused, 1)...)
	}
	if err != nil {
		attrs = append(attrs, "topic", truncate(ev.Topic), "clientId", truncate(ev.ClientID), "error", err.Error())
	}
	switch {
	case errors.Is(err, ErrRetry):
		log.ErrorContext(ctx, "upload not stored", attrs...)
	case err != nil:
		log.InfoContext(ctx, "upload refused", attrs...)
	default:
		log.InfoContext(ctx, "upload stored", attrs...)
	}
}
