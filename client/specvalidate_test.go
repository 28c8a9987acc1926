package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/fleetapi/fleetapi/api"
)

// specCheckingTransport validates every answer that crosses it against the
// response schema api/swagger.yaml gives its operation and status, with
// kin-openapi: what a client generated from the spec relies on.
type specCheckingTransport struct {
	t    *testing.T
	base http.RoundTripper
	doc  *openapi3.T
	mu   sync.Mutex
	seen map[string]bool // "operationId status" checked
}

func newSpecCheckingTransport(t *testing.T, server string) *specCheckingTransport {
	t.Helper()
	s, err := api.Parse(api.SpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	s.Doc.Servers = openapi3.Servers{{URL: server}}
	return &specCheckingTransport{t: t, base: http.DefaultTransport, doc: s.Doc, seen: map[string]bool{}}
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
	if err := s.check(req, res, body); err != nil {
		s.t.Errorf("%s %s → %d %s: the spec does not allow this answer: %v", req.Method, req.URL.Path, res.StatusCode, body, err)
	}
	return res, nil
}

func (s *specCheckingTransport) check(req *http.Request, res *http.Response, body []byte) error {
	router, err := gorillamux.NewRouter(s.doc)
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no operation of the spec: %w", err)
	}
	s.mu.Lock()
	s.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, res.StatusCode)] = true
	s.mu.Unlock()
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
}
