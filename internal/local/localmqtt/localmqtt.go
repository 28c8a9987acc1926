// Package localmqtt is the MQTT side of make local: an embedded broker
// (mochi-mqtt) on 127.0.0.1 that plays AWS IoT Core's part for uploads
// over MQTT. Clients connect over mutual TLS with a certificate of the
// local registry (package localauth); the vehicles' certificate policy is
// applied as IoT Core applies it (access.MqttUpload: connect with the
// certificate's own thing name as client ID, while the certificate is
// active; publish to its own upload topic of the rule only; subscribe to
// nothing); and every message on a Basic Ingest topic of the rule is
// handed, after its PUBACK, to the same ingest code the rule invokes
// (httpapi's HandleRule), retried as Lambda retries an asynchronous
// invocation, and written to a dead-letter file when every attempt failed.
package localmqtt

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetapi/fleetapi/internal/construct/access"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// Options configure a broker.
type Options struct {
	// Addr is where it listens, on 127.0.0.1.
	Addr string
	// Registry holds the CA, the server certificate and the things'
	// certificates.
	Registry *localauth.Registry
	// Rule is the upload rule's name, as the deployed stack names it.
	Rule string
	// Handle stores an upload as the ingest function does (HandleRule).
	Handle func(context.Context, contract.RuleEvent) error
	// DeadLetters is the file failed uploads are appended to, one JSON
	// object a line, as the failure queue receives them.
	DeadLetters string
	// Attempts of each upload: Lambda's asynchronous invocation and its
	// two retries. Default 3.
	Attempts int
	// RetryDelay between attempts. Default 100 ms (Lambda waits a minute,
	// then two).
	RetryDelay time.Duration
	Logger     *slog.Logger
}

// Server is a running broker.
type Server struct {
	broker *mqtt.Server
	o      Options
	// client and topic are the resources the certificate policy grants
	// iot:Connect and iot:Publish on, with the thing name's variable.
	client, topic string
	work          chan contract.RuleEvent
	wg            sync.WaitGroup
	mu            sync.Mutex // the dead-letter file
}

// Start starts a broker; Close stops it.
func Start(o Options) (*Server, error) {
	if o.Registry == nil || o.Handle == nil || o.Rule == "" {
		return nil, errors.New("localmqtt: a registry, a rule name and a handler are required")
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tlsCfg, err := o.Registry.ServerTLS()
	if err != nil {
		return nil, err
	}
	// Mutual TLS: a client must present a certificate of the local CA.
	tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
	tlsCfg.ClientCAs = o.Registry.CAPool()

	broker := mqtt.New(&mqtt.Options{InlineClient: false, Logger: o.Logger})
	s := &Server{broker: broker, o: o, work: make(chan contract.RuleEvent, 1024)}
	// The deployed policy's own statements, with resources relative to
	// the account's client/ and topic/ ARNs.
	for _, st := range access.MqttUpload("client/", "topic/", o.Rule) {
		switch st.Actions[0] {
		case "iot:Connect":
			s.client = strings.TrimPrefix(st.Resources[0], "client/")
		case "iot:Publish":
			s.topic = strings.TrimPrefix(st.Resources[0], "topic/")
		}
	}
	if s.client == "" || s.topic == "" {
		return nil, errors.New("localmqtt: the certificate policy grants no connect or no publish")
	}
	if err := broker.AddHook(&policy{server: s}, nil); err != nil {
		return nil, err
	}
	if err := broker.AddListener(listeners.NewTCP(listeners.Config{ID: "mqtts", Address: o.Addr, TLSConfig: tlsCfg})); err != nil {
		return nil, err
	}
	if err := broker.Serve(); err != nil {
		return nil, err
	}
	for range 4 {
		s.wg.Add(1)
		go s.rule()
	}
	return s, nil
}

// Close stops accepting connections, then lets the uploads already
// acknowledged finish, as IoT Core's rule would.
func (s *Server) Close() error {
	err := s.broker.Close()
	close(s.work)
	s.wg.Wait()
	return err
}

// rule is the emulated upload rule: it runs each acknowledged upload
// through the ingest code, retrying, and writes what every attempt failed.
func (s *Server) rule() {
	defer s.wg.Done()
	for ev := range s.work {
		var err error
		for attempt := range s.o.Attempts {
			if attempt > 0 {
				time.Sleep(s.o.RetryDelay)
			}
			if err = s.o.Handle(context.Background(), ev); err == nil {
				break
			}
		}
		if err != nil {
			s.deadLetter(ev, err)
		}
	}
}

// A line of the dead-letter file is a contract.DestinationRecord: the
// record Lambda's on-failure destination gets of an asynchronous
// invocation that failed every attempt (what the redrive reads back).

func (s *Server) deadLetter(ev contract.RuleEvent, cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.o.Logger.Error("upload not stored", "topic", ev.Topic, "error", cause.Error())
	if s.o.DeadLetters == "" {
		return
	}
	line, _ := json.Marshal(contract.DestinationRecord{Version: "1.0", Timestamp: time.Now().UTC(),
		RequestContext:  contract.DestinationRequestContext{RequestID: newID(), FunctionArn: "local-ingest", Condition: "RetriesExhausted", ApproximateInvokeCount: s.o.Attempts},
		RequestPayload:  ev,
		ResponsePayload: map[string]any{"errorMessage": cause.Error(), "errorType": "errorString"}})
	f, err := os.OpenFile(s.o.DeadLetters, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.o.Logger.Error("dead-letter file", "error", err.Error())
		return
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		s.o.Logger.Error("dead-letter file", "error", err.Error())
	}
}

// policy applies the vehicles' certificate policy and hands the uploads
// to the rule.
type policy struct {
	mqtt.HookBase
	server *Server
}

func (p *policy) ID() string { return "fleetapi-certificate-policy" }

func (p *policy) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnPublished
}

// thing is the thing of the client's certificate, "" for a certificate
// the registry does not hold or holds revoked.
func (p *policy) thing(cl *mqtt.Client) string {
	conn, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return ""
	}
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return ""
	}
	thing, status, ok := p.server.o.Registry.Lookup(certs[0].Raw)
	if !ok || status != localauth.StatusActive {
		return ""
	}
	return thing
}

// OnConnectAuthenticate: iot:Connect on client/${iot:Connection.Thing.ThingName},
// with the certificate attached to that thing (an active certificate
// registered for it).
func (p *policy) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	thing := p.thing(cl)
	ok := thing != "" && cl.ID == strings.ReplaceAll(p.server.client, access.ConnectionThingName, thing)
	if !ok {
		p.server.o.Logger.Info("connection refused", "clientId", cl.ID, "thing", thing)
	}
	return ok
}

// OnACLCheck: iot:Publish on its own Basic Ingest topic of the rule only;
// no subscription at all.
func (p *policy) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	thing := p.thing(cl)
	return write && thing != "" && topic == strings.ReplaceAll(p.server.topic, access.ConnectionThingName, thing)
}

// OnPublished runs after the PUBACK, as the rule runs after IoT Core
// acknowledged the message: it passes the message to the rule as the
// rule's SQL would (contract.UploadRuleSQL).
func (p *policy) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	prefix := "$aws/rules/" + p.server.o.Rule + "/"
	topic, ok := strings.CutPrefix(pk.TopicName, prefix)
	if !ok {
		return
	}
	vid, _ := contract.ParseUploadTopic(topic)
	p.server.work <- contract.RuleEvent{
		Source: contract.RuleEventSource, Topic: topic, VID: vid, ClientID: cl.ID,
		Payload: base64.StdEncoding.EncodeToString(pk.Payload), ReceivedAt: time.Now().UnixMilli(),
	}
}

// newID is a request ID for a record.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// String names the broker's address.
func (s *Server) String() string { return fmt.Sprintf("mqtts://%s", s.o.Addr) }
