package dynamostore

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/testutil/faultnet"
)

// An unreachable DynamoDB is "retry later" for every call of a warm
// function, also once the SDK's client-wide retry quota is spent and it
// stops retrying before MaxAttempts: the SDK's default bucket holds 500
// tokens at 5 a retry, so an outage drains it after about a hundred failed
// calls. Here a bucket of 10 tokens is drained by the second call.
func TestUnreachableStoreIsUnavailableAfterTheRetryQuota(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(faultnet.Refusing(t)),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.RateLimiter = ratelimit.NewTokenRateLimit(10)
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	s, err := New(client, Tables{Vehicles: "vehicles", Events: "events"}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	var quotaSpent bool
	for i := range 4 {
		_, err := s.GetVehicle(context.Background(), "car-1")
		if !errors.Is(err, fleet.ErrUnavailable) {
			t.Errorf("call %d: %v, want fleet.ErrUnavailable", i, err)
		}
		var q ratelimit.QuotaExceededError
		quotaSpent = quotaSpent || errors.As(err, &q)
	}
	if !quotaSpent {
		t.Error("no call ran out of retry quota: the test does not cover what it is named after")
	}
}

// A DynamoDB that accepts connections and never answers: each attempt is
// abandoned after AttemptTimeout and retried, MaxAttempts in all, and the
// call gives up "retry later" within CallBudget, whatever the caller's
// deadline.
func TestHungStoreGivesUpWithinTheCallBudget(t *testing.T) {
	hung, accepted := countingHungEndpoint(t)
	client := dynamodb.New(dynamodb.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(hung),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, BoundedAttempts)
	s, err := New(client, Tables{Vehicles: "vehicles", Events: "events"}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = s.GetVehicle(ctx, "car-1")
	took := time.Since(start)
	var attempts *retry.MaxAttemptsError
	if !errors.Is(err, fleet.ErrUnavailable) || !errors.As(err, &attempts) || attempts.Attempt != MaxAttempts {
		t.Errorf("%v, want fleet.ErrUnavailable after %d attempts", err, MaxAttempts)
	}
	if n := accepted(); n != MaxAttempts {
		t.Errorf("%d connections, want one per attempt (%d)", n, MaxAttempts)
	}
	if took < MaxAttempts*AttemptTimeout || took > CallBudget+200*time.Millisecond {
		t.Errorf("gave up after %v, want %d attempts of %v (at least %v, at most %v and scheduling)", took, MaxAttempts, AttemptTimeout, MaxAttempts*AttemptTimeout, CallBudget)
	}
	t.Logf("hung DynamoDB: gave up after %v (%d attempts of %v; budget %v)", took.Round(time.Millisecond), MaxAttempts, AttemptTimeout, CallBudget)
}

// countingHungEndpoint is an endpoint on 127.0.0.1 that accepts
// connections, reads what comes and never answers, counting connections.
func countingHungEndpoint(t *testing.T) (string, func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() { _, _ = io.Copy(io.Discard, c) }()
			t.Cleanup(func() { c.Close() })
		}
	}()
	t.Cleanup(func() { l.Close() })
	return "http://" + l.Addr().String(), func() int { return int(n.Load()) }
}
