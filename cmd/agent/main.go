// Command agent runs the vehicle agent (package agent) for one vehicle:
// samples from the simulator or JSON lines on stdin, batched, journaled,
// uploaded over MQTT or HTTPS. Against make local by default:
//
//	go run ./cmd/agent -vid car-1 -protocol mqtt
//
// registers car-1 with make local and gets it a certificate if it has none
// in its journal directory. A deployed stage's vehicle passes its own
// (-cert, -key) and the stage's endpoints and stack outputs.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetapi/fleetapi/agent"
	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

type options struct {
	vid, journal, protocol, source      string
	batch, samples                      int
	flush, sampleInterval, drain        time.Duration
	minBackoff                          time.Duration
	mqttEndpoint, topic, cert, key, ca  string
	url, credentialsURL, roleAlias, arn string
	region                              string
	acks                                bool
}

func main() {
	var o options
	flag.StringVar(&o.vid, "vid", "", "the vehicle: its vid and thing name (required)")
	flag.StringVar(&o.journal, "journal", "", "the journal's directory (default .local/agent/VID)")
	flag.StringVar(&o.protocol, "protocol", "mqtt", "mqtt (AWS IoT Core Basic Ingest) or https (the REST API)")
	flag.StringVar(&o.source, "source", "sim", "sim (a simulated drive, a sample each -sample-interval) or stdin (a sample a line: {\"timestamp\":…,\"signals\":{…}})")
	flag.IntVar(&o.batch, "batch", agent.MinBatchSize, "samples per upload, 10 to 100")
	flag.DurationVar(&o.flush, "flush", 10*time.Second, "seal a batch not full this long after its first sample")
	flag.DurationVar(&o.sampleInterval, "sample-interval", time.Second, "sim: time between two samples")
	flag.IntVar(&o.samples, "samples", 0, "sim: stop after this many samples (0: run until stopped)")
	flag.DurationVar(&o.drain, "drain", 10*time.Second, "on stop (SIGINT, SIGTERM, end of input): go on sending this long")
	flag.DurationVar(&o.minBackoff, "min-backoff", time.Second, "the first wait after a failed upload (doubled up to a minute)")
	flag.StringVar(&o.mqttEndpoint, "mqtt-endpoint", "127.0.0.1:8883", "mqtt: the device data endpoint, host[:port] (aws iot describe-endpoint --endpoint-type iot:Data-ATS), or make local's broker")
	flag.StringVar(&o.topic, "topic", contract.BasicIngestTopic(localauth.UploadRule, agent.VIDVariable), "mqtt: the stack output UploadTopic")
	flag.StringVar(&o.cert, "cert", "", "the vehicle's certificate, PEM (default: make local registers the vehicle and issues one, kept in the journal's directory)")
	flag.StringVar(&o.key, "key", "", "the certificate's private key, PEM")
	flag.StringVar(&o.ca, "ca", ".local/iot/ca.pem", "CA of the endpoints (make local's); \"\" for the system's roots (Amazon Root CA 1)")
	flag.StringVar(&o.url, "url", "http://127.0.0.1:3000", "https: the API (stack output ApiUrl); make local's also issues the local certificate")
	flag.StringVar(&o.credentialsURL, "credentials-url", "https://127.0.0.1:3001", "https: the credentials endpoint (aws iot describe-endpoint --endpoint-type iot:CredentialProvider)")
	flag.StringVar(&o.roleAlias, "role-alias", localauth.RoleAlias, "https: the stack output VehicleRoleAlias")
	flag.StringVar(&o.arn, "vehicle-role-arn", localauth.VehicleRole, "https: the stack output VehicleRoleArn")
	flag.StringVar(&o.region, "region", "", "https: the stack's Region, when the URL does not say it")
	flag.BoolVar(&o.acks, "acks", false, "print each acknowledged batch to stdout, a JSON object a line")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdin, os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// ackLine is what -acks prints of an acknowledged batch.
type ackLine struct {
	Seq     uint64    `json:"seq"`
	Samples int       `json:"samples"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

func run(ctx context.Context, o options, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	if o.vid == "" {
		return errors.New("-vid is required")
	}
	if o.journal == "" {
		o.journal = filepath.Join(".local", "agent", o.vid)
	}
	cert, err := certificate(ctx, o)
	if err != nil {
		return err
	}
	var up agent.Uploader
	switch o.protocol {
	case "mqtt":
		up, err = agent.NewMQTTUploader(agent.MQTTOptions{Endpoint: o.mqttEndpoint, Topic: o.topic, ThingName: o.vid, Certificate: &cert, CAFile: o.ca})
	case "https":
		up, err = httpsUploader(ctx, o, cert)
	default:
		return fmt.Errorf("-protocol %q: allowed are mqtt and https", o.protocol)
	}
	if err != nil {
		return err
	}
	var mu sync.Mutex
	out := json.NewEncoder(stdout)
	cfg := agent.Config{Dir: o.journal, Uploader: up, BatchSize: o.batch, FlushInterval: o.flush, DrainTimeout: o.drain,
		MinBackoff: o.minBackoff, Logger: log}
	if o.acks {
		cfg.OnAck = func(b agent.Batch) {
			mu.Lock()
			defer mu.Unlock()
			out.Encode(ackLine{Seq: b.Seq, Samples: len(b.Samples), First: b.Samples[0].Timestamp, Last: b.Samples[len(b.Samples)-1].Timestamp})
		}
	}
	a, err := agent.Open(cfg)
	if err != nil {
		return err
	}
	if r := a.Recovery(); r.Batches > 0 {
		log.Info("sending the journal's batches first", "batches", r.Batches, "samples", r.Samples)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	var srcErr error
	switch o.source {
	case "sim":
		srcErr = simulate(runCtx, a, o, log)
	case "stdin":
		srcErr = readLines(runCtx, a, stdin, log)
	default:
		srcErr = fmt.Errorf("-source %q: allowed are sim and stdin", o.source)
	}
	cancel() // the source ended: seal, drain, close
	err = errors.Join(srcErr, <-done)
	s := a.Stats()
	log.Info("agent stopped", "vid", o.vid, "samples", s.Samples, "batches", s.Batches, "attempts", s.Attempts,
		"acknowledged", s.Acked, "acknowledgedSamples", s.AckedSamp, "rejected", s.Rejected, "pending", s.Pending)
	return err
}

// simulate takes a sample of a simulated drive each interval, stamped
// with the time it is taken, until ctx ends or o.samples are taken.
func simulate(ctx context.Context, a *agent.Agent, o options, log *slog.Logger) error {
	h := fnv.New64a()
	h.Write([]byte(o.vid))
	drive := workload.NewDrive(h.Sum64(), time.Now())
	tick := time.NewTicker(o.sampleInterval)
	defer tick.Stop()
	for n := 0; o.samples == 0 || n < o.samples; n++ {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			s := drive.Upload(1).Samples[0]
			if err := add(a, client.Sample{Timestamp: now.UTC().Truncate(time.Millisecond), Signals: s.Signals}, log); err != nil {
				return err
			}
		}
	}
	return nil
}

// readLines takes a sample a line of r until its end.
func readLines(ctx context.Context, a *agent.Agent, r io.Reader, log *slog.Logger) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), agent.MaxPayloadBytes)
	for line := 1; sc.Scan(); line++ {
		if ctx.Err() != nil {
			return nil
		}
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var s client.Sample
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil || s.Timestamp.IsZero() || len(s.Signals) == 0 {
			log.Warn("line skipped: not a sample {\"timestamp\":RFC 3339,\"signals\":{name:number}}", "line", line, "error", fmt.Sprint(err))
			continue
		}
		if err := add(a, s, log); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	return nil
}

func add(a *agent.Agent, s client.Sample, log *slog.Logger) error {
	err := a.Add(s)
	switch {
	case errors.Is(err, agent.ErrJournalFull):
		log.Warn("sample dropped: the journal is full", "timestamp", s.Timestamp)
		return nil
	case errors.Is(err, agent.ErrSampleRejected):
		log.Warn("sample set aside in "+agent.RejectedFile, "timestamp", s.Timestamp, "error", err.Error())
		return nil
	}
	return err
}

func httpsUploader(ctx context.Context, o options, cert tls.Certificate) (agent.Uploader, error) {
	region := o.region
	if region == "" {
		region = client.RegionOf(o.url)
	}
	vo := client.VehicleOptions{Endpoint: o.credentialsURL, CAFile: o.ca, RoleAlias: o.roleAlias, ThingName: o.vid, Certificate: &cert,
		VehicleRoleArn: o.arn, Region: region}
	if localauth.IsLocalURL(o.url) {
		vo.Region, vo.STSEndpoint = localauth.Region, strings.TrimSuffix(o.url, "/")+localauth.STSPath
	}
	creds, err := client.NewVehicleCredentials(vo)
	if err != nil {
		return nil, err
	}
	c, err := client.New(ctx, o.url, client.Options{Credentials: creds, Region: vo.Region})
	if err != nil {
		return nil, err
	}
	u, err := agent.NewHTTPSUploader(c, o.vid)
	if err != nil {
		return nil, err
	}
	return u.RefreshingCredentials(creds), nil
}

// certificate is -cert and -key; without them, against make local, the
// vehicle's certificate in its journal directory, made the first time
// (the vehicle registered, a certificate issued for its thing).
func certificate(ctx context.Context, o options) (tls.Certificate, error) {
	if o.cert != "" || o.key != "" {
		return tls.LoadX509KeyPair(o.cert, o.key)
	}
	if !localauth.IsLocalURL(o.url) {
		return tls.Certificate{}, errors.New("-cert and -key are required for a deployed stage")
	}
	certFile, keyFile := filepath.Join(o.journal, "vehicle.crt"), filepath.Join(o.journal, "vehicle.key")
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		return c, nil
	}
	admin, err := client.New(ctx, o.url, client.Options{Credentials: credentials.StaticCredentialsProvider{Value: localauth.AdminKeys}, Region: localauth.Region})
	if err != nil {
		return tls.Certificate{}, err
	}
	r, err := client.RegisterVehicle(ctx, admin, client.NewVehicle{Vid: o.vid, Make: "Simulated", Model: "EV", Year: 2025}, "")
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("register %s with make local: %w", o.vid, err)
	}
	if r.StatusCode() != 201 && r.StatusCode() != 409 {
		return tls.Certificate{}, fmt.Errorf("register %s with make local: %s %.200s", o.vid, r.Status(), r.Body)
	}
	c, _, err := localauth.Provision(ctx, o.url, o.vid)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(o.journal, 0o700); err != nil {
		return tls.Certificate{}, err
	}
	if err := localauth.WriteCertificate(c, certFile, keyFile); err != nil {
		return tls.Certificate{}, err
	}
	return c, nil
}
