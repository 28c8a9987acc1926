package localapi

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/local/localmqtt"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/httpapi"
)

// TestServer is the local API on a free 127.0.0.1 port, with its
// credentials endpoint on another (mutual TLS, the registry's test CA),
// for tests over real HTTP. Both stop with the test.
type TestServer struct {
	// URL is the API's; STSURL the local STS's, beside it.
	URL, STSURL string
	// CredentialsURL is the local credentials provider's.
	CredentialsURL string
	// CAPEM is the CA the credentials endpoint's certificate chains to.
	CAPEM []byte
	// MQTTAddr is the local broker's (mutual TLS, the upload rule behind
	// it); DeadLetters the file of the uploads it could not store.
	MQTTAddr, DeadLetters string
	Auth                  *localauth.Authority
	Registry              *localauth.Registry
	// Vehicles is the store the API serves, for what only a stage does
	// without the API (registering its synthetic vehicle).
	Vehicles httpapi.VehicleStore
	// Tracking keeps the vehicles' state, when the server has one
	// (NewTestServerOn): Tracking.Stream.Flush delivers the stream now.
	Tracking *Tracking
}

// NewTestServer serves cfg (its Auth made here, with a registry in
// memory; a nil Logger discards the logs).
func NewTestServer(t testing.TB, cfg Config) *TestServer {
	t.Helper()
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	registry, err := localauth.OpenRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth, err = localauth.New(spec, registry, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	tlsConfig, err := registry.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	creds := httptest.NewUnstartedServer(cfg.Auth.CredentialsProvider())
	creds.TLS = tlsConfig
	creds.StartTLS()
	t.Cleanup(creds.Close)
	ts := &TestServer{URL: hs.URL, STSURL: hs.URL + localauth.STSPath, CredentialsURL: creds.URL, CAPEM: registry.CAPEM(), Auth: cfg.Auth, Registry: registry, Vehicles: cfg.Vehicles,
		MQTTAddr: freeAddr(t), DeadLetters: filepath.Join(t.TempDir(), "upload-failures.jsonl"), Tracking: cfg.Tracking}
	opts := localmqtt.Options{Addr: ts.MQTTAddr, Registry: registry, Rule: UploadRule, Handle: srv.Upload,
		DeadLetters: ts.DeadLetters, RetryDelay: 10 * time.Millisecond, Logger: cfg.Logger}
	if cfg.Tracking != nil {
		opts.Lifecycle = cfg.Tracking.Lifecycle
	}
	broker, err := localmqtt.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Close() })
	return ts
}

// Provision registers a certificate for vehicle vid, as the fleet admin.
func (s *TestServer) Provision(t testing.TB, vid string) (tls.Certificate, string) {
	t.Helper()
	cert, id, err := localauth.Provision(context.Background(), s.URL, vid)
	if err != nil {
		t.Fatal(err)
	}
	return cert, id
}

// NewTestServerOn is NewTestServer with a store of fresh tables on db (a
// test's dynalite) for cfg's Vehicles, Events and States, and the stage's
// tracker keeping the state, its stream's batching window that of
// cfg.Tracking's options if set, else 50 ms.
func NewTestServerOn(t testing.TB, db *dynamodb.Client, cfg Config) *TestServer {
	t.Helper()
	return NewTestServerTracking(t, db, cfg, TrackingOptions{Window: 50 * time.Millisecond})
}

// NewTestServerTracking is NewTestServerOn with the tracker's options.
func NewTestServerTracking(t testing.TB, db *dynamodb.Client, cfg Config, o TrackingOptions) *TestServer {
	t.Helper()
	tables := dynalite.NewTables(t, db)
	tracking, err := NewTracking(db, dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, []byte(strings.Repeat("k", 32)), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tracking.Close)
	cfg.Vehicles, cfg.Events, cfg.Tracking = tracking.Store, tracking.Store, tracking
	return NewTestServer(t, cfg)
}

// freeAddr is an address on 127.0.0.1 where nothing listens now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Endpoints are where s's stand-ins listen.
func (s *TestServer) Endpoints() Endpoints {
	return Endpoints{API: s.URL, STS: s.STSURL, Credentials: s.CredentialsURL, MQTT: s.MQTTAddr}
}
