package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/testutil/faultnet"
)

// Every function bounds its DynamoDB calls by a deadline derived from the
// invocation's own, leaving time to answer: a DynamoDB that never answers,
// or refuses, gets a 503 with Retry-After before the invocation ends,
// never a hang until the function's timeout.
func TestUnansweredStoreIsA503BeforeTheDeadline(t *testing.T) {
	for name, endpoint := range map[string]string{"hung": faultnet.Hung(t), "refused": faultnet.Refusing(t)} {
		t.Run(name, func(t *testing.T) {
			db := dynamodb.New(dynamodb.Options{
				Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
				Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
			})
			store, err := dynamostore.New(db, dynamostore.Tables{Vehicles: "vehicles", Events: "events"}, testKey)
			if err != nil {
				t.Fatal(err)
			}
			h, err := New(Config{Routes: routesOf("ingest"), Callers: testCallers, Events: store, Vehicles: store, EventRetention: testRetention, Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			const budget = 1500 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			start := time.Now()
			resp, _ := h.Handle(ctx, signedBy(vehicleCaller("car-1"), events.APIGatewayProxyRequest{
				HTTPMethod: "POST", Resource: "/vehicles/{vid}/events", PathParameters: map[string]string{"vid": "car-1"},
				Headers: map[string]string{"Content-Type": "application/json"}, Body: uploadJSON(t, 1, testNow.Add(-time.Hour)),
				RequestContext: events.APIGatewayProxyRequestContext{OperationName: "createEvent", RequestID: "r1"},
			}))
			took := time.Since(start)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" {
				t.Errorf("got %d %v %s, want 503 with Retry-After", resp.StatusCode, resp.Headers, resp.Body)
			}
			if took >= budget {
				t.Errorf("answered after %v, past the invocation's deadline of %v", took, budget)
			}
			t.Logf("%s DynamoDB: %d after %v of %v", name, resp.StatusCode, took.Round(time.Millisecond), budget)

			// The same upload as the upload rule's event: an error a retry
			// may undo, before the deadline too.
			ctx, cancel = context.WithTimeout(context.Background(), budget)
			defer cancel()
			start = time.Now()
			err = h.HandleRule(ctx, ruleEvent("car-1", uploadJSON(t, 1, testNow.Add(-time.Hour))))
			if !errors.Is(err, ErrRetry) || !strings.Contains(err.Error(), "not stored: ") {
				t.Errorf("the rule's event: %v, want an error marked for a retry", err)
			}
			if took := time.Since(start); took >= budget {
				t.Errorf("the rule's event failed after %v, past the invocation's deadline of %v", took, budget)
			}
		})
	}
}
