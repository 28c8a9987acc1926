package httpapi

import (
	"context"
	stdjson "encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
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
			// Signed by the vehicle itself, as uploads come.
			ev := signedBy(vehicleCaller("car-1"), events.APIGatewayProxyRequest{
				HTTPMethod: "POST", Resource: "/vehicles/{vid}/events", Body: body,
				PathParameters: map[string]string{"vid": "car-1"},
				Headers:        map[string]string{"Content-Type": "application/json", "Idempotency-Key": fmt.Sprintf("bench-%d", i)},
			})
			resp, _ := h.Handle(context.Background(), ev)
			if resp.StatusCode != 201 {
				b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
		}
	}
	b.Run("cpu", func(b *testing.B) {
		store, err := dynamostore.New(instantDB{}, dynamostore.Tables{Vehicles: "v", Events: "e", State: "s"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		// The anchor, in the same run: a plain encoding/json decode of the
		// same body into the same type. The ratio to it holds across
		// machines where nanoseconds do not.
		// (testing.Benchmark cannot run inside a benchmark: it is timed by
		// hand, before b.Loop starts the benchmark's own timer.)
		decode := func() {
			var up fleet.Upload
			if err := stdjson.Unmarshal([]byte(body), &up); err != nil {
				b.Fatal(err)
			}
		}
		before := anchorNsPerOp(b, decode)
		run(b, newAPIWith(b, store).handlers[functionOf("POST", "/vehicles/{vid}/events")])
		elapsed := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		// Timed before and after, so that a change of the machine's pace
		// during the run falls on both sides of the ratio.
		b.ReportMetric(elapsed/((before+anchorNsPerOp(b, decode))/2), "x-json")
	})
	b.Run("sdk", func(b *testing.B) {
		// The SDK's own work too (marshalling, signing, HTTP), against a
		// stand-in that answers at once: the function's CPU per upload,
		// an upper bound (the stand-in runs in this process).
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			switch r.Header.Get("X-Amz-Target") {
			case "DynamoDB_20120810.GetItem":
				io.WriteString(w, `{"Item":{"vid":{"S":"car-1"}}}`)
			case "DynamoDB_20120810.PutItem":
				io.WriteString(w, `{"ConsumedCapacity":{"TableName":"e","CapacityUnits":1}}`)
			default:
				http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			}
		}))
		defer srv.Close()
		client := dynamodb.New(dynamodb.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
		store, err := dynamostore.New(client, dynamostore.Tables{Vehicles: "v", Events: "e", State: "s"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		run(b, newAPIWith(b, store).handlers[functionOf("POST", "/vehicles/{vid}/events")])
	})
	b.Run("dynalite", func(b *testing.B) {
		a := newAPI(b)
		a.do(call{method: "POST", path: "/vehicles", body: carJSON})
		run(b, a.handlers[functionOf("POST", "/vehicles/{vid}/events")])
	})
}

// anchorNsPerOp times f over at least 500 ms, after a warm-up.
func anchorNsPerOp(b *testing.B, f func()) float64 {
	b.Helper()
	for range 100 {
		f()
	}
	n, start := 0, time.Now()
	for ; time.Since(start) < 500*time.Millisecond; n++ {
		f()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// recordedDB answers reads with the items it recorded from writes, at once:
// the CPU cost of the read paths with real stored items.
type recordedDB struct {
	instantDB
	vehicle map[string]types.AttributeValue
	events  []map[string]types.AttributeValue
}

func (r *recordedDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, event := in.Item["eid"]; event {
		r.events = append(r.events, in.Item)
	} else {
		r.vehicle = in.Item
	}
	one := 1.0
	return &dynamodb.PutItemOutput{ConsumedCapacity: &types.ConsumedCapacity{CapacityUnits: &one}}, nil
}

func (r *recordedDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: r.vehicle}, nil
}

func (r *recordedDB) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{Items: r.events[:min(len(r.events), int(*in.Limit))]}, nil
}

// BenchmarkReads measures a vehicle read and a page of 100 of the talk's
// events (10 samples each) through their handlers, with an instant
// DynamoDB answering the items the store wrote.
func BenchmarkReads(b *testing.B) {
	db := &recordedDB{}
	store, err := dynamostore.New(db, dynamostore.Tables{Vehicles: "v", Events: "e", State: "s"}, testKey)
	if err != nil {
		b.Fatal(err)
	}
	a := newAPIWith(b, store)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	drive := workload.NewDrive(1, testNow.Add(-2*time.Hour))
	for range 101 {
		a.do(call{method: "POST", path: "/vehicles/car-1/events", body: jsonBody(b, drive.Upload(workload.SamplesPerUpload))})
	}
	if len(db.events) != 101 {
		b.Fatalf("%d events stored, want 101", len(db.events))
	}
	for _, bench := range []struct {
		name, resource, path string
		query                map[string]string
	}{
		{"getVehicle", "/vehicles/{vid}", "/vehicles/car-1", nil},
		{"listEvents-100", "/vehicles/{vid}/events", "/vehicles/car-1/events", map[string]string{"limit": "100"}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			h := a.handlers[functionOf("GET", bench.resource)]
			ev := signedBy(testFleetCaller, events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: bench.resource, Path: bench.path,
				PathParameters: map[string]string{"vid": "car-1"}, QueryStringParameters: bench.query})
			b.ReportAllocs()
			for b.Loop() {
				if resp, _ := h.Handle(context.Background(), ev); resp.StatusCode != 200 {
					b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
				}
			}
		})
	}
}
