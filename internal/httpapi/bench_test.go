package httpapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/dynamostore"
)

// instantDB answers at once, as if the network and DynamoDB took no time:
// the vehicle exists and every put succeeds. It isolates the CPU cost of
// the upload path (decode, validate, encode, respond) in benchmarks.
type instantDB struct{ dynamostore.API }

func (instantDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{"vid": &types.AttributeValueMemberS{Value: "car-1"}}}, nil
}

func (instantDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	one := 1.0
	return &dynamodb.PutItemOutput{ConsumedCapacity: &types.ConsumedCapacity{CapacityUnits: &one}}, nil
}

// BenchmarkCreateEvent measures the talk's upload, 10 samples, through the
// ingest handler: "cpu" with an instant DynamoDB, "dynalite" with a real
// round trip to the local server.
func BenchmarkCreateEvent(b *testing.B) {
	body := uploadJSON(b, 1, testNow.Add(-time.Hour))
	run := func(b *testing.B, h *Handler) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for i := 0; b.Loop(); i++ {
			// A new key per call: each call stores a new event.
			ev := events.APIGatewayProxyRequest{
				HTTPMethod: "POST", Resource: "/vehicles/{vid}/events", Body: body,
				PathParameters: map[string]string{"vid": "car-1"},
				Headers:        map[string]string{"Content-Type": "application/json", "Idempotency-Key": fmt.Sprintf("bench-%d", i)},
			}
			resp, _ := h.Handle(context.Background(), ev)
			if resp.StatusCode != 201 {
				b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
		}
	}
	b.Run("cpu", func(b *testing.B) {
		store, err := dynamostore.New(instantDB{}, dynamostore.Tables{Vehicles: "v", Events: "e"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		run(b, newAPIWith(b, store, store).handlers[functionOf("POST", "/vehicles/{vid}/events")])
	})
	b.Run("dynalite", func(b *testing.B) {
		a := newAPI(b)
		a.do(call{method: "POST", path: "/vehicles", body: carJSON})
		run(b, a.handlers[functionOf("POST", "/vehicles/{vid}/events")])
	})
}
