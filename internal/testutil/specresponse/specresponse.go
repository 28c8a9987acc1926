// Package specresponse checks the answers of the API served over HTTP
// against api/swagger.yaml, with kin-openapi: the response schema of the
// request's operation and status. For tests that call the API as its
// clients do (the local API, the Go client).
package specresponse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/fleetapi/fleetapi/api"
)

// Checker checks answers of the API served at one base URL.
type Checker struct {
	router routers.Router
}

// New returns a checker of the answers of the API served at base.
func New(base string) (*Checker, error) {
	spec, err := api.Parse(api.SpecYAML) // a copy of its own: its servers change
	if err != nil {
		return nil, err
	}
	spec.Doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(spec.Doc)
	if err != nil {
		return nil, fmt.Errorf("route the spec: %w", err)
	}
	return &Checker{router: router}, nil
}

// Check validates the answer to req. It returns the operation's ID, and ""
// with no error when no operation of the spec has req's method and path:
// the gateway's answer to an unknown route, which the spec does not
// describe.
func (c *Checker) Check(req *http.Request, status int, header http.Header, body []byte) (string, error) {
	route, params, err := c.router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find the operation of %s %s: %w", req.Method, req.URL.Path, err)
	}
	return route.Operation.OperationID, openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
}
