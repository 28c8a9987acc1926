package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetapi/fleetapi/client"
)

// What each answer of createEvent makes of a batch: acknowledged (201,
// 200), set aside for good (the batch is what the API refuses), or kept and
// retried (anything that may pass later, a 403 among them); and the upload
// carries no Idempotency-Key, so that its event ID is the samples' hash.
func TestHTTPSUploaderReadsTheAnswers(t *testing.T) {
	var status int
	var key []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key = r.Header.Values("Idempotency-Key")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"code":"x","message":"m","requestId":"r"}}`))
	}))
	defer srv.Close()
	c, err := client.New(context.Background(), srv.URL, client.Options{Region: "eu-west-1", MaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	up, err := NewHTTPSUploader(c, "car-1")
	if err != nil {
		t.Fatal(err)
	}
	b := Batch{Seq: 1, Samples: samples(10, time.Now().Add(-time.Hour))}
	for _, tt := range []struct {
		status         int
		acked, setAway bool
	}{
		{201, true, false}, {200, true, false},
		{400, false, true}, {413, false, true}, {422, false, true},
		{403, false, false}, {429, false, false}, {500, false, false}, {503, false, false},
	} {
		status = tt.status
		err := up.Upload(context.Background(), b)
		var rejected *RejectedError
		if got := err == nil; got != tt.acked {
			t.Errorf("%d: acknowledged %v (%v), want %v", tt.status, got, err, tt.acked)
		}
		if got := errors.As(err, &rejected); got != tt.setAway {
			t.Errorf("%d: set aside %v (%v), want %v", tt.status, got, err, tt.setAway)
		}
		if len(key) != 0 {
			t.Errorf("%d: the upload sent Idempotency-Key %v", tt.status, key)
		}
	}
}

// invalidations counts what the uploader asks of its credentials cache.
type invalidations struct {
	aws.CredentialsProvider
	n int
}

func (i *invalidations) Invalidate() { i.n++ }

// On a 403 the uploader gets new credentials and sends the batch again,
// once; within the minute after, a 403 is the agent's to back off from.
func TestHTTPSUploaderRefreshesOnceAMinute(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":{"code":"Forbidden","message":"the request signature does not match"}}`))
	}))
	defer srv.Close()
	creds := &invalidations{CredentialsProvider: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}}}
	c, err := client.New(context.Background(), srv.URL, client.Options{Region: "eu-west-1", MaxAttempts: 1, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	up, err := NewHTTPSUploader(c, "car-1")
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	up.now = func() time.Time { return clock }
	up.RefreshingCredentials(creds)
	b := Batch{Seq: 1, Samples: samples(10, time.Now().Add(-time.Hour))}
	if err := up.Upload(context.Background(), b); err == nil || creds.n != 1 || calls != 2 {
		t.Errorf("first 403: %v, %d invalidations, %d calls; want an error after 1 and 2", err, creds.n, calls)
	}
	clock = clock.Add(30 * time.Second)
	if err := up.Upload(context.Background(), b); err == nil || creds.n != 1 || calls != 3 {
		t.Errorf("a 403 within the minute: %d invalidations, %d calls; want 1 and 3", creds.n, calls)
	}
	clock = clock.Add(31 * time.Second)
	if err := up.Upload(context.Background(), b); err == nil || creds.n != 2 || calls != 5 {
		t.Errorf("a 403 a minute later: %d invalidations, %d calls; want 2 and 5", creds.n, calls)
	}
}
