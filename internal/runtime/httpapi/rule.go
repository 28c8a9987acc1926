package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
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

// HandleRule stores an upload a vehicle published over MQTT, as createEvent
// stores one over HTTPS: the same strict decoding and validation, the
// vid from the topic alone (the upload body has none), the connected
// thing's own topic only, the idempotent conditional put (a redelivered
// message stores nothing twice), the embedded metric and the log line,
// with the status the REST path would answer. nil: stored, now or before.
func (h *Handler) HandleRule(ctx context.Context, ev contract.RuleEvent) (err error) {
	start := time.Now()
	log := h.cfg.Logger.With("source", "mqtt", "topic", ev.Topic, "clientId", ev.ClientID)
	res := h.ruleUpload(ctx, ev)
	h.logOutcome(ctx, log, start, res.status, res)
	if res.err != nil {
		return fmt.Errorf("upload on %s not stored (%d): %w", ev.Topic, res.status, res.err)
	}
	return nil
}

func (h *Handler) ruleUpload(ctx context.Context, ev contract.RuleEvent) response {
	if _, ok := h.byOperation["createEvent"]; !ok {
		return response{status: http.StatusNotFound, err: errors.New("this function does not serve uploads")}
	}
	vid, ok := contract.ParseUploadTopic(ev.Topic)
	if !ok || vid != ev.VID {
		return errorResponse(&fleet.ValidationError{Field: "topic", Message: fmt.Sprintf("must be %s, got %q", contract.UploadTopic("VID"), truncate(ev.Topic))})
	}
	if err := fleet.ValidateVID("vid", vid); err != nil {
		return errorResponse(err)
	}
	// The vehicles' IoT policy lets a thing connect with its own name as
	// client ID and publish to its own topic only; should a message of
	// another ever arrive, it is refused here too.
	if ev.ClientID != vid {
		return response{status: http.StatusForbidden, refused: true,
			err: &authz.RefusalError{Reason: fmt.Sprintf("client %q may not upload for vehicle %s", truncate(ev.ClientID), vid)}}
	}
	body, err := boundedBody("payload", ev.Payload, true)
	if err != nil {
		return errorResponse(err)
	}
	var up fleet.Upload
	if err := decodeStrict(body, &up); err != nil {
		return errorResponse(err)
	}
	e, err := fleet.NewEvent(vid, up, "", h.cfg.Now(), h.cfg.EventRetention)
	if err != nil {
		return errorResponse(err)
	}
	storeCtx, cancel := h.storeContext(ctx)
	defer cancel()
	res, err := h.cfg.Events.PutEvent(storeCtx, e)
	switch {
	case errors.Is(err, fleet.ErrNoVehicle):
		return response{status: http.StatusForbidden, refused: true, err: &authz.RefusalError{Reason: fmt.Sprintf("vehicle %s is not registered", vid)}}
	case err != nil:
		return errorResponse(err)
	case !res.Created:
		return response{status: http.StatusOK} // a redelivery: stored before
	}
	return response{status: http.StatusCreated, samplesIngested: len(res.Event.Samples)}
}
