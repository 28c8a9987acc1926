package dynamostore

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// The bounds of every DynamoDB call. A call of ours takes a few
// milliseconds in the Region (DynamoDB's single-digit-millisecond reads
// and writes; the functions' latency model assumes 4 ms a round trip, and
// the p99 against the local DynamoDB-compatible server is measured by
// TestStoreCallLatency), so an attempt that has not answered in
// AttemptTimeout, a hundred times that, is lost: it is abandoned and
// retried, up to MaxAttempts, with at most MaxBackoff between attempts.
// A call gives up after CallBudget at most, and a DynamoDB that accepts
// and never answers costs a function that long, not its timeout.
const (
	AttemptTimeout = 400 * time.Millisecond
	MaxAttempts    = 3
	MaxBackoff     = 100 * time.Millisecond
	CallBudget     = MaxAttempts*AttemptTimeout + (MaxAttempts-1)*MaxBackoff
)

// BoundedAttempts is the client option that applies these bounds: each
// attempt is one HTTP request of a client with AttemptTimeout, and the
// SDK's standard retryer (its retry quota included) retries what it may,
// a timed-out attempt among them.
func BoundedAttempts(o *dynamodb.Options) {
	o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(AttemptTimeout)
	o.Retryer = retry.NewStandard(func(s *retry.StandardOptions) {
		s.MaxAttempts = MaxAttempts
		s.MaxBackoff = MaxBackoff
	})
}
