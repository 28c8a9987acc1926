// Package simulate drives a fleet against the API with the Go client: N
// vehicles registered by the fleet admin, each uploading with its own
// identity at the talk's rate (1 sample a second of realistic VSS signals,
// 10 per call), with a live progress line, then a fleet reader reads every
// vehicle's events back to prove that every acknowledged upload is stored,
// once.
package simulate

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/devtools/workload"
)

// Config of a run.
type Config struct {
	// Admin registers the vehicles (caller class fleet-admin); Reader reads
	// their events back (fleet-read).
	Admin, Reader *client.ClientWithResponses
	// Vehicle returns a client that signs as vehicle vid itself.
	Vehicle func(ctx context.Context, vid string) (*client.ClientWithResponses, error)
	// Vehicles in the fleet, each sim-RUN-NNNNN: new ones each run, so
	// that what a run reads back is its own.
	Vehicles int
	// VIDs, when set, are the fleet instead (vehicles whose certificates are
	// registered already); Vehicles is then their number.
	VIDs []string
	// Driving is each vehicle's driving time; its samples end now.
	Driving time.Duration
	// Speedup compresses time: an upload of 10 s of samples every 10 s / Speedup.
	Speedup float64
	// Progress receives a live line each second; nil prints none.
	Progress io.Writer
	// Retries counts the client's retries (client.Options.OnRetry); may be nil.
	Retries *atomic.Int64
}

// Report is what a run measured.
type Report struct {
	Sent, Accepted, Failed int64
	Retried                int64
	P50, P99, Max          time.Duration
	// UploadsPerSecond is the accepted uploads per second of wall time.
	UploadsPerSecond float64
	// Stored samples read back; Lost acknowledged uploads not found;
	// Duplicated uploads found more than once.
	Stored, Lost, Duplicated int
	Wall                     time.Duration
	// FirstFailure says why the first failed call failed, "" if none did.
	FirstFailure string
}

func (r Report) String() string {
	return fmt.Sprintf("uploads sent %d, accepted %d, retried %d, failed %d; latency p50 %v, p99 %v, max %v; %.1f uploads/s; samples stored %d; lost %d, duplicated %d",
		r.Sent, r.Accepted, r.Retried, r.Failed, r.P50, r.P99, r.Max, r.UploadsPerSecond, r.Stored, r.Lost, r.Duplicated) + r.firstFailure()
}

func (r Report) firstFailure() string {
	if r.FirstFailure == "" {
		return ""
	}
	return "; first failure: " + r.FirstFailure
}

// Run runs the fleet until every vehicle has uploaded its driving, then
// reads it back.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.VIDs != nil {
		cfg.Vehicles = len(cfg.VIDs)
	}
	if cfg.Vehicles < 1 || cfg.Driving < workload.SamplesPerUpload*workload.SampleInterval || cfg.Speedup <= 0 {
		return Report{}, fmt.Errorf("a run needs at least 1 vehicle, 10 s of driving and a speedup above 0")
	}
	if cfg.Admin == nil || cfg.Reader == nil || cfg.Vehicle == nil {
		return Report{}, fmt.Errorf("a run needs an admin's client, a reader's and the vehicles' own")
	}
	if cfg.Retries == nil {
		cfg.Retries = &atomic.Int64{}
	}
	start := time.Now()
	first := start.Add(-cfg.Driving).Truncate(time.Second)
	uploads := int(cfg.Driving / (workload.SamplesPerUpload * workload.SampleInterval))
	interval := time.Duration(float64(workload.SamplesPerUpload*workload.SampleInterval) / cfg.Speedup)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		acked     = map[string][]string{} // vid → eids acknowledged
		sent      atomic.Int64
		accepted  atomic.Int64
		failed    atomic.Int64
		firstFail string
		wg        sync.WaitGroup
	)
	// fail counts n failed uploads and keeps the first reason; mu held.
	fail := func(n int64, why string) {
		failed.Add(n)
		if firstFail == "" {
			firstFail = why
		}
	}
	stopProgress := progress(cfg.Progress, func() string {
		mu.Lock()
		p99 := percentile(latencies, 0.99)
		mu.Unlock()
		return fmt.Sprintf("%d/%d uploads sent, %d accepted, %d retried, %d failed, p99 %v",
			sent.Load(), int64(uploads*cfg.Vehicles), accepted.Load(), cfg.Retries.Load(), failed.Load(), p99)
	})
	for v := range cfg.Vehicles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vid := fmt.Sprintf("sim-%s-%05d", strconv.FormatInt(start.UnixMilli(), 36), v)
			if cfg.VIDs != nil {
				vid = cfg.VIDs[v]
			}
			r, err := client.RegisterVehicle(ctx, cfg.Admin, client.NewVehicle{Vid: vid, Make: "Simulated", Model: "EV", Year: 2025}, "")
			var why string
			switch {
			case err != nil:
				why = fmt.Sprintf("register %s: %v", vid, err)
			case r.StatusCode() != 201 && r.StatusCode() != 409:
				why = fmt.Sprintf("register %s: %s %.200s", vid, r.Status(), r.Body)
			}
			var car *client.ClientWithResponses
			if why == "" {
				if car, err = cfg.Vehicle(ctx, vid); err != nil {
					why = fmt.Sprintf("identity of %s: %v", vid, err)
				}
			}
			if why != "" {
				mu.Lock()
				fail(int64(uploads), why)
				mu.Unlock()
				return
			}
			drive := workload.NewDrive(uint64(v)+1, first)
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for k := range uploads {
				var samples []client.Sample
				for _, s := range drive.Upload(workload.SamplesPerUpload).Samples {
					samples = append(samples, client.Sample{Timestamp: s.Timestamp, Signals: s.Signals})
				}
				sent.Add(1)
				began := time.Now()
				res, err := client.UploadSamples(ctx, car, vid, samples, fmt.Sprintf("%s-%d", vid, k))
				took := time.Since(began)
				mu.Lock()
				latencies = append(latencies, took)
				switch {
				case err != nil:
					fail(1, fmt.Sprintf("upload for %s: %v", vid, err))
				case res.JSON201 != nil:
					acked[vid] = append(acked[vid], res.JSON201.Eid)
					accepted.Add(1)
				case res.JSON200 != nil: // stored by an attempt whose answer was lost
					acked[vid] = append(acked[vid], res.JSON200.Eid)
					accepted.Add(1)
				default:
					fail(1, fmt.Sprintf("upload for %s: %s %.200s", vid, res.Status(), res.Body))
				}
				mu.Unlock()
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	wg.Wait()
	stopProgress()
	wall := time.Since(start)
	r := Report{Sent: sent.Load(), Accepted: accepted.Load(), Failed: failed.Load(), Retried: cfg.Retries.Load(),
		P50: percentile(latencies, 0.5), P99: percentile(latencies, 0.99), Max: percentile(latencies, 1), Wall: wall,
		UploadsPerSecond: float64(accepted.Load()) / wall.Seconds(), FirstFailure: firstFail}
	from, to := first.Add(-time.Second), time.Now().Add(time.Minute)
	for vid, eids := range acked {
		seen := map[string]int{}
		page := &client.ListEventsParams{From: &from, To: &to, Limit: new(client.Limit(100))}
		for {
			res, err := cfg.Reader.ListEventsWithResponse(ctx, vid, page)
			if err != nil || res.JSON200 == nil {
				return r, fmt.Errorf("read back the events of %s: %v %s", vid, err, res.Status())
			}
			for _, e := range res.JSON200.Events {
				seen[e.Eid]++
				r.Stored += len(e.Samples)
			}
			if res.JSON200.NextCursor == nil {
				break
			}
			page.Cursor = res.JSON200.NextCursor
		}
		for _, eid := range eids {
			switch n := seen[eid]; {
			case n == 0:
				r.Lost++
			case n > 1:
				r.Duplicated++
			}
		}
		for eid, n := range seen {
			if n == 1 && !slices.Contains(eids, eid) {
				r.Duplicated++ // stored, yet never acknowledged: an upload stored twice under another eid
			}
		}
	}
	return r, nil
}

// percentile of durations, q from 0 to 1.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)].Round(time.Millisecond)
}

// progress writes line() over itself each second until the returned stop.
func progress(w io.Writer, line func() string) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(w, "\r%s   ", line())
			case <-done:
				fmt.Fprintf(w, "\r%s   \n", line())
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

// Identity says how vehicles get credentials from their certificates: the
// credentials endpoint, its CA, the role alias and the vehicle role, STS.
type Identity struct {
	CredentialsEndpoint, CAFile, RoleAlias, VehicleRoleArn, Region, STSEndpoint string
	// Certificate returns vehicle vid's certificate: make local's
	// registration (localauth.Provision), or files of registered things.
	Certificate func(ctx context.Context, vid string) (tls.Certificate, error)
	// Options are those of every vehicle's client, but its credentials.
	Options client.Options
}

// Vehicles returns Config.Vehicle for the API at url: each vehicle's
// client signs with credentials its own certificate gets it.
func (id Identity) Vehicles(url string) func(ctx context.Context, vid string) (*client.ClientWithResponses, error) {
	return func(ctx context.Context, vid string) (*client.ClientWithResponses, error) {
		cert, err := id.Certificate(ctx, vid)
		if err != nil {
			return nil, err
		}
		creds, err := client.NewVehicleCredentials(client.VehicleOptions{
			Endpoint: id.CredentialsEndpoint, CAFile: id.CAFile, RoleAlias: id.RoleAlias, ThingName: vid, Certificate: &cert,
			VehicleRoleArn: id.VehicleRoleArn, Region: id.Region, STSEndpoint: id.STSEndpoint,
		})
		if err != nil {
			return nil, err
		}
		o := id.Options
		o.Credentials, o.Region = creds, id.Region
		return client.New(ctx, url, o)
	}
}
