// Package api holds the API's contract, swagger.yaml, and reads what the
// rest of the project needs from it: the operations and the function that
// serves each.
package api

import (
	"context"
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// SpecYAML is api/swagger.yaml, byte for byte.
//
//go:embed swagger.yaml
var SpecYAML []byte

// FunctionURIPrefix starts an integration uri in the spec: the rest names
// the function that serves the operation. The construct puts the function's
// invocation ARN in its place.
const FunctionURIPrefix = "fleetapi:function:"

// Extensions of API Gateway the spec uses.
const (
	ExtIntegration      = "x-amazon-apigateway-integration"
	ExtRequestValidator = "x-amazon-apigateway-request-validator"
)

var functionName = regexp.MustCompile(`^[a-z][a-z0-9]{0,30}$`)

// Operation is one operation of the spec.
type Operation struct {
	ID     string
	Method string
	// Path is the path template, e.g. /vehicles/{vid}; it is also API
	// Gateway's resource of the operation.
	Path string
	// Function names the function that serves it, e.g. "ingest".
	Function string
}

// Spec is the parsed contract.
type Spec struct {
	Doc        *openapi3.T
	Operations []Operation
}

// Load parses and validates the embedded spec.
func Load() (*Spec, error) { return Parse(SpecYAML) }

// Parse parses and validates a spec and reads its operations. Every
// operation must have an operationId, an aws_proxy integration naming a
// function, and a request validator.
func Parse(data []byte) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("parse the API spec: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate the API spec: %w", err)
	}
	s := &Spec{Doc: doc}
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			o, err := readOperation(path, method, op)
			if err != nil {
				return nil, err
			}
			s.Operations = append(s.Operations, o)
		}
	}
	slices.SortFunc(s.Operations, func(a, b Operation) int { return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method) })
	return s, nil
}

func readOperation(path, method string, op *openapi3.Operation) (Operation, error) {
	where := method + " " + path
	if op.OperationID == "" {
		return Operation{}, fmt.Errorf("%s: no operationId", where)
	}
	integration, _ := op.Extensions[ExtIntegration].(map[string]any)
	if integration == nil {
		return Operation{}, fmt.Errorf("%s: no %s", where, ExtIntegration)
	}
	if integration["type"] != "aws_proxy" || integration["httpMethod"] != "POST" {
		return Operation{}, fmt.Errorf("%s: the integration must be of type aws_proxy with httpMethod POST", where)
	}
	uri, _ := integration["uri"].(string)
	fn, ok := strings.CutPrefix(uri, FunctionURIPrefix)
	if !ok || !functionName.MatchString(fn) {
		return Operation{}, fmt.Errorf("%s: integration uri %q must be %sNAME, NAME a function of lambdas/", where, uri, FunctionURIPrefix)
	}
	if v, _ := op.Extensions[ExtRequestValidator].(string); v == "" {
		return Operation{}, fmt.Errorf("%s: no %s", where, ExtRequestValidator)
	}
	return Operation{ID: op.OperationID, Method: method, Path: path, Function: fn}, nil
}

// Functions lists the functions the spec names, sorted.
func (s *Spec) Functions() []string {
	var out []string
	for _, op := range s.Operations {
		if !slices.Contains(out, op.Function) {
			out = append(out, op.Function)
		}
	}
	slices.Sort(out)
	return out
}

// OperationsOf lists the operations a function serves.
func (s *Spec) OperationsOf(function string) []Operation {
	var out []Operation
	for _, op := range s.Operations {
		if op.Function == function {
			out = append(out, op)
		}
	}
	return out
}
