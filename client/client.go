// Package client is the Go client of the FleetApi, for vehicles and
// backend services: the operations of api/swagger.yaml (generated.go, by
// oapi-codegen), every request signed with SigV4 for execute-api, and
// retried with backoff and jitter on 429, 503 and network errors,
// honouring Retry-After. A vehicle signs with the credentials its own
// certificate gets it (NewVehicleCredentials).
package client

//go:generate go tool -modfile=../tools/go.mod oapi-codegen -config oapi-codegen.yaml ../api/swagger.yaml

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Options configure New. A zero field takes its default.
type Options struct {
	// Credentials sign the requests. Default: the SDK's default chain
	// (environment, shared files, IAM role).
	Credentials aws.CredentialsProvider
	// Region of the API. Default: from the URL (*.execute-api.REGION.amazonaws.com),
	// else the SDK's default configuration.
	Region string
	// HTTPClient sends the requests. Default: http.DefaultClient.
	HTTPClient *http.Client
	// MaxAttempts of one request, the first included. Default: 5.
	MaxAttempts int
	// BaseDelay and MaxDelay bound the exponential backoff with full jitter
	// between attempts; MaxDelay bounds Retry-After's wait too. Default:
	// 100 ms, 5 s.
	BaseDelay, MaxDelay time.Duration
	// OnRetry, when set, is called before each retry (Transport.OnRetry).
	OnRetry func(status int)
}

// New returns a client of the API at server (the stage's URL, or the
// local API's) whose requests are signed and retried.
func New(ctx context.Context, server string, o Options) (*ClientWithResponses, error) {
	if o.Credentials == nil || o.Region == "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		if o.Credentials == nil {
			o.Credentials = cfg.Credentials
		}
		if o.Region == "" {
			o.Region = cmp.Or(RegionOf(server), cfg.Region)
		}
	}
	if o.Region == "" {
		return nil, errors.New("no AWS Region: set Options.Region or AWS_REGION")
	}
	t := &Transport{Credentials: o.Credentials, Region: o.Region,
		MaxAttempts: o.MaxAttempts, BaseDelay: o.BaseDelay, MaxDelay: o.MaxDelay, OnRetry: o.OnRetry}
	hc := &http.Client{Transport: t}
	if o.HTTPClient != nil {
		t.Base, hc.Timeout = o.HTTPClient.Transport, o.HTTPClient.Timeout // a nil Base is http.DefaultTransport
	}
	return NewClientWithResponses(server, WithHTTPClient(hc))
}

// RegionOf reads the Region of an execute-api URL, "" for another.
func RegionOf(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 5 && parts[1] == "execute-api" {
		return parts[2]
	}
	return ""
}

// Transport signs each request with SigV4 for execute-api and retries it:
// on 429 (the gateway's throttle: the request was not served) any request;
// after a network error or a 503, whose request may have been served, only
// a request that is safe to repeat (Repeatable). Each attempt is signed
// anew; its headers (an Idempotency-Key among them) stay the same.
type Transport struct {
	Credentials aws.CredentialsProvider
	Region      string
	Base        http.RoundTripper
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	// Sleep waits between attempts. Default: a timer that ctx cancels.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, when set, is called before each retry with the answer's
	// status (0 for a network error).
	OnRetry func(status int)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	attempts := max(t.MaxAttempts, 1)
	if t.MaxAttempts == 0 {
		attempts = 5
	}
	signer := v4.NewSigner()
	for attempt := 1; ; attempt++ {
		creds, err := t.Credentials.Retrieve(req.Context())
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		r := req.Clone(req.Context())
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.Header.Del("Authorization")
		r.Header.Del("X-Amz-Date")
		if err := signer.SignHTTP(req.Context(), creds, r, hash, "execute-api", t.Region, time.Now()); err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		resp, err := t.base().RoundTrip(r)
		retry := err == nil && resp.StatusCode == http.StatusTooManyRequests ||
			(err != nil || resp.StatusCode == http.StatusServiceUnavailable) && Repeatable(req)
		if !retry || attempt >= attempts || req.Context().Err() != nil {
			return resp, err
		}
		delay := t.backoff(attempt)
		if t.OnRetry != nil {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.OnRetry(status)
		}
		if resp != nil {
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
				delay = min(time.Duration(min(s, 1<<20))*time.Second, t.maxDelay())
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err := t.sleep(req.Context(), delay); err != nil {
			return nil, err
		}
	}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// Repeatable reports whether a request may be sent again when it is not
// known whether the first was served: a GET, HEAD or OPTIONS; a PUT with
// If-Match (the second finds the version changed: 412); a request with an
// Idempotency-Key (the API answers a repeat with what the first stored).
func Repeatable(req *http.Request) bool {
	switch {
	case req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions:
		return true
	case req.Method == http.MethodPut && req.Header.Get("If-Match") != "":
		return true
	}
	return req.Header.Get("Idempotency-Key") != ""
}

// maxDelay is MaxDelay, default 5 s: the longest wait between attempts,
// Retry-After's too.
func (t *Transport) maxDelay() time.Duration {
	if t.MaxDelay <= 0 {
		return 5 * time.Second
	}
	return t.MaxDelay
}

// backoff is a random delay up to BaseDelay × 2^(attempt-1), at most MaxDelay.
func (t *Transport) backoff(attempt int) time.Duration {
	base, ceiling := t.BaseDelay, t.maxDelay()
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	limit := min(base<<min(attempt-1, 30), ceiling)
	n, err := rand.Int(rand.Reader, big.NewInt(int64(limit)+1))
	if err != nil {
		return limit
	}
	return time.Duration(n.Int64())
}

func (t *Transport) sleep(ctx context.Context, d time.Duration) error {
	if t.Sleep != nil {
		return t.Sleep(ctx, d)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newKey is a random Idempotency-Key.
func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RegisterVehicle creates a vehicle. key is the create's Idempotency-Key,
// sent with every attempt, so that the transport may retry it after a
// network error and a create stored by an earlier attempt answers 200
// with that vehicle, not 409; "" makes a random one. The answer is 201
// when created, 200 for a retry, 409 when the vid exists otherwise.
func RegisterVehicle(ctx context.Context, c *ClientWithResponses, v NewVehicle, key string) (*CreateVehicleResponse, error) {
	if key == "" {
		key = newKey()
	}
	return c.CreateVehicleWithResponse(ctx, &CreateVehicleParams{IdempotencyKey: &key}, v)
}

// UploadSamples stores samples as one event of vehicle vid. key is the upload's
// Idempotency-Key, sent with every attempt, so that a retried upload is
// stored once; "" makes a random one. The answer is 201 when stored, 200
// when an earlier attempt stored it.
func UploadSamples(ctx context.Context, c *ClientWithResponses, vid string, samples []Sample, key string) (*CreateEventResponse, error) {
	if key == "" {
		key = newKey()
	}
	return c.CreateEventWithResponse(ctx, vid, &CreateEventParams{IdempotencyKey: &key}, CreateEventJSONRequestBody{Samples: samples})
}
