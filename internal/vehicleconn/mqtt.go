package vehicleconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// MQTTEndpoint returns an MQTT endpoint as host:port (8883, MQTT over TLS,
// when it names none) and its host, the name its certificate must bear.
func MQTTEndpoint(endpoint string) (addr, host string) {
	if _, _, err := net.SplitHostPort(endpoint); err != nil {
		endpoint = net.JoinHostPort(endpoint, "8883")
	}
	host, _, _ = net.SplitHostPort(endpoint)
	return endpoint, host
}

// DialMQTT connects to addr (MQTTEndpoint's) over mutual TLS as the
// client ID thing, the only one a vehicle's certificate policy lets it
// connect with, in a clean session that never reconnects or resends by
// itself: the caller decides what to send again.
func DialMQTT(ctx context.Context, addr, thing string, cfg *tls.Config, keepAlive, timeout time.Duration) (paho.Client, error) {
	opts := paho.NewClientOptions().AddBroker("ssl://" + addr).SetClientID(thing).
		SetTLSConfig(cfg).SetCleanSession(true).SetKeepAlive(keepAlive).
		SetConnectTimeout(timeout).SetWriteTimeout(timeout).
		SetAutoReconnect(false).SetConnectRetry(false).SetResumeSubs(false).SetOrderMatters(true)
	c := paho.NewClient(opts)
	if err := Wait(ctx, c.Connect(), timeout); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect to %s as %s: %w", addr, thing, err)
	}
	return c, nil
}

// Wait waits for a token, the timeout or ctx.
func Wait(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-t.C:
		return fmt.Errorf("no answer in %v", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}
