// Command localapi runs the whole API on this machine, as the deployed
// stage would serve it (package localapi), on a DynamoDB-compatible server
// (dynalite) that keeps its data on disk: `make local`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localapi"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/local/localhistory"
	"github.com/fleetapi/fleetapi/internal/local/localmqtt"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/synthetic"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:3000", "where the API listens")
	flag.StringVar(&o.credentialsAddr, "credentials-addr", "127.0.0.1:3001", "where the vehicles' credentials endpoint listens (mutual TLS)")
	flag.StringVar(&o.mqttAddr, "mqtt-addr", "127.0.0.1:8883", "where the MQTT broker of the vehicles' uploads listens (mutual TLS; the upload rule behind it)")
	flag.StringVar(&o.data, "data", ".local/dynalite", "directory of the local DynamoDB's data")
	flag.StringVar(&o.iot, "iot-data", ".local/iot", "directory of the local thing registry: its CA and the vehicles' certificates")
	flag.IntVar(&o.dbPort, "dynamodb-port", 8000, "port of the local DynamoDB on 127.0.0.1")
	flag.BoolVar(&o.noAuth, "no-auth", false, "take unsigned requests as the local developer's: both fleet classes, no vehicle (for curl)")
	flag.IntVar(&o.retentionDays, "event-retention-days", 30, "event retention, as a stage's")
	flag.StringVar(&o.docs, "docs", "", "the API reference to serve at /docs (make docs renders it)")
	flag.DurationVar(&o.syntheticEvery, "synthetic-every", time.Minute, "how often the synthetic vehicle runs end to end against the stand-ins, as a stage's does (0: never)")
	flag.DurationVar(&o.stateWindow, "state-window", contract.DefaultStateBatchingWindow, "the events stream's batching window before the tracker keeps the vehicles' state, as a stage's stateBatchingWindowSeconds")
	flag.DurationVar(&o.silentAfter, "silent-after", contract.DefaultSilentAfter, "how long a connected vehicle uploads nothing before the fleet's figures count it silent")
	flag.DurationVar(&o.notSeenAfter, "not-seen-after", contract.DefaultNotSeenAfter, "how long a vehicle is not heard of before the fleet's figures count it not seen")
	flag.DurationVar(&o.figuresEvery, "figures-every", 5*time.Minute, "how often the tracker counts the fleet, as a stage's schedule (0: never)")
	flag.StringVar(&o.history, "history", ".local/history", "directory of the fleet's history: Parquet files as the stage's bucket keeps them (make history-sql queries them)")
	flag.DurationVar(&o.historyWindow, "history-window", contract.DefaultHistoryBatchingWindow, "the events stream's batching window before the history writer gets the uploads, as a stage's")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "localapi:", err)
		os.Exit(1)
	}
}

type options struct {
	addr, credentialsAddr, mqttAddr, data, iot, docs, history            string
	dbPort, retentionDays                                                int
	noAuth                                                               bool
	syntheticEvery, stateWindow, silentAfter, notSeenAfter, figuresEvery time.Duration
	historyWindow                                                        time.Duration
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (in use? pass -addr): %w", o.addr, err)
	}
	// Closed on every way out: the servers' shutdown closes them first.
	defer ln.Close()
	credsLn, err := net.Listen("tcp", o.credentialsAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (in use? pass -credentials-addr): %w", o.credentialsAddr, err)
	}
	defer credsLn.Close()
	spec, err := api.Load()
	if err != nil {
		return err
	}
	registry, err := localauth.OpenRegistry(o.iot)
	if err != nil {
		return err
	}
	auth, err := localauth.New(spec, registry, nil)
	if err != nil {
		return err
	}
	serverTLS, err := registry.ServerTLS()
	if err != nil {
		return err
	}
	srv, err := dynalite.Start(ctx, dynalite.Options{Port: o.dbPort, Path: o.data, Stderr: os.Stderr})
	if err != nil {
		return fmt.Errorf("local DynamoDB on 127.0.0.1:%d (in use? pass -dynamodb-port): %w", o.dbPort, err)
	}
	defer srv.Stop()
	db := srv.Client()
	tables := dynamostore.Tables{Vehicles: "fleetapi-local-vehicles", Events: "fleetapi-local-vehicleEvents", State: "fleetapi-local-vehicleState"}
	if err := dynalite.CreateTables(ctx, db, dynalite.Tables(tables)); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	// The functions' bounds of every DynamoDB attempt, as deployed; the
	// events' puts reach the tracker through the stream's stand-in.
	tracking, err := localapi.NewTracking(dynamodb.New(db.Options(), dynamostore.BoundedAttempts), tables, []byte("fleetapi-local-cursor-key-0123456789"),
		localapi.TrackingOptions{Window: o.stateWindow, SilentAfter: o.silentAfter, NotSeenAfter: o.notSeenAfter, Logger: logger,
			History: &localhistory.Dir{Root: o.history}, HistoryWindow: o.historyWindow, HistoryFailures: filepath.Join(o.history, "failures.jsonl")})
	if err != nil {
		return err
	}
	defer tracking.Close()
	store := tracking.Store
	cfg := localapi.Config{Vehicles: store, Events: store, Tracking: tracking, EventRetention: time.Duration(o.retentionDays) * 24 * time.Hour,
		Logger: logger, Auth: auth, AllowUnsigned: o.noAuth}
	if o.docs != "" {
		if cfg.DocsHTML, err = os.ReadFile(o.docs); err != nil {
			return fmt.Errorf("the API reference: %w", err)
		}
	}
	api, err := localapi.New(cfg)
	if err != nil {
		return err
	}
	// Uploads over MQTT: the broker, the certificate policy and the upload
	// rule, into the same ingest code; failures to a dead-letter file.
	broker, err := localmqtt.Start(localmqtt.Options{Addr: o.mqttAddr, Registry: registry, Rule: localapi.UploadRule, Handle: api.Upload,
		DeadLetters: filepath.Join(o.iot, "upload-failures.jsonl"), Lifecycle: tracking.Lifecycle, Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("the MQTT broker on %s (in use? pass -mqtt-addr): %w", o.mqttAddr, err)
	}
	defer broker.Close()
	hs := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	cs := &http.Server{Handler: auth.CredentialsProvider(), TLSConfig: serverTLS, ReadHeaderTimeout: 10 * time.Second}
	go cs.ServeTLS(credsLn, "", "")
	if o.syntheticEvery > 0 {
		apiURL := "http://" + ln.Addr().String()
		at := localapi.Endpoints{API: apiURL, STS: apiURL + localauth.STSPath, Credentials: "https://" + credsLn.Addr().String(), MQTT: o.mqttAddr}
		probe, err := localapi.NewSyntheticVehicle(ctx, registry, store, at, o.iot)
		if err != nil {
			return err
		}
		go runSynthetic(ctx, probe, o.syntheticEvery, cfg.Logger)
	}
	if o.figuresEvery > 0 {
		go countFleet(ctx, tracking, o.figuresEvery)
	}
	var dbDied error
	shutdownDone := make(chan struct{})
	go func() {
		defer close(shutdownDone)
		select {
		case <-ctx.Done():
		case <-srv.Done():
			// Without its DynamoDB the API answers nothing but 503s: stop,
			// and say why, rather than look alive.
			dbDied = fmt.Errorf("the local DynamoDB exited (%v); its output is above", srv.Err())
		}
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cs.Shutdown(shutdown)
		hs.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "FleetApi on http://%s (stage %s, reference at /docs), DynamoDB on %s with its data in %s\n", ln.Addr(), localapi.Stage, srv.Endpoint, o.data)
	fmt.Fprintf(os.Stderr, "callers sign with SigV4 for service execute-api, Region %s:\n", localauth.Region)
	fmt.Fprintf(os.Stderr, "  fleet-admin: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", localauth.AdminKeys.AccessKeyID, localauth.AdminKeys.SecretAccessKey)
	fmt.Fprintf(os.Stderr, "  fleet-read:  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", localauth.ReaderKeys.AccessKeyID, localauth.ReaderKeys.SecretAccessKey)
	fmt.Fprintf(os.Stderr, "the functions' Lambda Invoke (%s), for the operator alone: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", localauth.LambdaPath, localauth.OperatorKeys.AccessKeyID, localauth.OperatorKeys.SecretAccessKey)
	fmt.Fprintf(os.Stderr, "  vehicles: a certificate from POST %s/certificates?thing=VID (fleet-admin, service iot), credentials from https://%s/role-aliases/%s/credentials (CA %s/ca.pem), then AssumeRole of %s at http://%s%s\n",
		localauth.ProvisioningPath, credsLn.Addr(), localauth.RoleAlias, o.iot, localauth.VehicleRole, ln.Addr(), localauth.STSPath)
	fmt.Fprintf(os.Stderr, "  vehicles upload over MQTT to mqtts://%s, client ID their thing name, topic %s (their certificate; QoS 1); failed uploads in %s\n",
		o.mqttAddr, contract.BasicIngestTopic(localapi.UploadRule, "VID"), filepath.Join(o.iot, "upload-failures.jsonl"))
	if o.syntheticEvery > 0 {
		fmt.Fprintf(os.Stderr, "  the synthetic vehicle %s runs every %v: its steps' metrics in the log, a failure also here\n", localapi.SyntheticVID, o.syntheticEvery)
	}
	fmt.Fprintf(os.Stderr, "the vehicles' state: GET /vehicles/VID/state and /fleet/state, the uploads' stream in batches of %v (-state-window), connects and disconnects from the broker; the fleet counted every %v (-figures-every)\n",
		o.stateWindow, o.figuresEvery)
	fmt.Fprintf(os.Stderr, "the fleet's history: the uploads' stream in batches of %v (-history-window) as Parquet files in %s, the records it could not decode in %s\n",
		o.historyWindow, o.history, filepath.Join(o.history, "failures.jsonl"))
	if o.noAuth {
		fmt.Fprintln(os.Stderr, "unsigned requests are the local developer's: both fleet classes, no vehicle (-no-auth)")
	}
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-shutdownDone
	if dbDied != nil {
		return dbDied
	}
	fmt.Fprintln(os.Stderr, "stopped")
	return nil
}

// runSynthetic runs the synthetic vehicle now and every interval until ctx
// ends, logging each run as the stage's function does (its steps'
// metrics), and a failed run on stderr too.
func runSynthetic(ctx context.Context, probe synthetic.Config, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		// The servers start serving as this starts.
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		report := synthetic.Run(ctx, probe)
		if ctx.Err() != nil {
			return
		}
		synthetic.Log(logger, probe.VID, time.Now(), report)
		if failed, ok := report.Failed(); ok {
			fmt.Fprintf(os.Stderr, "synthetic vehicle: %s failed: %v\n", failed.Step, failed.Err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// countFleet counts the fleet every interval until ctx ends, as the
// stage's schedule invokes the tracker: its figures are a log line.
func countFleet(ctx context.Context, tracking *localapi.Tracking, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := tracking.Tracker.Invoke(ctx, []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`)); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "fleet figures:", err)
		}
	}
}
