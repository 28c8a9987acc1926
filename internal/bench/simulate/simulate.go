// Package simulate drives a fleet against the API: N vehicles registered
// by the fleet admin, each uploading with its own identity at the talk's
// rate (1 sample a second of realistic VSS signals, 10 per upload), over
// HTTPS with the Go client or over MQTT with the vehicle agent's uploader,
// with a live progress line; then a fleet reader reads every vehicle's
// events back to prove that every acknowledged sample is stored, once.
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

	"github.com/fleetapi/fleetapi/agent"
	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/bench/workload"
)

// Config of a run.
type Config struct {
	// Admin registers the vehicles (caller class fleet-admin); Reader reads
	// their events back (fleet-read).
	Admin, Reader *client.ClientWithResponses
	// Protocol of the uploads: "https" (the default) or "mqtt".
	Protocol string
	// Vehicle returns a client that signs as vehicle vid itself (https).
	Vehicle func(ctx context.Context, vid string) (*client.ClientWithResponses, error)
	// Publisher returns vehicle vid's MQTT uploader (mqtt).
	Publisher func(ctx context.Context, vid string) (agent.Uploader, error)
	// Settle bounds the wait, after the last upload, for what was
	// acknowledged over MQTT to be stored (the rule runs after the
	// PUBACK). Default 30 s.
	Settle time.Duration
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
	// StateEvery, when positive, polls the fleet's state at that interval
	// from the first upload until every vehicle's state holds its newest
	// acknowledged sample (at most StateSettle after the last upload,
	// default 3 minutes): the report's freshness of the state and its
	// fleet view.
	StateEvery, StateSettle time.Duration
}

// Report is what a run measured.
type Report struct {
	Protocol               string
	Sent, Accepted, Failed int64
	Retried                int64
	// Latency of an upload until its acknowledgement: over HTTPS the
	// API's answer (stored), over MQTT the PUBACK (accepted, stored after).
	// A vehicle's first upload, which connects (MQTT) or gets the
	// vehicle's credentials (HTTPS) first, is in FirstP99 only.
	P50, P99, Max, FirstP99 time.Duration
	// UploadsPerSecond is the accepted uploads per second of wall time.
	UploadsPerSecond float64
	// Stored samples read back; Lost acknowledged samples not found;
	// Duplicated samples found more than once.
	Stored, Lost, Duplicated int
	Wall                     time.Duration
	// FirstFailure says why the first failed call failed, "" if none did.
	FirstFailure string
	// With Config.StateEvery: how long after a sample was taken its
	// vehicle's state held it or a newer one (p50, p99, max), the samples
	// it never did, and the fleet's state as the run left it.
	FreshP50, FreshP99, FreshMax time.Duration
	StateUnseen                  int
	Fleet                        *FleetView
	// acked are the timestamps of each vehicle's acknowledged samples.
	acked map[string][]time.Time
	from  time.Time
}

func (r Report) String() string {
	s := fmt.Sprintf("%s: uploads sent %d, acknowledged %d, retried %d, failed %d; latency to acknowledgement p50 %v, p99 %v, max %v (first upload of a vehicle p99 %v); %.1f uploads/s; samples acknowledged %d, stored %d, lost %d, duplicated %d",
		r.Protocol, r.Sent, r.Accepted, r.Retried, r.Failed, r.P50, r.P99, r.Max, r.FirstP99, r.UploadsPerSecond, r.AckedSamples(), r.Stored, r.Lost, r.Duplicated) + r.firstFailure()
	if r.Fleet != nil {
		s += fmt.Sprintf("\n%s: state freshness (sample taken → in its vehicle's state) p50 %v, p99 %v, max %v; %d samples never seen\n%s",
			r.Protocol, r.FreshP50.Round(100*time.Millisecond), r.FreshP99.Round(100*time.Millisecond), r.FreshMax.Round(100*time.Millisecond), r.StateUnseen, r.Fleet)
	}
	return s
}

// AckedSamples counts the samples of acknowledged uploads.
func (r Report) AckedSamples() int {
	n := 0
	for _, ts := range r.acked {
		n += len(ts)
	}
	return n
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
	switch cfg.Protocol {
	case "", "https":
		cfg.Protocol = "https"
		if cfg.Vehicle == nil {
			return Report{}, fmt.Errorf("a run over HTTPS needs the vehicles' clients")
		}
	case "mqtt":
		if cfg.Publisher == nil {
			return Report{}, fmt.Errorf("a run over MQTT needs the vehicles' MQTT uploaders")
		}
	default:
		return Report{}, fmt.Errorf("protocol %q: allowed are https and mqtt", cfg.Protocol)
	}
	if cfg.Admin == nil || cfg.Reader == nil {
		return Report{}, fmt.Errorf("a run needs an admin's client and a reader's")
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
		latencies []time.Duration            // but each vehicle's first upload's
		setup     []time.Duration            // the first uploads
		acked     = map[string][]time.Time{} // vid → samples acknowledged
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
	var (
		watch      *stateWatch
		stopWatch  = make(chan struct{})
		watchErrs  = make(chan error, 1)
		takes      = map[string][]taken{}
		newest     = map[string]time.Time{}
		stateEvery = cfg.StateEvery
	)
	if stateEvery > 0 {
		watch = newStateWatch(cfg.Reader)
		go watch.run(ctx, stateEvery, stopWatch, watchErrs)
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
			case r.StatusCode() != 201 && r.StatusCode() != 200 && r.StatusCode() != 409: // 200: an earlier attempt registered it
				why = fmt.Sprintf("register %s: %s %.200s", vid, r.Status(), r.Body)
			}
			var upload func(samples []client.Sample, key string) (acked bool, why string)
			if why == "" {
				var closeFn func()
				if upload, closeFn, err = uploader(ctx, cfg, vid); err != nil {
					why = fmt.Sprintf("identity of %s: %v", vid, err)
				} else {
					defer closeFn()
				}
			}
			if why != "" {
				mu.Lock()
				fail(int64(uploads), why)
				mu.Unlock()
				return
			}
			if watch != nil {
				watch.watch(vid)
			}
			drive := workload.NewDrive(uint64(v)+1, first)
			// Vehicles spread over an interval, as a fleet's are, rather
			// than all uploading at the same instant.
			select {
			case <-time.After(interval * time.Duration(v) / time.Duration(cfg.Vehicles)):
			case <-ctx.Done():
				return
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for k := range uploads {
				var samples []client.Sample
				for _, s := range drive.Upload(workload.SamplesPerUpload).Samples {
					samples = append(samples, client.Sample{Timestamp: s.Timestamp, Signals: s.Signals})
				}
				sent.Add(1)
				began := time.Now()
				ok, why := upload(samples, fmt.Sprintf("%s-%d", vid, k))
				took := time.Since(began)
				mu.Lock()
				if k == 0 {
					setup = append(setup, took) // the connection or the credentials first
				} else {
					latencies = append(latencies, took)
				}
				if ok {
					last := samples[len(samples)-1].Timestamp
					for _, s := range samples {
						ts := s.Timestamp.UTC().Truncate(time.Millisecond)
						acked[vid] = append(acked[vid], ts)
						// Taken before the upload by its distance from the
						// newest, at the run's speed.
						takes[vid] = append(takes[vid], taken{ts: ts, at: began.Add(-time.Duration(float64(last.Sub(s.Timestamp)) / cfg.Speedup))})
					}
					newest[vid] = last.UTC().Truncate(time.Millisecond)
					accepted.Add(1)
				} else {
					fail(1, why)
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
	r := Report{Protocol: cfg.Protocol, Sent: sent.Load(), Accepted: accepted.Load(), Failed: failed.Load(), Retried: cfg.Retries.Load(),
		P50: percentile(latencies, 0.5), P99: percentile(latencies, 0.99), Max: percentile(latencies, 1), FirstP99: percentile(setup, 0.99), Wall: wall,
		UploadsPerSecond: float64(accepted.Load()) / wall.Seconds(), FirstFailure: firstFail, acked: acked, from: first.Add(-time.Second)}
	settle := cfg.Settle
	if settle <= 0 {
		settle = 30 * time.Second
	}
	if cfg.Protocol == "https" {
		settle = 0 // stored when answered
	}
	// Over MQTT the rule stores after the PUBACK: read until everything
	// acknowledged is there, or nothing more arrives for 2 s, or Settle.
	last, lastChange := -1, time.Now()
	for deadline := time.Now().Add(settle); ; time.Sleep(100 * time.Millisecond) {
		if err := ReadBack(ctx, cfg.Reader, &r); err != nil {
			return r, err
		}
		if r.Stored != last {
			last, lastChange = r.Stored, time.Now()
		}
		if r.Lost == 0 || time.Now().After(deadline) || time.Since(lastChange) > 2*time.Second {
			break
		}
	}
	if watch == nil {
		return r, nil
	}
	// The state follows the uploads by the stream's batching window: wait
	// until each vehicle's holds its newest acknowledged sample.
	stateSettle := cfg.StateSettle
	if stateSettle <= 0 {
		stateSettle = 3 * time.Minute
	}
	for deadline := time.Now().Add(stateSettle); !watch.caughtUp(newest) && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(stateEvery)
	}
	close(stopWatch)
	if err := <-watchErrs; err != nil {
		return r, err
	}
	fresh, unseen := watch.freshness(takes)
	r.FreshP50, r.FreshP99, r.FreshMax, r.StateUnseen = percentile(fresh, 0.5), percentile(fresh, 0.99), percentile(fresh, 1), unseen
	view, err := fleetView(ctx, cfg.Reader, watch.vids)
	if err != nil {
		return r, err
	}
	watch.mu.Lock()
	view.ConnectedPeak = watch.connectedPeak
	watch.mu.Unlock()
	r.Fleet = &view
	return r, nil
}

// ReadBack reads every vehicle's events and counts in r the samples
// stored, the acknowledged ones lost and those stored more than once.
func ReadBack(ctx context.Context, reader *client.ClientWithResponses, r *Report) error {
	r.Stored, r.Lost, r.Duplicated = 0, 0, 0
	to := time.Now().Add(time.Minute)
	for vid, acked := range r.acked {
		seen := map[time.Time]int{}
		page := &client.ListEventsParams{From: &r.from, To: &to, Limit: new(client.Limit(100))}
		for {
			res, err := reader.ListEventsWithResponse(ctx, vid, page)
			if err != nil || res.JSON200 == nil {
				return fmt.Errorf("read back the events of %s: %v %s", vid, err, res.Status())
			}
			for _, e := range res.JSON200.Events {
				for _, s := range e.Samples {
					seen[s.Timestamp.UTC()]++
					r.Stored++
				}
			}
			if res.JSON200.NextCursor == nil {
				break
			}
			page.Cursor = res.JSON200.NextCursor
		}
		for _, ts := range acked {
			if seen[ts] == 0 {
				r.Lost++
			}
		}
		for _, n := range seen {
			r.Duplicated += n - 1
		}
	}
	return nil
}

// uploader returns how vehicle vid uploads over cfg's protocol: whether
// an upload was acknowledged, and if not, why.
func uploader(ctx context.Context, cfg Config, vid string) (upload func(samples []client.Sample, key string) (bool, string), closeFn func(), err error) {
	if cfg.Protocol == "mqtt" {
		up, err := cfg.Publisher(ctx, vid)
		if err != nil {
			return nil, nil, err
		}
		return func(samples []client.Sample, _ string) (bool, string) {
			if err := up.Upload(ctx, agent.Batch{Samples: samples}); err != nil {
				return false, fmt.Sprintf("upload for %s: %v", vid, err)
			}
			return true, ""
		}, func() { up.Close() }, nil
	}
	car, err := cfg.Vehicle(ctx, vid)
	if err != nil {
		return nil, nil, err
	}
	return func(samples []client.Sample, key string) (bool, string) {
		res, err := client.UploadSamples(ctx, car, vid, samples, key)
		switch {
		case err != nil:
			return false, fmt.Sprintf("upload for %s: %v", vid, err)
		case res.JSON201 != nil, res.JSON200 != nil: // 200: stored by an attempt whose answer was lost
			return true, ""
		}
		return false, fmt.Sprintf("upload for %s: %s %.200s", vid, res.Status(), res.Body)
	}, func() {}, nil
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
	// MQTTEndpoint and Topic are where the vehicles publish over MQTT: the
	// device data endpoint (or make local's broker) and the stack output
	// UploadTopic; the endpoint's CA is CAFile's.
	MQTTEndpoint, Topic string
}

// Publishers returns Config.Publisher: each vehicle publishes with its
// own certificate, as its thing.
func (id Identity) Publishers() func(ctx context.Context, vid string) (agent.Uploader, error) {
	return func(ctx context.Context, vid string) (agent.Uploader, error) {
		cert, err := id.Certificate(ctx, vid)
		if err != nil {
			return nil, err
		}
		return agent.NewMQTTUploader(agent.MQTTOptions{Endpoint: id.MQTTEndpoint, Topic: id.Topic, ThingName: vid, Certificate: &cert, CAFile: id.CAFile})
	}
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
