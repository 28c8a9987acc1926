package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/fleetapi/fleetapi/api"
)

// spec is api/swagger.yaml, the contract the handlers must keep.
var spec = mustLoadSpec()

func mustLoadSpec() *api.Spec {
	s, err := api.Load()
	if err != nil {
		panic(err)
	}
	return s
}

// functionOf returns the function the spec gives an operation, "" if none.
func functionOf(method, resource string) string {
	for _, op := range spec.Operations {
		if op.Method == method && op.Path == resource {
			return op.Function
		}
	}
	return ""
}

// TestRoutesMatchTheSpec: every operation of the spec has a handler route
// with the same ID, method and path, and every route is in the spec.
func TestRoutesMatchTheSpec(t *testing.T) {
	var inSpec, inCode []string
	for _, op := range spec.Operations {
		inSpec = append(inSpec, op.ID+" "+op.Method+" "+op.Path)
	}
	for _, op := range Operations() {
		inCode = append(inCode, op.ID+" "+op.Method+" "+op.Resource)
	}
	slices.Sort(inSpec)
	slices.Sort(inCode)
	if !slices.Equal(inSpec, inCode) {
		t.Errorf("spec operations\n  %s\nhandler routes\n  %s", strings.Join(inSpec, "\n  "), strings.Join(inCode, "\n  "))
	}
	// And each is served by exactly one function's handler.
	a := newAPIWith(t, nopStore{}, nopStore{})
	for _, op := range Operations() {
		var servedBy []string
		for fn, h := range a.handlers {
			if _, ok := h.routes[routeKey(op.Method, op.Resource)]; ok {
				servedBy = append(servedBy, fn)
			}
		}
		if len(servedBy) != 1 {
			t.Errorf("%s is served by %v, want exactly one function", op.ID, servedBy)
		}
	}
}

// nopStore satisfies both store interfaces for tests that never call them.
type nopStore struct {
	VehicleStore
	EventStore
}

// checkResponse validates a handler's response against the spec's schema
// for its operation and status; a status the spec does not list fails.
func checkResponse(t testing.TB, ev events.APIGatewayProxyRequest, resp events.APIGatewayProxyResponse) {
	t.Helper()
	pathItem := spec.Doc.Paths.Value(ev.Resource)
	if pathItem == nil || pathItem.GetOperation(ev.HTTPMethod) == nil {
		return // not an operation of the API: API Gateway would not route it
	}
	req, _ := http.NewRequest(ev.HTTPMethod, "https://api.example"+ev.Resource, nil)
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: ev.PathParameters,
			Route: &routers.Route{Spec: spec.Doc, Path: ev.Resource, PathItem: pathItem,
				Method: ev.HTTPMethod, Operation: pathItem.GetOperation(ev.HTTPMethod)},
		},
		Status:  resp.StatusCode,
		Header:  http.Header{},
		Body:    io.NopCloser(bytes.NewReader([]byte(resp.Body))),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	for k, v := range resp.Headers {
		input.Header.Set(k, v)
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Errorf("%s %s → %d does not match the spec: %v\nbody: %s", ev.HTTPMethod, ev.Resource, resp.StatusCode, err, resp.Body)
	}
}
