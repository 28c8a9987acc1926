// Package synthetic is the synthetic vehicle: a registered test vehicle
// that each stage runs end to end on a schedule, as a vehicle and as a
// fleet reader do, timing each step: its certificate to the credentials
// provider, STS into the vehicle role, a signed upload over HTTPS, an
// upload over MQTT through Basic Ingest, both read back as fleet-read.
// A run stops at the first step that fails and says which; it is never
// reported a success unless every step was. The function that runs it
// publishes each step's success and latency as metrics (Log).
package synthetic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
	"github.com/fleetapi/fleetapi/internal/vehicleconn"
)

// Config is what a run needs.
type Config struct {
	// VID is the synthetic vehicle's, its thing name
	// (contract.SyntheticVIDPrefix...).
	VID string
	// Chain gets its credentials from its certificate.
	Chain *vehicleconn.Chain
	// APIURL is the stage's URL.
	APIURL string
	// MQTTAddr is the device data endpoint, host:port
	// (vehicleconn.MQTTEndpoint); MQTTTLS holds the vehicle's certificate;
	// Topic is the Basic Ingest topic of its uploads.
	MQTTAddr string
	MQTTTLS  *tls.Config
	Topic    string
	// Reader signs the read-back: an identity of caller class fleet-read.
	Reader aws.CredentialsProvider
	// Region signs the API's requests (execute-api).
	Region string
	// HTTP sends the API's requests. Default: a client with a 10 s timeout.
	HTTP *http.Client
	// StepTimeout bounds each step. Default: 10 s.
	StepTimeout time.Duration
	// Settle bounds the read-back's wait for the MQTT upload, which the
	// upload rule stores after its PUBACK. Default: 20 s.
	Settle time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Result is one step of a run.
type Result struct {
	Step    string
	OK      bool
	Latency time.Duration
	// Err says why the step failed.
	Err error
}

// Report is a run: the steps it ran, in order, then metrics.StepRun.
type Report []Result

// OK reports whether every step succeeded.
func (r Report) OK() bool { return len(r) > 0 && r[len(r)-1].Step == metrics.StepRun && r[len(r)-1].OK }

// Failed returns the step that failed, false when none did.
func (r Report) Failed() (Result, bool) {
	for _, s := range r {
		if !s.OK && s.Step != metrics.StepRun {
			return s, true
		}
	}
	return Result{}, false
}

// Run runs the synthetic vehicle once.
func Run(ctx context.Context, c Config) Report {
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if c.StepTimeout <= 0 {
		c.StepTimeout = 10 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 20 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	r := &run{c: c}
	steps := []struct {
		name    string
		timeout time.Duration
		do      func(context.Context) error
	}{
		{metrics.StepCredentials, c.StepTimeout, r.credentials},
		{metrics.StepAssumeRole, c.StepTimeout, r.assumeRole},
		{metrics.StepHTTPSUpload, c.StepTimeout, r.httpsUpload},
		{metrics.StepMQTTUpload, c.StepTimeout, r.mqttUpload},
		{metrics.StepReadBack, c.StepTimeout + c.Settle, r.readBack},
	}
	var report Report
	start := time.Now()
	for _, s := range steps {
		t0 := time.Now()
		sctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := s.do(sctx)
		cancel()
		report = append(report, Result{Step: s.name, OK: err == nil, Latency: time.Since(t0), Err: err})
		if err != nil {
			break
		}
	}
	_, failed := report.Failed()
	return append(report, Result{Step: metrics.StepRun, OK: !failed && len(report) == len(steps), Latency: time.Since(start)})
}

// run holds what one step hands the next.
type run struct {
	c             Config
	cert, vehicle aws.Credentials
	// https and mqtt are the two uploads' events, as the API will store
	// them (their eids: the hash of their samples).
	https, mqtt fleet.Event
}

func (r *run) credentials(ctx context.Context) (err error) {
	r.cert, err = r.c.Chain.CertificateCredentials(ctx)
	return err
}

func (r *run) assumeRole(ctx context.Context) (err error) {
	r.vehicle, err = r.c.Chain.AssumeVehicleRole(ctx, r.cert)
	return err
}

// upload returns an upload of three samples a second apart, ending at
// end, and the event the API stores for it.
func (r *run) upload(end time.Time) (fleet.Upload, fleet.Event, error) {
	end = end.UTC().Truncate(time.Millisecond)
	var up fleet.Upload
	for i := 2; i >= 0; i-- {
		up.Samples = append(up.Samples, fleet.Sample{Timestamp: end.Add(-time.Duration(i) * time.Second),
			Signals: map[string]float64{"Vehicle.Speed": 0, "Vehicle.TraveledDistance": float64(end.Unix() % 100000)}})
	}
	e, err := fleet.NewEvent(r.c.VID, up, "", r.c.Now(), contract.SyntheticEventRetention)
	return up, e, err
}

func (r *run) httpsUpload(ctx context.Context) error {
	up, e, err := r.upload(r.c.Now().Add(-4 * time.Second))
	if err != nil {
		return err
	}
	body, err := json.Marshal(up)
	if err != nil {
		return err
	}
	status, answer, err := r.call(ctx, r.vehicle, http.MethodPost, "vehicles/"+url.PathEscape(r.c.VID)+"/events", body)
	if err != nil {
		return err
	}
	var got fleet.Event
	if status != http.StatusCreated && status != http.StatusOK || json.Unmarshal(answer, &got) != nil || got.EID != e.EID {
		return fmt.Errorf("upload answered %d %.300s, want 201 with event %s", status, answer, e.EID)
	}
	r.https = e
	return nil
}

func (r *run) mqttUpload(ctx context.Context) error {
	up, e, err := r.upload(r.c.Now().Add(-time.Second))
	if err != nil {
		return err
	}
	if e.EID == r.https.EID {
		return errors.New("the MQTT upload's event is the HTTPS one's: the clock did not move")
	}
	body, err := json.Marshal(up)
	if err != nil {
		return err
	}
	// Compressed, as the agent publishes it.
	payload := contract.GzipUpload(body)
	conn, err := vehicleconn.DialMQTT(ctx, r.c.MQTTAddr, r.c.VID, r.c.MQTTTLS, time.Minute, r.c.StepTimeout)
	if err != nil {
		return err
	}
	defer conn.Disconnect(250)
	if err := vehicleconn.Wait(ctx, conn.Publish(r.c.Topic, 1, false, payload), r.c.StepTimeout); err != nil {
		return fmt.Errorf("publish to %s: %w", r.c.Topic, err)
	}
	r.mqtt = e
	return nil
}

// readBack reads both events as fleet-read, waiting for the MQTT one,
// which the rule stores after the PUBACK.
func (r *run) readBack(ctx context.Context) error {
	reader, err := r.c.Reader.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("the reader's credentials: %w", err)
	}
	for _, e := range []fleet.Event{r.https, r.mqtt} {
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
			status, answer, err := r.call(ctx, reader, http.MethodGet, "vehicles/"+url.PathEscape(r.c.VID)+"/events/"+e.EID, nil)
			if err != nil {
				return err
			}
			var got fleet.Event
			if status == http.StatusOK {
				if json.Unmarshal(answer, &got) != nil || len(got.Samples) != len(e.Samples) || !got.Start.Equal(e.Start) {
					return fmt.Errorf("event %s read back as %.300s, want its %d samples from %s", e.EID, answer, len(e.Samples), e.Start.Format(time.RFC3339Nano))
				}
				break
			}
			if status != http.StatusNotFound {
				return fmt.Errorf("read event %s: %d %.300s", e.EID, status, answer)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("event %s not stored: %w", e.EID, ctx.Err())
			case <-time.After(wait):
			}
		}
	}
	return nil
}

// call sends a request to the API signed with creds (SigV4,
// execute-api) and returns its status and body.
func (r *run) call(ctx context.Context, creds aws.Credentials, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(r.c.APIURL, "/")+"/"+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", r.c.Region, time.Now()); err != nil {
		return 0, nil, err
	}
	resp, err := r.c.HTTP.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s /%s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, answer, err
}

// Log writes a run of the synthetic vehicle vid as one log line per step,
// each a CloudWatch embedded metric format record of the step's success
// (1 or 0) and latency, with the dimensions SyntheticVehicle (vid) and
// Step; a step not run has no line.
func Log(logger *slog.Logger, vid string, at time.Time, report Report) {
	for _, s := range report {
		success := 0.0
		level := slog.LevelError
		if s.OK {
			success, level = 1, slog.LevelInfo
		}
		attrs := metrics.Embedded(at.UnixMilli(),
			[]metrics.Dimension{{Name: metrics.DimensionSyntheticVehicle, Value: vid}, {Name: metrics.DimensionStep, Value: s.Step}},
			metrics.Value{Name: metrics.SyntheticVehicleSuccess, Unit: "None", Value: success},
			metrics.Value{Name: metrics.SyntheticVehicleLatency, Unit: "Milliseconds", Value: float64(s.Latency.Milliseconds())})
		if s.Err != nil {
			attrs = append(attrs, "error", s.Err.Error())
		}
		logger.Log(context.Background(), level, "synthetic vehicle step", attrs...)
	}
}

// NewChain is the synthetic vehicle's way from its certificate to its
// session of the vehicle role: sessions of 15 minutes (a run needs
// seconds), the credentials request bounded as a step.
func NewChain(endpoint, roleAlias, vid, vehicleRoleArn, region, stsEndpoint string, tlsConfig *tls.Config) (*vehicleconn.Chain, error) {
	return vehicleconn.NewChain(endpoint, roleAlias, vid, vehicleRoleArn, region, stsEndpoint, 15*time.Minute, tlsConfig, 10*time.Second)
}
