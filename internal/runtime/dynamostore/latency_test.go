package dynamostore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/local/dynalite"
)

// BenchmarkStoreCallLatency measures the store calls of an upload and of a
// vehicle read against the local DynamoDB-compatible server, with the
// clients' bounds (BoundedAttempts): p50 and p99 per call, which
// AttemptTimeout must stay far above (make bench records them in
// docs/performance.md). The local server is slower than DynamoDB in the
// Region; the figures bound the code's path, not the network's.
func BenchmarkStoreCallLatency(b *testing.B) {
	tables := dynalite.NewTables(b, db)
	s, err := New(dynamodb.New(db.Options(), BoundedAttempts), Tables{Vehicles: tables.Vehicles, Events: tables.Events}, testKey)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.CreateVehicle(ctx, newVehicle("car-1"), now); err != nil {
		b.Fatal(err)
	}
	for _, call := range []struct {
		name string
		do   func(i int) error
	}{
		{"PutEvent", func(i int) error {
			_, err := s.PutEvent(ctx, upload(b, "car-1", now.Add(-time.Duration(i+1)*time.Minute), ""))
			return err
		}},
		{"GetVehicle", func(int) error { _, err := s.GetVehicle(ctx, "car-1"); return err }},
	} {
		b.Run(call.name, func(b *testing.B) {
			took := make([]time.Duration, 0, b.N)
			for i := range b.N {
				start := time.Now()
				if err := call.do(i); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			p := func(q float64) time.Duration { return took[min(len(took)-1, int(q*float64(len(took))))] }
			b.ReportMetric(float64(p(0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
			if b.N >= 100 {
				b.Logf("%s: p50 %v, p99 %v over %d calls; an attempt is abandoned after %v", call.name, p(0.5), p(0.99), b.N, AttemptTimeout)
			}
		})
	}
}
