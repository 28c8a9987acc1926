package localapi

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// mqttConnect connects to the local broker as vid with a certificate.
func mqttConnect(t *testing.T, s *TestServer, vid string, cert tls.Certificate) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("ssl://" + s.MQTTAddr).SetClientID(vid).
		SetTLSConfig(&tls.Config{RootCAs: s.Registry.CAPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}).
		SetAutoReconnect(false).SetConnectRetry(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, errors.Join(errors.New("connect"), tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

// The whole MQTT path of make local: a registered vehicle, with the
// certificate the local registry gave it, publishes an upload (QoS 1) to
// its Basic Ingest topic; the emulated rule stores it through the ingest
// code, and the fleet reads it back over the REST API, the same event the
// same upload over HTTPS would be. Vehicle B cannot publish to A's topic.
func TestUploadsOverMQTT(t *testing.T) {
	c := newClient(t)
	for _, vid := range []string{"car-A", "car-B"} {
		if a := c.do("POST", "/vehicles", `{"vid":"`+vid+`","make":"BMW","model":"i3","year":2017}`, true, nil); a.status != 201 {
			t.Fatalf("register %s: %d %v", vid, a.status, a.body)
		}
	}
	certA, _ := c.local.Provision(t, "car-A")
	certB, _ := c.local.Provision(t, "car-B")
	up, _ := json.Marshal(workload.NewDrive(3, time.Now().Add(-time.Hour)).Upload(10))

	b, err := mqttConnect(t, c.local, "car-B", certB)
	if err != nil {
		t.Fatal(err)
	}
	b.Publish(contract.BasicIngestTopic(UploadRule, "car-A"), 1, false, up).WaitTimeout(2 * time.Second)
	a, err := mqttConnect(t, c.local, "car-A", certA)
	if err != nil {
		t.Fatal(err)
	}
	if tok := a.Publish(contract.BasicIngestTopic(UploadRule, "car-A"), 1, false, up); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	reader := c.as(localauth.ReaderKeys)
	var events []any
	for deadline := time.Now().Add(10 * time.Second); len(events) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		events, _ = reader.do("GET", "/vehicles/car-A/events", "", true, nil).body["events"].([]any)
	}
	if len(events) != 1 {
		t.Fatalf("car-A has %d events, want its one upload (and nothing from car-B)", len(events))
	}
	if samples, _ := events[0].(map[string]any)["samples"].([]any); len(samples) != 10 {
		t.Errorf("the upload over MQTT stored %d samples, want 10", len(samples))
	}
	if b.IsConnectionOpen() {
		t.Error("car-B published to car-A's topic and stayed connected")
	}
	// The same upload over HTTPS is the same event: stored already.
	if again := c.as(c.vehicle("car-A")).do("POST", "/vehicles/car-A/events", string(up), true, nil); again.status != 200 {
		t.Errorf("the same upload over HTTPS: %d %v, want 200 (stored over MQTT)", again.status, again.body)
	}
	// The next upload compressed, as the agent publishes it, is stored as
	// its JSON would be.
	next, _ := json.Marshal(workload.NewDrive(3, time.Now().Add(-30*time.Minute)).Upload(10))
	if tok := a.Publish(contract.BasicIngestTopic(UploadRule, "car-A"), 1, false, contract.GzipUpload(next)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish compressed: %v", tok.Error())
	}
	for deadline := time.Now().Add(10 * time.Second); len(events) < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		events, _ = reader.do("GET", "/vehicles/car-A/events", "", true, nil).body["events"].([]any)
	}
	if len(events) != 2 {
		t.Fatalf("car-A has %d events after a compressed upload, want 2", len(events))
	}
	if again := c.as(c.vehicle("car-A")).do("POST", "/vehicles/car-A/events", string(next), true, nil); again.status != 200 {
		t.Errorf("the compressed upload's JSON over HTTPS: %d %v, want 200 (the same event)", again.status, again.body)
	}
}
