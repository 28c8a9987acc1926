package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
)

// dropping is a server that reads each request (the server "stores" it)
// and, for the first n, closes the connection without answering; then
// it answers 200.
func dropping(t *testing.T, n int) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		drop := len(seen) <= n
		mu.Unlock()
		if drop {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string{}, seen...) }
}

// After a dropped connection the transport sends again only what is safe
// to repeat (Repeatable); a 429 is retried for any request; Retry-After
// waits at most MaxDelay.
func TestRetriesAreSafe(t *testing.T) {
	noKeepAlive := &http.Transport{DisableKeepAlives: true} // else net/http itself retries on a reused connection
	for _, tt := range []struct {
		name, method string
		header       map[string]string
		attempts     int
	}{
		{"GET", "GET", nil, 2},
		{"PUT with If-Match", "PUT", map[string]string{"If-Match": `"1"`}, 2},
		{"POST with an Idempotency-Key", "POST", map[string]string{"Idempotency-Key": "k"}, 2},
		{"POST without", "POST", nil, 1},
		{"PUT without If-Match", "PUT", nil, 1},
		{"DELETE", "DELETE", nil, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := dropping(t, 1)
			tr := &Transport{Credentials: credentials.StaticCredentialsProvider{Value: localauth.AdminKeys}, Region: "eu-west-1", Base: noKeepAlive,
				Sleep: func(context.Context, time.Duration) error { return nil }}
			req, _ := http.NewRequest(tt.method, srv.URL+"/vehicles/car-1", strings.NewReader("{}"))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := tr.RoundTrip(req)
			if got := len(seen()); got != tt.attempts {
				t.Errorf("%d attempts reached the server, want %d", got, tt.attempts)
			}
			if tt.attempts == 1 && err == nil {
				t.Errorf("got %v, want the network error: the request may have been served", resp.Status)
			}
			if tt.attempts == 2 && (err != nil || resp.StatusCode != 200) {
				t.Errorf("got %v, %v; want the second attempt's 200", resp, err)
			}
		})
	}
	// 429: the gateway did not serve it, so even a POST without a key is
	// sent again; Retry-After's hour waits MaxDelay.
	calls := 0
	throttled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer throttled.Close()
	var waits []time.Duration
	tr := &Transport{Credentials: credentials.StaticCredentialsProvider{Value: localauth.AdminKeys}, Region: "eu-west-1", MaxDelay: 2 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	req, _ := http.NewRequest("POST", throttled.URL+"/vehicles", strings.NewReader("{}"))
	if resp, err := tr.RoundTrip(req); err != nil || resp.StatusCode != 201 || len(waits) != 1 || waits[0] != 2*time.Second {
		t.Errorf("429: %v, %v after waits %v; want 201 after MaxDelay's 2s", resp, err, waits)
	}
}

// A create whose answer is lost after the API stored it: RegisterVehicle
// sends it again with the same Idempotency-Key and gets the stored
// vehicle, 200, not 409. The proxy in front of the local API forwards the
// first create, lets the API store it, and drops the connection.
func TestRegisterVehicleSurvivesALostAnswer(t *testing.T) {
	local := newLocal(t)
	target, _ := url.Parse(local.URL)
	var mu sync.Mutex
	creates := 0
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, target.String()+r.URL.RequestURI(), strings.NewReader(string(body)))
		out.Header, out.Host = r.Header.Clone(), r.Host // the signature covers the Host
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		mu.Lock()
		creates++
		drop := r.Method == "POST" && creates == 1
		mu.Unlock()
		if drop {
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("the first create: %d, want 201 (stored)", resp.StatusCode)
			}
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	c, err := New(context.Background(), proxy.URL, Options{Credentials: credentials.StaticCredentialsProvider{Value: localauth.AdminKeys},
		Region: localauth.Region, BaseDelay: time.Millisecond, HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := RegisterVehicle(context.Background(), c, NewVehicle{Vid: "car-lost", Make: "BMW", Model: "i3", Year: 2017}, "")
	if err != nil || r.StatusCode() != http.StatusOK || r.JSON200 == nil || r.JSON200.Vid != "car-lost" || r.JSON200.Version != 1 {
		t.Fatalf("got %v, %v; want 200 with the vehicle the lost attempt stored", statusOf(r, err), r)
	}
	if creates != 2 {
		t.Errorf("%d creates reached the API, want 2", creates)
	}
}
