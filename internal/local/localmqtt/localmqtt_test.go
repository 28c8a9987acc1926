package localmqtt

import (
	"bufio"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/faultnet"
)

const rule = "FleetApi_local_Fleet_Uploads"

// recorder is the ingest code's stand-in: it records what the rule hands
// it and fails as told.
type recorder struct {
	mu     sync.Mutex
	events []contract.RuleEvent
	fail   error
}

func (r *recorder) handle(_ context.Context, ev contract.RuleEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return r.fail
}

func (r *recorder) got() []contract.RuleEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]contract.RuleEvent(nil), r.events...)
}

type fixture struct {
	addr     string
	registry *localauth.Registry
	rec      *recorder
	life     *lifecycleRecorder
	dead     string
}

// lifecycleRecorder is the tracker's stand-in: it records the lifecycle
// events the rule hands it.
type lifecycleRecorder struct {
	mu     sync.Mutex
	events []contract.LifecycleEvent
}

func (r *lifecycleRecorder) handle(_ context.Context, ev contract.LifecycleEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

// of waits for n events of clientID and sorts them.
func (r *lifecycleRecorder) of(t *testing.T, clientID string, n int) []contract.LifecycleEvent {
	t.Helper()
	var got []contract.LifecycleEvent
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = got[:0]
		r.mu.Lock()
		for _, ev := range r.events {
			if ev.ClientID == clientID {
				got = append(got, ev)
			}
		}
		r.mu.Unlock()
		if len(got) >= n {
			// Handed over asynchronously, as the rule does: in the order
			// of the connections, connected before disconnected.
			slices.SortStableFunc(got, func(a, b contract.LifecycleEvent) int {
				return cmp.Or(cmp.Compare(a.VersionNumber, b.VersionNumber), cmp.Compare(a.EventType, b.EventType))
			})
			return got
		}
	}
	t.Fatalf("%s: %d lifecycle events %+v, want %d", clientID, len(got), got, n)
	return nil
}

func start(t *testing.T) *fixture {
	t.Helper()
	reg, err := localauth.OpenRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{addr: faultnet.FreeAddr(t), registry: reg, rec: &recorder{}, life: &lifecycleRecorder{}, dead: filepath.Join(t.TempDir(), "dead-letters.jsonl")}
	s, err := Start(Options{Addr: f.addr, Registry: reg, Rule: rule, Handle: f.rec.handle, Lifecycle: f.life.handle, DeadLetters: f.dead, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return f
}

// certificate registers a thing with a certificate from a key made here,
// as a vehicle would (CSR), and returns its TLS certificate and ID.
func (f *fixture) certificate(t *testing.T, thing string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: thing}}, key)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := f.registry.CreateFromCSR(thing, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(issued.CertificatePEM))
	return tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key}, issued.CertificateID
}

// connect connects as clientID with a certificate; the error is the
// broker's refusal.
func (f *fixture) connect(t *testing.T, clientID string, cert tls.Certificate) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("ssl://" + f.addr).SetClientID(clientID).
		SetTLSConfig(&tls.Config{RootCAs: f.registry.CAPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

// thing connects a new thing with a certificate of its own, as itself.
func (f *fixture) thing(t *testing.T, name string) paho.Client {
	t.Helper()
	cert, _ := f.certificate(t, name)
	c, err := f.connect(t, name, cert)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dialTLS opens a TLS connection with a new certificate of thing, for a
// test that speaks MQTT by hand.
func (f *fixture) dialTLS(t *testing.T, thing string) *tls.Conn {
	t.Helper()
	cert, _ := f.certificate(t, thing)
	conn, err := tls.Dial("tcp", f.addr, &tls.Config{RootCAs: f.registry.CAPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A vehicle connected as its own thing publishes to its topic with QoS 1:
// acknowledged, then handed to the ingest code with the vid from the
// topic, the client ID and the payload as it came.
func TestAVehicleUploadsOnItsTopic(t *testing.T) {
	f := start(t)
	c := f.thing(t, "car-1")
	body := `{"samples":[{"timestamp":"2026-11-26T07:00:00Z","signals":{"Vehicle.Speed":50}}]}`
	tok := c.Publish(contract.BasicIngestTopic(rule, "car-1"), 1, false, body)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	evs := waitFor(t, f.rec, 1)
	payload, _ := base64.StdEncoding.DecodeString(evs[0].Payload)
	if evs[0].VID != "car-1" || evs[0].ClientID != "car-1" || evs[0].Topic != "vehicles/car-1/events" || string(payload) != body || evs[0].Source != contract.RuleEventSource {
		t.Errorf("the rule's event %+v (payload %s)", evs[0], payload)
	}
}

// The certificate policy: another vehicle's topic disconnects the client
// (MQTT 3.1.1 has no refusal of a publish) and reaches nothing; a client
// ID other than the certificate's thing, a revoked certificate and a
// subscription are refused.
func TestTheCertificatePolicy(t *testing.T) {
	f := start(t)
	cert1, _ := f.certificate(t, "car-1")
	c, err := f.connect(t, "car-1", cert1)
	if err != nil {
		t.Fatal(err)
	}
	c.Publish(contract.BasicIngestTopic(rule, "car-2"), 1, false, `{"samples":[]}`).WaitTimeout(2 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for c.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c.IsConnectionOpen() {
		t.Error("car-1 published to car-2's topic and stayed connected")
	}
	if _, err := f.connect(t, "car-2", cert1); err == nil {
		t.Error("car-1's certificate connected as car-2")
	}
	cert3, id3 := f.certificate(t, "car-3")
	if err := f.registry.Revoke(id3); err != nil {
		t.Fatal(err)
	}
	if _, err := f.connect(t, "car-3", cert3); err == nil {
		t.Error("a revoked certificate connected")
	}
	cert4, _ := f.certificate(t, "car-4")
	c4, err := f.connect(t, "car-4", cert4)
	if err != nil {
		t.Fatal(err)
	}
	sub := c4.Subscribe("vehicles/#", 1, nil).(*paho.SubscribeToken)
	if !sub.WaitTimeout(5 * time.Second) {
		t.Fatal("subscribe timed out")
	}
	if code, ok := sub.Result()["vehicles/#"]; sub.Error() == nil && (!ok || code != 0x80) {
		t.Errorf("subscription granted: %v", sub.Result())
	}
	if got := f.rec.got(); len(got) != 0 {
		t.Errorf("the rule got %+v from refused clients", got)
	}
}

// An upload the ingest code fails on every attempt is written to the
// dead-letter file with the event and the error, once.
func TestFailedUploadsAreDeadLettered(t *testing.T) {
	f := start(t)
	f.rec.fail = errors.New("upload on vehicles/car-1/events not stored: temporarily unavailable")
	c := f.thing(t, "car-1")
	c.Publish(contract.BasicIngestTopic(rule, "car-1"), 1, false, `{"samples":[]}`).WaitTimeout(5 * time.Second)
	waitFor(t, f.rec, 3)
	var letters []contract.DestinationRecord
	for deadline := time.Now().Add(5 * time.Second); len(letters) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		letters = readDeadLetters(t, f.dead)
	}
	if len(letters) != 1 || letters[0].RequestContext.ApproximateInvokeCount != 3 || letters[0].RequestPayload.VID != "car-1" || letters[0].ResponsePayload["errorMessage"] != f.rec.fail.Error() {
		t.Errorf("dead letters %+v", letters)
	}
}

func waitFor(t *testing.T, r *recorder, n int) []contract.RuleEvent {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got := r.got(); len(got) >= n {
			return got
		}
	}
	t.Fatalf("the rule got %d events, want %d", len(r.got()), n)
	return nil
}

func readDeadLetters(t *testing.T, path string) []contract.DestinationRecord {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []contract.DestinationRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d contract.DestinationRecord
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// Each connection is a connected event and a disconnected one, as IoT
// Core publishes them on $aws/events/presence/...: one session and one
// version number for both, a version more for the client's next
// connection, and the reason of the end as the developer guide names it
// ("Lifecycle events": CLIENT_INITIATED_DISCONNECT, DUPLICATE_CLIENTID,
// CONNECTION_LOST, AUTH_ERROR, CLIENT_ERROR).
func TestLifecycleEvents(t *testing.T) {
	f := start(t)
	cert, _ := f.certificate(t, "car-1")
	first, err := f.connect(t, "car-1", cert)
	if err != nil {
		t.Fatal(err)
	}
	first.Disconnect(250)
	evs := f.life.of(t, "car-1", 2)
	conn, disc := evs[0], evs[1]
	if conn.EventType != contract.LifecycleConnected || conn.VersionNumber != 1 || conn.SessionIdentifier == "" || conn.IPAddress != "127.0.0.1" || conn.ClientInitiatedDisconnect != nil || conn.DisconnectReason != "" {
		t.Errorf("connected: %+v", conn)
	}
	if disc.EventType != contract.LifecycleDisconnected || disc.VersionNumber != 1 || disc.SessionIdentifier != conn.SessionIdentifier ||
		disc.DisconnectReason != "CLIENT_INITIATED_DISCONNECT" || disc.ClientInitiatedDisconnect == nil || !*disc.ClientInitiatedDisconnect || disc.Timestamp < conn.Timestamp {
		t.Errorf("disconnected: %+v after %+v", disc, conn)
	}

	// The same client ID again takes the connection over.
	if _, err := f.connect(t, "car-1", cert); err != nil {
		t.Fatal(err)
	}
	if _, err := f.connect(t, "car-1", cert); err != nil {
		t.Fatal(err)
	}
	evs = f.life.of(t, "car-1", 5)
	if evs[2].VersionNumber != 2 || evs[2].SessionIdentifier == conn.SessionIdentifier {
		t.Errorf("the next connection: %+v, want version 2 in a session of its own", evs[2])
	}
	var taken *contract.LifecycleEvent
	for i := range evs[2:] {
		if ev := evs[2+i]; ev.EventType == contract.LifecycleDisconnected {
			taken = &ev
		}
	}
	if taken == nil || taken.VersionNumber != 2 || taken.DisconnectReason != "DUPLICATE_CLIENTID" || *taken.ClientInitiatedDisconnect {
		t.Errorf("taken over: %+v, want version 2 ended by DUPLICATE_CLIENTID", taken)
	}

	// A publish the policy refuses, a payload over the limit, a dropped
	// connection.
	ends := map[string]func(c paho.Client){
		"AUTH_ERROR": func(c paho.Client) {
			c.Publish(contract.BasicIngestTopic(rule, "car-9"), 1, false, "{}").WaitTimeout(2 * time.Second)
		},
		"CLIENT_ERROR": func(c paho.Client) {
			c.Publish(contract.BasicIngestTopic(rule, "car-2"), 1, false, make([]byte, 128*1024+1)).WaitTimeout(2 * time.Second)
		},
	}
	for reason, end := range ends {
		end(f.thing(t, "car-2"))
		evs := f.life.of(t, "car-2", 2)
		if last := evs[len(evs)-1]; last.DisconnectReason != reason || *last.ClientInitiatedDisconnect {
			t.Errorf("%s: %+v", reason, last)
		}
		f.life.mu.Lock()
		f.life.events = nil
		f.life.mu.Unlock()
	}
	conn3 := f.dialTLS(t, "car-3")
	connect := []byte{0x10, 20, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, 5, 'c', 'a', 'r', '-', '3'}
	connect[1] = byte(len(connect) - 2)
	if _, err := conn3.Write(connect); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn3, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK %x: %v", ack, err)
	}
	conn3.Close()
	if last := f.life.of(t, "car-3", 2)[1]; last.DisconnectReason != "CONNECTION_LOST" || *last.ClientInitiatedDisconnect {
		t.Errorf("dropped: %+v", last)
	}
}
