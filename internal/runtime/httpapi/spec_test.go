package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
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
// operationOf returns the operationId of a method and resource of the spec.
func operationOf(method, resource string) string {
	for _, op := range spec.Operations {
		if op.Method == method && op.Path == resource {
			return op.ID
		}
	}
	return ""
}

func functionOf(method, resource string) string {
	for _, op := range spec.Operations {
		if op.Method == method && op.Path == resource {
			return op.Function
		}
	}
	return ""
}

// TestEveryOperationIsImplemented: every operation of the spec is
// implemented here and nothing else, each as the spec declares it (its
// store, its pagination), and each is served by exactly one function's
// handler.
func TestEveryOperationIsImplemented(t *testing.T) {
	if implemented := Operations(); !slices.Equal(spec.IDs(), implemented) {
		t.Errorf("spec operations %v, implemented %v", spec.IDs(), implemented)
	}
	for _, op := range spec.Operations {
		impl, _ := lookup(op.ID)
		if impl.events != op.Uses(schema.VehicleEvents.Role) {
			t.Errorf("%s: the handler uses the event store: %v; the spec declares access to %v", op.ID, impl.events, op.Access)
		}
		if impl.paginated != op.Paginated {
			t.Errorf("%s: the handler signs cursors: %v; the spec's takes %s: %v", op.ID, impl.paginated, api.CursorParam, op.Paginated)
		}
		// The spec's upload is the operation the ingest service stores,
		// so its function also serves the upload rule's events.
		if impl.uploads != op.Upload {
			t.Errorf("%s: the handler stores uploads: %v; the spec marks it %s: %v", op.ID, impl.uploads, api.ExtUpload, op.Upload)
		}
	}
	a := newAPIWith(t, nopStore{}) // fails when an operation has no implementation
	for _, op := range spec.Operations {
		var servedBy []string
		for fn, h := range a.handlers {
			if _, ok := h.byOperation[op.ID]; ok {
				servedBy = append(servedBy, fn)
			}
		}
		if len(servedBy) != 1 {
			t.Errorf("%s is served by %v, want exactly one function", op.ID, servedBy)
		}
	}
	for fn, h := range a.handlers {
		if serves := h.ingest != nil; serves != (fn == spec.Upload().Function) {
			t.Errorf("function %s serves the upload rule's events: %v; the spec's upload is %s's", fn, serves, spec.Upload().Function)
		}
	}
}

// specRouter finds the operation of a request as API Gateway does, in a
// copy of the spec served at https://api.example.
var specRouter = mustRouter()

func mustRouter() routers.Router {
	s, err := api.Parse(api.SpecYAML)
	if err != nil {
		panic(err)
	}
	s.Doc.Servers = openapi3.Servers{{URL: "https://api.example"}}
	r, err := gorillamux.NewRouter(s.Doc)
	if err != nil {
		panic(err)
	}
	return r
}

// routesOf returns the routes the spec gives a function, as the construct
// passes them in its environment.
func routesOf(function string) []contract.Route { return spec.RoutesOf(function) }

// nopStore satisfies both store interfaces for tests that never call them.
type nopStore struct {
	VehicleStore
	EventStore
	StateStore
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
