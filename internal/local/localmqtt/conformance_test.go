package localmqtt

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/faultnet"
	"github.com/fleetapi/fleetapi/internal/testutil/logbuf"
)

// The broker's conformance to AWS IoT Core where clients found it answered
// otherwise (issue 29), each case quoting IoT Core's page (the policy
// hook's comment) or saying where the stand-in is stricter.

func startLogged(t *testing.T, connectTimeout time.Duration) (*fixture, *logbuf.Buffer) {
	t.Helper()
	reg, err := localauth.OpenRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	f := &fixture{addr: faultnet.FreeAddr(t), registry: reg, rec: &recorder{}, dead: filepath.Join(t.TempDir(), "dead-letters.jsonl")}
	s, err := Start(Options{Addr: f.addr, Registry: reg, Rule: rule, Handle: f.rec.handle, DeadLetters: f.dead, RetryDelay: time.Millisecond,
		ConnectTimeout: connectTimeout, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return f, logs
}

// waitClosed waits for a client's connection to be closed.
func waitClosed(open func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); open() && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	return !open()
}

// "AWS IoT Core does not support publishing or subscribing with QoS level
// 2. When QoS level 2 is requested, the AWS IoT message broker does not
// send a PUBACK or SUBACK": a QoS 2 upload gets no PUBREC and is not
// stored (it was acknowledged and stored).
func TestConformanceQoS2IsNotAcknowledged(t *testing.T) {
	f, _ := startLogged(t, 0)
	c := f.thing(t, "car-1")
	tok := c.Publish(contract.BasicIngestTopic(rule, "car-1"), 2, false, `{"samples":[]}`)
	if tok.WaitTimeout(time.Second) {
		t.Errorf("a QoS 2 publish was acknowledged (%v)", tok.Error())
	}
	time.Sleep(200 * time.Millisecond)
	if got := f.rec.got(); len(got) != 0 {
		t.Errorf("a QoS 2 publish reached the rule: %+v", got)
	}
}

// "The payload for every publish request can be no larger than 128 KB",
// and a client is disconnected "if the client attempts to publish with a
// payload that exceeds the payload limit": a 200 KB upload is neither
// acknowledged nor dead-lettered (it was acknowledged, then dead-lettered
// with the length of its base64).
func TestConformancePayloadOver128KBDisconnects(t *testing.T) {
	f, _ := startLogged(t, 0)
	c := f.thing(t, "car-1")
	tok := c.Publish(contract.BasicIngestTopic(rule, "car-1"), 1, false, bytes.Repeat([]byte("x"), 200<<10))
	if tok.WaitTimeout(2*time.Second) && tok.Error() == nil {
		t.Error("a 200 KB publish was acknowledged")
	}
	if !waitClosed(c.IsConnectionOpen) {
		t.Error("a 200 KB publish left the client connected")
	}
	if got, dead := f.rec.got(), readDeadLetters(t, f.dead); len(got) != 0 || len(dead) != 0 {
		t.Errorf("a 200 KB publish reached the rule (%d) or the dead letters (%d)", len(got), len(dead))
	}
	// 128 KB exactly is a payload IoT Core takes.
	c2 := f.thing(t, "car-1")
	if tok := c2.Publish(contract.BasicIngestTopic(rule, "car-1"), 1, false, bytes.Repeat([]byte("x"), 128<<10)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Errorf("a 128 KB publish: %v", tok.Error())
	}
}

// An authorization failure disconnects ("AUTH_ERROR: The client failed to
// authenticate or authorization failed"): a QoS 0 publish on another
// vehicle's topic too (it was dropped with the connection kept), and the
// log names the client, topic and size, never the payload (it held it).
func TestConformanceRefusedQoS0PublishDisconnects(t *testing.T) {
	f, logs := startLogged(t, 0)
	c := f.thing(t, "car-1")
	c.Publish(contract.BasicIngestTopic(rule, "car-2"), 0, false, `{"secret":"POSITION-OF-CAR-1"}`)
	if !waitClosed(c.IsConnectionOpen) {
		t.Error("a QoS 0 publish on car-2's topic left car-1 connected")
	}
	if strings.Contains(logs.String(), "POSITION-OF-CAR-1") || !strings.Contains(logs.String(), `"payloadBytes":30`) {
		t.Errorf("the refusal's log: %s", logs.String())
	}
	if got := f.rec.got(); len(got) != 0 {
		t.Errorf("the rule got %+v", got)
	}
}

// MQTT 5 too: a QoS 1 publish on another's topic closes the connection
// (it got a PUBACK with reason 0x87 and kept it). MQTT 5 spoken with the
// broker's own packet codec.
func TestConformanceRefusedMQTT5PublishDisconnects(t *testing.T) {
	f, _ := startLogged(t, 0)
	conn := f.dialTLS(t, "car-1")
	write := func(pk packets.Packet, encode func(*packets.Packet, *bytes.Buffer) error) {
		var buf bytes.Buffer
		if err := encode(&pk, &buf); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: "car-1", Keepalive: 30, Clean: true}}, (*packets.Packet).ConnectEncode)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, 2)
	if _, err := io.ReadFull(conn, head); err != nil || head[0]>>4 != packets.Connack {
		t.Fatalf("CONNACK: %x %v", head, err)
	}
	io.ReadFull(conn, make([]byte, head[1]))
	write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 5, PacketID: 7,
		TopicName: contract.BasicIngestTopic(rule, "car-2"), Payload: []byte(`{"samples":[]}`)}, (*packets.Packet).PublishEncode)
	// The next bytes: the connection's end (or a DISCONNECT), no PUBACK.
	b := make([]byte, 1)
	_, err := conn.Read(b)
	if err == nil && b[0]>>4 == packets.Puback {
		t.Error("an MQTT 5 publish on car-2's topic got a PUBACK")
	}
	if err == nil && b[0]>>4 == packets.Disconnect {
		io.Copy(io.Discard, conn) // the DISCONNECT, then the end
	} else if err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Errorf("after a refused publish: %v, want the connection closed", err)
	}
}

// A connection that never sends CONNECT is closed (it was held 20 s and
// more): IoT Core documents no wait; the stand-in closes it after its
// ConnectTimeout (10 s; 300 ms here).
func TestConformanceSilentConnectionIsClosed(t *testing.T) {
	f, _ := startLogged(t, 300*time.Millisecond)
	conn := f.dialTLS(t, "car-1")
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("a silent connection: %v after %v, want closed within the connect timeout", err, time.Since(start))
	}
}
