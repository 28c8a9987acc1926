package dynamostore

import (
	"context"
	"errors"
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
