package localathena

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/localhistory"
	"github.com/fleetapi/fleetapi/internal/runtime/history"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// BenchmarkQueryScans writes a fleet's day as the history writer does
// (vehicles driving two 20-minute trips, the talk's uploads, in stream
// batches of 5 minutes on 4 shards) and reports what a query of one
// vehicle's day, of the fleet's hour and of the fleet's day read of it,
// as DuckDB counts its bytes: the figures docs/history.md gives.
//
//	go test -run '^$' -bench BenchmarkQueryScans -benchtime 1x ./internal/local/localathena
func BenchmarkQueryScans(b *testing.B) {
	const vehicles, shards = 200, 4
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	dir := b.TempDir()
	decoder := byEventID{}
	w := &history.Writer{Objects: localhistory.Dir{Root: dir}, Failures: noFailures{}, Decoder: decoder, Prefix: "samples"}
	// Each shard's batches: the uploads stored in each 5-minute window.
	type key struct {
		shard  int
		window int64
	}
	batches := map[key][]fleet.Event{}
	samples := 0
	for v := range vehicles {
		vid := fmt.Sprintf("car-%05d", v)
		// Trips at 07:xx and 17:xx, spread over the hour by vehicle.
		for trip, hour := range []int{7, 17} {
			d := workload.NewDrive(uint64(v*2+trip+1), day.Add(time.Duration(hour)*time.Hour+time.Duration(v%40)*time.Minute))
			for range 120 {
				up := d.Upload(workload.SamplesPerUpload)
				received := up.Samples[len(up.Samples)-1].Timestamp.Add(2 * time.Second)
				e, err := fleet.NewEvent(vid, up, "", received, 30*24*time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				decoder[e.EID] = e
				k := key{v % shards, received.Unix() / 300}
				batches[k] = append(batches[k], e)
				samples += len(up.Samples)
			}
		}
	}
	began := time.Now()
	rows := 0
	for k, evs := range batches {
		var records []events.DynamoDBEventRecord
		for _, e := range evs {
			records = append(records, events.DynamoDBEventRecord{EventID: fmt.Sprintf("%d-%d-%s", k.shard, k.window, e.EID), EventName: "INSERT",
				Change: events.DynamoDBStreamRecord{NewImage: map[string]events.DynamoDBAttributeValue{"eid": events.NewStringAttribute(e.EID)}}})
		}
		got, err := w.HandleStream(context.Background(), events.DynamoDBEvent{Records: records})
		if err != nil {
			b.Fatal(err)
		}
		rows += got.Rows
	}
	b.Logf("%d vehicles' day: %d samples, %d rows, %d batches written in %v (%.0f rows/s)", vehicles, samples, rows, len(batches), time.Since(began).Round(time.Millisecond),
		float64(rows)/time.Since(began).Seconds())
	queries := []struct{ name, sql string }{
		{"vehicle-day", "SELECT count(*) AS rows, max(value) AS top FROM samples WHERE day = '2026-11-26' AND vid = 'car-00042' AND signal = 'Vehicle.Speed'"},
		{"fleet-hour", "SELECT vid, max(value) AS top FROM samples WHERE day = '2026-11-26' AND hour = 7 AND signal = 'Vehicle.Speed' GROUP BY vid"},
		{"fleet-day", "SELECT vid, max(value) - min(value) AS km FROM samples WHERE day = '2026-11-26' AND signal = 'Vehicle.TraveledDistance' GROUP BY vid"},
	}
	b.ResetTimer()
	for b.Loop() {
		for _, q := range queries {
			res, err := Query(context.Background(), dir, q.sql, DefaultScanLimit)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.BytesScanned), q.name+"-bytes")
		}
	}
}
