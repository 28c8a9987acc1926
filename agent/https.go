package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fleetapi/fleetapi/client"
)

// HTTPSUploader posts batches to the REST API as createEvent, with a
// client that signs as the vehicle (client.NewVehicleCredentials).
type HTTPSUploader struct {
	c   *client.ClientWithResponses
	vid string
	// credentials are invalidated once after a 403 (RefreshingCredentials).
	credentials interface{ Invalidate() }
	now         func() time.Time
	mu          sync.Mutex
	refreshed   time.Time
}

// refreshEvery bounds how often a 403 gets the vehicle new credentials.
const refreshEvery = time.Minute

// NewHTTPSUploader uploads vehicle vid's batches with c.
func NewHTTPSUploader(c *client.ClientWithResponses, vid string) (*HTTPSUploader, error) {
	if c == nil || vid == "" {
		return nil, errors.New("agent: HTTPS needs a client and the vid")
	}
	return &HTTPSUploader{c: c, vid: vid, now: time.Now}, nil
}

// RefreshingCredentials makes u get the vehicle new credentials from
// creds (the cache client.NewVehicleCredentials returns) once after the
// API refuses an upload with 403, and send it again at once: a session
// can stop being valid before it expires (its sessions revoked, the local
// stand-ins restarted), and the cached credentials would otherwise be
// refused until shortly before their expiry, up to an hour. At most once
// a minute: a 403 that new credentials do not lift (a vehicle not
// registered, a clock far off) waits for the agent's backoff. creds
// without an Invalidate method change nothing.
func (u *HTTPSUploader) RefreshingCredentials(creds aws.CredentialsProvider) *HTTPSUploader {
	if c, ok := creds.(interface{ Invalidate() }); ok {
		u.credentials = c
	}
	return u
}

// refresh invalidates the credentials, unless it did within refreshEvery.
func (u *HTTPSUploader) refresh() bool {
	if u.credentials == nil {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if now := u.now(); u.refreshed.IsZero() || now.Sub(u.refreshed) >= refreshEvery {
		u.refreshed = now
		u.credentials.Invalidate()
		return true
	}
	return false
}

// Upload posts b without an Idempotency-Key: the event's ID is then the
// hash of its samples, the same a batch sent over MQTT gets, so a batch
// sent again (by this path or the other) is stored once.
func (u *HTTPSUploader) Upload(ctx context.Context, b Batch) error {
	res, err := u.c.CreateEventWithResponse(ctx, u.vid, &client.CreateEventParams{}, client.CreateEventJSONRequestBody{Samples: b.Samples})
	if err == nil && res.StatusCode() == http.StatusForbidden && u.refresh() {
		res, err = u.c.CreateEventWithResponse(ctx, u.vid, &client.CreateEventParams{}, client.CreateEventJSONRequestBody{Samples: b.Samples})
	}
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
