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
	"net"
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
	// ConnectTimeout closes a connection that has not sent its CONNECT by
	// then. Default 10 s.
	ConnectTimeout time.Duration
	// Lifecycle, when set, receives IoT Core's lifecycle event of each
	// connection established and of its end, as the lifecycle rule hands
	// them to the tracker: asynchronously, so possibly out of order.
	Lifecycle func(context.Context, contract.LifecycleEvent) error
	Logger    *slog.Logger
}

// Server is a running broker.
type Server struct {
	broker *mqtt.Server
	tcp    net.Listener
	o      Options
	// client and topic are the resources the certificate policy grants
	// iot:Connect and iot:Publish on, with the thing name's variable.
	client, topic string
	work          chan contract.RuleEvent
	wg            sync.WaitGroup
	mu            sync.Mutex // the dead-letter file
	// refusals are why the policy disconnects a client, for its
	// disconnect event: by client.
	refusals sync.Map
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
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = connectTimeout
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
	if o.Lifecycle != nil {
		if err := broker.AddHook(&lifecycle{server: s, versions: map[string]int64{}, conns: map[*mqtt.Client]connection{}}, nil); err != nil {
			return nil, err
		}
	}
	tcp, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	if err := broker.AddListener(listeners.NewNet(listenerID, tls.NewListener(connectDeadline{tcp, o.ConnectTimeout}, tlsCfg))); err != nil {
		tcp.Close()
		return nil, err
	}
	s.tcp = tcp
	if err := broker.Serve(); err != nil {
		return nil, err
	}
	for range 4 {
		s.wg.Add(1)
		go s.rule()
	}
	return s, nil
}

// listenerID is the broker's one listener.
const listenerID = "mqtts"

// Close stops accepting connections, then lets the uploads already
// acknowledged finish, as IoT Core's rule would.
//
// It disconnects the clients itself before the broker's Close: that
// lists the listener's clients under a read lock it takes twice
// (Clients.GetByListener, then Len), and a client leaving at that moment
// asks for the write lock in between: a deadlock (mochi-mqtt/server#488,
// not fixed in v2.7.9). With no client left and no new one accepted, no
// one asks.
func (s *Server) Close() error {
	s.tcp.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		left := 0
		for _, c := range s.broker.Clients.GetAll() {
			if c.Net.Listener == listenerID {
				c.Stop(errors.New("the broker is closing"))
				left++
			}
		}
		if left == 0 {
			break
		}
	}
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

// IoT Core's rules the stand-in applies beside the certificate policy
// (AWS IoT Core Developer Guide):
//   - "The payload for every publish request can be no larger than 128
//     KB" ("AWS IoT Core message broker and protocol limits and quotas"),
//     and a client is disconnected "if the client attempts to publish with
//     a payload that exceeds the payload limit" (lifecycle events,
//     CLIENT_ERROR);
//   - "AWS IoT Core does not support publishing or subscribing with QoS
//     level 2. When QoS level 2 is requested, the AWS IoT message broker
//     does not send a PUBACK or SUBACK" ("MQTT", differences from the
//     specification): no acknowledgement, nothing delivered;
//   - an authorization failure disconnects the client (lifecycle events,
//     AUTH_ERROR: "The client failed to authenticate or authorization
//     failed"), whatever the QoS and the MQTT version: the stand-in
//     disconnects on every publish its policy refuses;
//   - a connection that sends no CONNECT within ConnectTimeout (10 s) is
//     closed: IoT Core documents no such wait, the stand-in is stricter.
const (
	maxPayloadBytes = 128 << 10
	connectTimeout  = 10 * time.Second
)

// connectDeadline gives each accepted connection a read deadline for its
// TLS handshake and CONNECT; the broker sets its own (the keepalive's)
// once the CONNECT is read.
type connectDeadline struct {
	net.Listener
	timeout time.Duration
}

func (l connectDeadline) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.SetReadDeadline(time.Now().Add(l.timeout))
	}
	return c, err
}

// policy applies the vehicles' certificate policy and hands the uploads
// to the rule.
type policy struct {
	mqtt.HookBase
	server *Server
}

func (p *policy) ID() string { return "fleetapi-certificate-policy" }

func (p *policy) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnPacketRead || b == mqtt.OnPublish || b == mqtt.OnPublished
}

// OnPacketRead disconnects a client that publishes more than IoT Core's
// payload limit or where its policy refuses, before any acknowledgement
// (a rejected packet ends the broker's read of the connection); the log
// names the client, the topic and the size, never the payload.
func (p *policy) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	log := p.server.o.Logger.With("clientId", cl.ID, "topic", pk.TopicName, "qos", pk.FixedHeader.Qos, "payloadBytes", len(pk.Payload))
	switch {
	case len(pk.Payload) > maxPayloadBytes:
		log.Info("publish refused: payload over 128 KB, disconnected")
		p.server.refusals.Store(cl, reasonClientError)
		return pk, packets.ErrRejectPacket
	case !p.OnACLCheck(cl, pk.TopicName, true):
		log.Info("publish refused: not authorized by the certificate policy, disconnected")
		p.server.refusals.Store(cl, reasonAuthError)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// OnPublish drops a QoS 2 publish unacknowledged, as IoT Core does.
func (p *policy) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Qos == 2 {
		p.server.o.Logger.Info("publish dropped: QoS 2, which IoT Core does not support", "clientId", cl.ID, "topic", pk.TopicName)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
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

// The disconnect reasons of IoT Core's lifecycle events the stand-in gives
// ("Lifecycle events", AWS IoT Core developer guide).
const (
	reasonClientInitiated = "CLIENT_INITIATED_DISCONNECT" // the client sent DISCONNECT
	reasonAuthError       = "AUTH_ERROR"                  // authorization failed: a publish the policy refuses
	reasonClientError     = "CLIENT_ERROR"                // a payload over the limit
	reasonConnectionLost  = "CONNECTION_LOST"
	reasonKeepAlive       = "MQTT_KEEP_ALIVE_TIMEOUT" // nothing for 1.5 times the keepalive
	reasonDuplicateClient = "DUPLICATE_CLIENTID"      // another connection took the client ID
	reasonServer          = "SERVER_INITIATED_DISCONNECT"
)

// lifecycle publishes the connect and disconnect events of the
// connections the policy let in.
type lifecycle struct {
	mqtt.HookBase
	server *Server
	mu     sync.Mutex
	// versions count each client ID's connections: a connection's connect
	// and disconnect events carry the same version number, as IoT Core's.
	versions map[string]int64
	conns    map[*mqtt.Client]connection
}

type connection struct {
	session string
	version int64
}

func (l *lifecycle) ID() string { return "fleetapi-lifecycle-events" }

func (l *lifecycle) Provides(b byte) bool {
	return b == mqtt.OnSessionEstablished || b == mqtt.OnDisconnect
}

func (l *lifecycle) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	l.mu.Lock()
	l.versions[cl.ID]++
	c := connection{session: newID(), version: l.versions[cl.ID]}
	l.conns[cl] = c
	l.mu.Unlock()
	l.publish(contract.LifecycleEvent{ClientID: cl.ID, Timestamp: time.Now().UnixMilli(), EventType: contract.LifecycleConnected,
		SessionIdentifier: c.session, VersionNumber: c.version, IPAddress: host(cl.Net.Remote)})
}

func (l *lifecycle) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	l.mu.Lock()
	c, ok := l.conns[cl]
	delete(l.conns, cl)
	l.mu.Unlock()
	if !ok {
		return // never established
	}
	reason := reasonConnectionLost
	cause := cl.StopCause()
	var netErr net.Error
	switch refusal, refused := l.server.refusals.LoadAndDelete(cl); {
	case refused:
		reason = refusal.(string)
	case errors.Is(cause, packets.ErrSessionTakenOver) || cl.IsTakenOver():
		reason = reasonDuplicateClient
	case errors.Is(cause, packets.ErrServerShuttingDown) || errors.Is(err, packets.ErrServerShuttingDown):
		reason = reasonServer
	case errors.Is(cause, packets.CodeDisconnect):
		reason = reasonClientInitiated
	case errors.As(err, &netErr) && netErr.Timeout():
		reason = reasonKeepAlive
	}
	initiated := reason == reasonClientInitiated
	l.publish(contract.LifecycleEvent{ClientID: cl.ID, Timestamp: time.Now().UnixMilli(), EventType: contract.LifecycleDisconnected,
		SessionIdentifier: c.session, VersionNumber: c.version, DisconnectReason: reason, ClientInitiatedDisconnect: &initiated})
}

// publish hands an event to the lifecycle rule's function, asynchronously
// and with Lambda's two retries, as IoT Core's rule invokes it.
func (l *lifecycle) publish(ev contract.LifecycleEvent) {
	go func() {
		var err error
		for attempt := range 3 {
			if attempt > 0 {
				time.Sleep(l.server.o.RetryDelay)
			}
			if err = l.server.o.Lifecycle(context.Background(), ev); err == nil {
				return
			}
		}
		l.server.o.Logger.Error("lifecycle event not applied", "clientId", ev.ClientID, "eventType", ev.EventType, "error", err.Error())
	}()
}

// host is an address without its port.
func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// newID is a request ID for a record.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// String names the broker's address.
func (s *Server) String() string { return fmt.Sprintf("mqtts://%s", s.o.Addr) }
