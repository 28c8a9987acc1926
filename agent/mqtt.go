package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/vehicleconn"
)

// VIDVariable is what the stack output UploadTopic holds in place of the
// vehicle's thing name.
const VIDVariable = "${VID}"

// MQTTOptions say where and as whom a vehicle publishes its uploads.
type MQTTOptions struct {
	// Endpoint is the account's device data endpoint, host[:port] (`aws
	// iot describe-endpoint --endpoint-type iot:Data-ATS`; port 8883 if
	// none), or make local's broker.
	Endpoint string
	// Topic is the stack output UploadTopic; its ${VID} is replaced by
	// ThingName.
	Topic string
	// ThingName is the vehicle's thing, its vid: the MQTT client ID, the
	// only one its certificate's policy lets it connect with.
	ThingName string
	// CertFile and KeyFile are the vehicle's certificate and private key,
	// PEM; or Certificate holds them.
	CertFile, KeyFile string
	Certificate       *tls.Certificate
	// CAFile is the PEM of the CA the endpoint's certificate chains to.
	// Default: the system's roots (Amazon Root CA 1 for IoT Core).
	CAFile string
	// KeepAlive of the connection: 30 s to 1,200 s for IoT Core. Default 5
	// minutes.
	KeepAlive time.Duration
	// Timeout bounds a connection attempt and the wait for a PUBACK.
	// Default 10 s.
	Timeout time.Duration
	// Uncompressed publishes the upload's JSON as it is. By default it is
	// gzip-compressed, which the ingest function inflates: IoT Core meters
	// the rule and its Lambda action in 5 KB increments, and a 10-sample
	// upload, 4.9 KB of JSON and 6.6 KB once the rule base64-encodes it,
	// takes two increments of the action where its gzip (under 1 KB at
	// the talk's workload) takes one.
	Uncompressed bool
}

// MQTTUploader publishes batches with QoS 1 to the vehicle's upload topic
// over one connection, made when the first batch is sent and made again
// after any failure. The session is clean: what a lost connection left
// unacknowledged is the agent's to send again, from its journal.
type MQTTUploader struct {
	o     MQTTOptions
	tls   *tls.Config
	topic string
	mu    sync.Mutex
	conn  paho.Client
}

// NewMQTTUploader checks o and loads the certificates; it connects later.
func NewMQTTUploader(o MQTTOptions) (*MQTTUploader, error) {
	if o.Endpoint == "" || o.Topic == "" || o.ThingName == "" {
		return nil, errors.New("agent: MQTT needs Endpoint, Topic and ThingName")
	}
	if !strings.Contains(o.Topic, VIDVariable) {
		return nil, fmt.Errorf("agent: MQTT Topic %q has no %s (the stack output UploadTopic has)", o.Topic, VIDVariable)
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = 5 * time.Minute
	}
	if o.KeepAlive < 30*time.Second || o.KeepAlive > 1200*time.Second {
		return nil, fmt.Errorf("agent: MQTT KeepAlive %v: allowed are 30 s to 1200 s (AWS IoT Core's range)", o.KeepAlive)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	cfg, err := client.VehicleTLS(o.Certificate, o.CertFile, o.KeyFile, o.CAFile)
	if err != nil {
		return nil, err
	}
	addr, host := vehicleconn.MQTTEndpoint(o.Endpoint)
	o.Endpoint, cfg.ServerName = addr, host
	return &MQTTUploader{o: o, tls: cfg, topic: strings.ReplaceAll(o.Topic, VIDVariable, o.ThingName)}, nil
}

// Topic is the topic the uploads go to.
func (u *MQTTUploader) Topic() string { return u.topic }

// Upload publishes b (QoS 1) and waits for its PUBACK.
func (u *MQTTUploader) Upload(ctx context.Context, b Batch) error {
	payload, err := b.Payload()
	if err != nil {
		return err
	}
	// The limit is the function's, on the body inflated.
	if len(payload) > MaxPayloadBytes {
		return &RejectedError{Status: 413, Reason: fmt.Sprintf("%d bytes: an upload is at most %d", len(payload), MaxPayloadBytes)}
	}
	if !u.o.Uncompressed {
		payload = gzipPayload(payload)
	}
	conn, err := u.connect(ctx)
	if err != nil {
		return err
	}
	tok := conn.Publish(u.topic, 1, false, payload)
	if err := vehicleconn.Wait(ctx, tok, u.o.Timeout); err != nil {
		u.drop(conn)
		return fmt.Errorf("publish batch %d to %s: %w", b.Seq, u.topic, err)
	}
	return nil
}

// connect returns the connection, made anew if there is none.
func (u *MQTTUploader) connect(ctx context.Context) (paho.Client, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn != nil && u.conn.IsConnectionOpen() {
		return u.conn, nil
	}
	if u.conn != nil {
		u.conn.Disconnect(0)
	}
	// The agent reconnects and resends itself, from its journal.
	c, err := vehicleconn.DialMQTT(ctx, u.o.Endpoint, u.o.ThingName, u.tls, u.o.KeepAlive, u.o.Timeout)
	if err != nil {
		return nil, err
	}
	u.conn = c
	return c, nil
}

func (u *MQTTUploader) drop(c paho.Client) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c.Disconnect(0)
	if u.conn == c {
		u.conn = nil
	}
}

// Close disconnects.
func (u *MQTTUploader) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn != nil {
		u.conn.Disconnect(250)
		u.conn = nil
	}
	return nil
}

// gzipPayload compresses an upload as the ingest function inflates it:
// gzip (RFC 1952) at its default level, with no name or time in its header,
// so the same batch is the same bytes; the agent links nothing of the
// server, and a test holds it to the server's contract.GzipUpload.
func gzipPayload(body []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	// Writes to a bytes.Buffer do not fail.
	_, _ = zw.Write(body)
	_ = zw.Close()
	return buf.Bytes()
}
