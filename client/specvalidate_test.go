package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/fleetapi/fleetapi/internal/testutil/specresponse"
)

// specCheckingTransport validates every answer that crosses it against the
// response schema api/swagger.yaml gives its operation and status: what a
// client generated from the spec relies on.
type specCheckingTransport struct {
	t     *testing.T
	base  http.RoundTripper
	check *specresponse.Checker
	mu    sync.Mutex
	seen  map[string]bool // "operationId status" checked
}

func newSpecCheckingTransport(t *testing.T, server string) *specCheckingTransport {
	t.Helper()
	check, err := specresponse.New(server)
	if err != nil {
		t.Fatal(err)
	}
	return &specCheckingTransport{t: t, base: http.DefaultTransport, check: check, seen: map[string]bool{}}
}

func (s *specCheckingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := s.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	op, err := s.check.Check(req, res.StatusCode, res.Header, body)
	if err == nil && op == "" {
		err = errors.New("no operation of the spec")
	}
	if err != nil {
		s.t.Errorf("%s %s → %d %s: the spec does not allow this answer: %v", req.Method, req.URL.Path, res.StatusCode, body, err)
	}
	s.mu.Lock()
	s.seen[fmt.Sprintf("%s %d", op, res.StatusCode)] = true
	s.mu.Unlock()
	return res, nil
}
