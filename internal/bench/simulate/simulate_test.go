package simulate

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/fleetapi/fleetapi/agent"

	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localapi"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/ops/redrive"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// localStack starts dynalite with its data on disk, the tables and the
// local API with its credentials endpoint, and returns the local DynamoDB,
// the run's clients (the fleet's keys; each vehicle its certificate's
// credentials), the clients' retries, and those of them after an answer
// other than 503.
func localStack(t *testing.T, data string, port int) (*dynalite.Server, Config, *atomic.Int64, *atomic.Int64, *localapi.TestServer) {
	t.Helper()
	ctx := context.Background()
	srv, err := dynalite.Start(ctx, dynalite.Options{Port: port, Path: data, Instant: true})
	if err != nil {
		t.Fatal(err)
	}
	db := srv.Client()
	tables := dynamostore.Tables{Vehicles: "sim-vehicles", Events: "sim-events", State: "sim-state"}
	if err := dynalite.CreateTables(ctx, db, dynalite.Tables(tables)); err != nil {
		t.Fatal(err)
	}
	tracking, err := localapi.NewTracking(db, tables, []byte(strings.Repeat("k", 32)), localapi.TrackingOptions{Window: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tracking.Close)
	local := localapi.NewTestServer(t, localapi.Config{Vehicles: tracking.Store, Events: tracking.Store, Tracking: tracking, EventRetention: 24 * time.Hour})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, local.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	retries, not503 := &atomic.Int64{}, &atomic.Int64{}
	opts := client.Options{Region: localauth.Region, MaxAttempts: 10, OnRetry: func(status int) {
		retries.Add(1)
		if status != 503 {
			not503.Add(1)
		}
	}}
	fleet := func(keys aws.Credentials) *client.ClientWithResponses {
		o := opts
		o.Credentials = credentials.StaticCredentialsProvider{Value: keys}
		c, err := client.New(ctx, local.URL, o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	id := Identity{CredentialsEndpoint: local.CredentialsURL, CAFile: ca, RoleAlias: localauth.RoleAlias, VehicleRoleArn: localauth.VehicleRole,
		Region: localauth.Region, STSEndpoint: local.STSURL, Options: opts,
		MQTTEndpoint: local.MQTTAddr, Topic: contract.BasicIngestTopic(localapi.UploadRule, agent.VIDVariable),
		Certificate: func(ctx context.Context, vid string) (tls.Certificate, error) {
			cert, _, err := localauth.Provision(ctx, local.URL, vid)
			return cert, err
		}}
	return srv, Config{Admin: fleet(localauth.AdminKeys), Reader: fleet(localauth.ReaderKeys), Vehicle: id.Vehicles(local.URL), Publisher: id.Publishers()},
		retries, not503, local
}

// Every acknowledged sample is stored, once, over both paths; and the
// vehicles' state follows: each vehicle's newest sample reaches its state
// (the stream's window here is 50 ms), the fleet's view lists them in the
// drive area, and over MQTT the vehicles show connected while they drive
// and, disconnected at the end, none is.
func TestSimulatedFleetIsStoredOnce(t *testing.T) {
	srv, cfg, retries, _, _ := localStack(t, t.TempDir(), 0)
	defer srv.Stop()
	for _, protocol := range []string{"https", "mqtt"} {
		cfg.Protocol, cfg.Vehicles, cfg.Driving, cfg.Speedup, cfg.Retries = protocol, 3, 2*time.Minute, 600, retries
		cfg.StateEvery, cfg.StateSettle = 50*time.Millisecond, 30*time.Second
		r, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(r)
		if r.Sent != 36 || r.Accepted != 36 || r.Failed != 0 || r.Stored != 360 || r.Lost != 0 || r.Duplicated != 0 {
			t.Errorf("%s: report %v, want 36 uploads accepted and 360 samples stored, once", protocol, r)
		}
		if f := r.Fleet; f == nil || f.Listed != 3 || f.InArea != 3 || f.Connected != 0 || f.Silent != 0 || r.StateUnseen != 0 || r.FreshMax <= 0 {
			t.Errorf("%s: fleet view %+v, %d samples unseen, freshness max %v: want the 3 vehicles listed in the area, none connected, every sample seen",
				protocol, f, r.StateUnseen, r.FreshMax)
		} else if wantPeak := map[string]bool{"https": false, "mqtt": true}[protocol]; (f.ConnectedPeak > 0) != wantPeak {
			t.Errorf("%s: at most %d vehicles connected while driving; want some: %v", protocol, f.ConnectedPeak, wantPeak)
		}
	}
}

// runThroughAnOutage runs cfg, stops the local DynamoDB 1.5 s in, starts it
// again on the same data and port 1.5 s later, and returns the run's report.
func runThroughAnOutage(t *testing.T, srv *dynalite.Server, data string, cfg Config) Report {
	t.Helper()
	port, err := strconv.Atoi(strings.TrimPrefix(srv.Endpoint, "http://127.0.0.1:"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Report, 1)
	go func() {
		r, err := Run(context.Background(), cfg)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	time.Sleep(1500 * time.Millisecond)
	srv.Stop() // the outage
	time.Sleep(1500 * time.Millisecond)
	again, err := dynalite.Start(context.Background(), dynalite.Options{Port: port, Path: data, Instant: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.Stop)
	return <-done
}

// The local DynamoDB stops in the middle of a run and comes back: the API
// answers 503 with Retry-After meanwhile (never hangs, never a bare 500),
// recovers without a restart, the client's retries complete, and every
// upload acknowledged with 2xx is readable afterwards, none twice.
func TestFleetSurvivesADynamoDBOutage(t *testing.T) {
	data := t.TempDir()
	srv, cfg, retries, not503, _ := localStack(t, data, 0)
	cfg.Vehicles, cfg.Driving, cfg.Speedup, cfg.Retries = 4, 3*time.Minute, 30, retries
	r := runThroughAnOutage(t, srv, data, cfg)
	t.Log(r)
	if r.Retried == 0 {
		t.Error("no retry: the outage was not seen")
	}
	if n := not503.Load(); n > 0 {
		t.Errorf("%d of %d retries followed an answer other than 503", n, r.Retried)
	}
	if r.Accepted != r.Sent || r.Failed != 0 || r.Lost != 0 || r.Duplicated != 0 || r.Stored != int(r.Accepted)*10 {
		t.Errorf("report %v: want every upload accepted after retries, stored once", r)
	}
}

// Over MQTT, DynamoDB stops in the middle of a run and comes back: every
// upload is acknowledged (IoT Core, here the local broker, takes it), the
// rule's attempts fail meanwhile, and those uploads go to the dead-letter
// file; after the outage the redrive stores them: no acknowledged sample
// lost, none stored twice.
func TestFleetOverMQTTSurvivesADynamoDBOutage(t *testing.T) {
	data := t.TempDir()
	srv, cfg, _, _, local := localStack(t, data, 0)
	cfg.Protocol, cfg.Vehicles, cfg.Driving, cfg.Speedup, cfg.Settle = "mqtt", 4, 3*time.Minute, 30, 5*time.Second
	r := runThroughAnOutage(t, srv, data, cfg)
	t.Log("before the redrive: ", r)
	if r.Accepted != r.Sent || r.Failed != 0 || r.Lost == 0 {
		t.Fatalf("report %v: want every upload acknowledged, and the outage's not stored", r)
	}
	q, err := redrive.OpenFile(local.DeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	fn := lambda.New(lambda.Options{Region: localauth.Region, BaseEndpoint: aws.String(local.URL + localauth.LambdaPath),
		Credentials: credentials.StaticCredentialsProvider{Value: localauth.OperatorKeys}})
	rr, err := redrive.Run(context.Background(), q, redrive.LambdaInvoke(fn, "local-ingest"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	t.Log("redrive: ", rr)
	if err := ReadBack(context.Background(), cfg.Reader, &r); err != nil {
		t.Fatal(err)
	}
	t.Log("after the redrive: ", r)
	if rr.Stored != rr.Received || r.Lost != 0 || r.Duplicated != 0 || r.Stored != r.AckedSamples() {
		t.Errorf("after the redrive %v (%v): want every acknowledged sample stored, once", r, rr)
	}
}
