package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetapi/fleetapi/client"
)

// HTTPSUploader posts batches to the REST API as createEvent, with a
// client that signs as the vehicle (client.NewVehicleCredentials).
type HTTPSUploader struct {
	c   *client.ClientWithResponses
	vid string
}

// NewHTTPSUploader uploads vehicle vid's batches with c.
func NewHTTPSUploader(c *client.ClientWithResponses, vid string) (*HTTPSUploader, error) {
	if c == nil || vid == "" {
		return nil, errors.New("agent: HTTPS needs a client and the vid")
	}
	return &HTTPSUploader{c: c, vid: vid}, nil
}

// Upload posts b without an Idempotency-Key: the event's ID is then the
// hash of its samples, the same a batch sent over MQTT gets, so a batch
// sent again (by this path or the other) is stored once.
func (u *HTTPSUploader) Upload(ctx context.Context, b Batch) error {
	res, err := u.c.CreateEventWithResponse(ctx, u.vid, &client.CreateEventParams{}, client.CreateEventJSONRequestBody{Samples: b.Samples})
	if err != nil {
		return fmt.Errorf("upload batch %d: %w", b.Seq, err)
	}
	switch s := res.StatusCode(); s {
	case http.StatusCreated, http.StatusOK:
		return nil
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		// The batch itself is what the API refuses: no retry stores it.
		return &RejectedError{Status: s, Reason: fmt.Sprintf("%.500s", res.Body)}
	default:
		// Everything else may pass later: a 403 of a clock too far off
		// or of a certificate not yet attached, a 429, a 5xx.
		return fmt.Errorf("upload batch %d: %s %.200s", b.Seq, res.Status(), res.Body)
	}
}

// Close does nothing: the client's connections are its own.
func (u *HTTPSUploader) Close() error { return nil }
