package localmqtt

import (
	"bufio"
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
	"os"
	"path/filepath"
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
	dead     string
}

func start(t *testing.T) *fixture {
	t.Helper()
	reg, err := localauth.OpenRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{addr: faultnet.FreeAddr(t), registry: reg, rec: &recorder{}, dead: filepath.Join(t.TempDir(), "dead-letters.jsonl")}
	s, err := Start(Options{Addr: f.addr, Registry: reg, Rule: rule, Handle: f.rec.handle, DeadLetters: f.dead, RetryDelay: time.Millisecond})
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
