package localapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// BenchmarkFleetState reads the whole state of a 10,000-vehicle fleet
// through the local API, as a fleet operator's client would: signed,
// accepting gzip, pages of the most states a page holds (1,000) until no
// cursor.
// Each vehicle's state is the tracker's from one upload of a drive (10
// signals and a position). It reports the requests, the bytes sent
// (gzip) and their JSON per read of the fleet.
//
//	go test -run '^$' -bench BenchmarkFleetState -benchtime 5x ./internal/local/localapi
func BenchmarkFleetState(b *testing.B) {
	const fleetSize = 10000
	local := NewTestServerOn(b, db, Config{EventRetention: 30 * 24 * time.Hour})
	ctx := context.Background()
	start := time.Now().Add(-time.Hour)
	var (
		wg   sync.WaitGroup
		errs = make(chan error, fleetSize)
		vids = make(chan int)
	)
	for range 16 {
		wg.Go(func() {
			for v := range vids {
				vid := fmt.Sprintf("car-%05d", v)
				up := workload.NewDrive(uint64(v)+1, start).Upload(workload.SamplesPerUpload)
				ev := fleet.Event{VID: vid, Samples: up.Samples, ReceivedAt: time.Now()}
				if _, err := local.Tracking.Store.UpdateState(ctx, dynamostore.StateUpdate{VID: vid, Apply: func(st *fleet.VehicleState) bool { return st.ApplyEvent(ev) }}); err != nil {
					errs <- err
				}
			}
		})
	}
	for v := range fleetSize {
		vids <- v
	}
	close(vids)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	rt := &http.Transport{DisableCompression: true}
	defer rt.CloseIdleConnections()
	var requests, sent, plain int
	b.ResetTimer()
	for b.Loop() {
		requests, sent, plain = 0, 0, 0
		seen := map[string]bool{}
		for cursor := ""; ; {
			path := "/fleet/state?limit=1000"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			res, body := readerGet(b, rt, local.URL+path)
			requests++
			sent += len(body)
			if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" {
				b.Fatalf("%s: %d, encoding %q", path, res.StatusCode, res.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				b.Fatal(err)
			}
			plain += len(raw)
			var page struct {
				States     []struct{ VID string }
				NextCursor string
			}
			if err := json.Unmarshal(raw, &page); err != nil {
				b.Fatal(err)
			}
			for _, st := range page.States {
				seen[st.VID] = true
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(seen) != fleetSize {
			b.Fatalf("%d vehicles read in %d requests, want %d", len(seen), requests, fleetSize)
		}
	}
	b.ReportMetric(float64(requests), "requests/op")
	b.ReportMetric(float64(sent), "gzip-bytes/op")
	b.ReportMetric(float64(plain), "json-bytes/op")
}
