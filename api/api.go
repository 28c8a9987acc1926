// Package api holds the API's contract, swagger.yaml, and reads what the
// rest of the project needs from it. Each operation is declared there once:
// the function that serves it, who may call it (its caller classes), what
// it does in DynamoDB and whether it paginates.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
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
	ExtGatewayResponses = "x-amazon-apigateway-gateway-responses"
	// ExtMinimumCompressionSize is the smallest answer the stage
	// compresses, in bytes.
	ExtMinimumCompressionSize = "x-amazon-apigateway-minimum-compression-size"
	ExtAuthType               = "x-amazon-apigateway-authtype"
)

// ExtCallers is the spec's own extension beside an operation's
// integration: the caller classes that may call it (contract.Caller*). The
// construct grants and the functions check exactly these; API Gateway never
// sees it (the construct removes it from the body it imports).
const ExtCallers = "x-fleetapi-callers"

// ExtDynamoDB is the spec's own extension beside an operation's
// integration: the DynamoDB actions of its store calls, by table role
// (schema.Table.Role), as IAM names them ("dynamodb:GetItem"). The
// construct writes its function's policy from it; the functions' tests hold
// it to the calls the code makes. Removed from the imported body too.
const ExtDynamoDB = "x-fleetapi-dynamodb"

// ExtUpload is the spec's own extension that marks the upload: the one
// operation whose body vehicles may also publish over MQTT, to their
// topic of the upload rule (contract.UploadTopic), which hands each
// message to this operation's function; its requests are the uploads the
// construct's metrics and objectives count. Removed from the imported
// body too.
const ExtUpload = "x-fleetapi-upload"

// ExtObjective is the spec's own extension that keeps a GET operation out
// of the reads' service level objectives (false): a fleet-wide listing
// whose pages take longer than a read of one vehicle. Removed from the
// imported body too.
const ExtObjective = "x-fleetapi-objective"

// CursorParam is the query parameter of a paginated operation: its
// function signs cursors, so it reads the cursor key.
const CursorParam = "cursor"

// dynamoDBActions are the actions an operation may declare: the item and
// query calls of the DynamoDB API (not the table or stream management ones).
var dynamoDBActions = []string{
	"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
	"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem",
}

// VehicleParam is the path parameter that names a vehicle: an operation a
// vehicle may call acts on the {vid} of its own identity.
const VehicleParam = "vid"

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
	// Callers are the caller classes that may call it (ExtCallers).
	Callers []string
	// Access lists the DynamoDB actions of its store calls by table role
	// (ExtDynamoDB), each list sorted.
	Access map[string][]string
	// Paginated operations take CursorParam: they sign cursors.
	Paginated bool
	// Upload marks the upload (ExtUpload).
	Upload bool
	// Objective is false for an operation outside the service level
	// objectives (ExtObjective), true otherwise.
	Objective bool
}

// Uses reports whether the operation touches the table of the role.
func (o Operation) Uses(table string) bool { return len(o.Access[table]) > 0 }

// Spec is the parsed contract.
type Spec struct {
	Doc        *openapi3.T
	Operations []Operation
}

// Load parses and validates the embedded spec.
func Load() (*Spec, error) { return Parse(SpecYAML) }

// Parse parses and validates a spec and reads its operations. Every
// operation must have an operationId, security of its own, an aws_proxy
// integration naming a function, a request validator and its caller
// classes (a vehicle's only with a {vid} in the path); every gateway
// response template must be JSON with no substitution in it.
func Parse(data []byte) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("parse the API spec: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate the API spec: %w", err)
	}
	if err := checkGatewayResponses(doc); err != nil {
		return nil, err
	}
	s := &Spec{Doc: doc}
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			o, err := readOperation(doc, path, method, op)
			if err != nil {
				return nil, err
			}
			s.Operations = append(s.Operations, o)
		}
	}
	slices.SortFunc(s.Operations, func(a, b Operation) int { return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method) })
	var uploads []string
	for _, op := range s.Operations {
		if op.Upload {
			uploads = append(uploads, op.ID)
		}
	}
	if len(uploads) != 1 {
		return nil, fmt.Errorf("the API spec marks %d operations as the upload (%s: true): %s; it must mark one", len(uploads), ExtUpload, strings.Join(uploads, ", "))
	}
	return s, nil
}

func readOperation(doc *openapi3.T, path, method string, op *openapi3.Operation) (Operation, error) {
	where := method + " " + path
	if op.OperationID == "" {
		return Operation{}, fmt.Errorf("%s: no operationId", where)
	}
	where = fmt.Sprintf("operation %s (%s)", op.OperationID, where)
	if err := checkSecurity(doc, op); err != nil {
		return Operation{}, fmt.Errorf("%s: %w", where, err)
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
	callers, err := readCallers(op.Extensions[ExtCallers])
	if err != nil {
		return Operation{}, fmt.Errorf("%s: %s: %w", where, ExtCallers, err)
	}
	if slices.Contains(callers, contract.CallerVehicle) && !strings.Contains(path, "{"+VehicleParam+"}") {
		return Operation{}, fmt.Errorf("%s: %s: class %s needs the path parameter {%s} to know which vehicle the operation acts on", where, ExtCallers, contract.CallerVehicle, VehicleParam)
	}
	access, err := readAccess(op.Extensions[ExtDynamoDB])
	if err != nil {
		return Operation{}, fmt.Errorf("%s: %s: %w", where, ExtDynamoDB, err)
	}
	paginated := slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool {
		return p.Value != nil && p.Value.In == openapi3.ParameterInQuery && p.Value.Name == CursorParam
	})
	upload, isBool := op.Extensions[ExtUpload].(bool)
	if _, set := op.Extensions[ExtUpload]; set && !isBool {
		return Operation{}, fmt.Errorf("%s: %s must be true or false, got %v", where, ExtUpload, op.Extensions[ExtUpload])
	}
	if upload && method != "POST" {
		return Operation{}, fmt.Errorf("%s: %s: the upload stores, so its method is POST", where, ExtUpload)
	}
	objective := true
	if v, set := op.Extensions[ExtObjective]; set {
		if b, ok := v.(bool); !ok || b || upload {
			return Operation{}, fmt.Errorf("%s: %s may only be false, on an operation that is not the upload, got %v", where, ExtObjective, v)
		}
		objective = false
	}
	return Operation{ID: op.OperationID, Method: method, Path: path, Function: fn, Callers: callers, Access: access, Paginated: paginated, Upload: upload,
		Objective: objective}, nil
}

// readAccess reads an operation's DynamoDB actions: a map from a table
// role to a list of DynamoDB item actions, at least one.
func readAccess(v any) (map[string][]string, error) {
	tables := []string{schema.Vehicles.Role, schema.VehicleEvents.Role, schema.VehicleState.Role}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, fmt.Errorf("must map a table (%s) to the DynamoDB actions the operation calls on it, got %v", strings.Join(tables, ", "), v)
	}
	out := map[string][]string{}
	for _, table := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(tables, table) {
			return nil, fmt.Errorf("unknown table %q: known tables are %s", table, strings.Join(tables, ", "))
		}
		list, _ := m[table].([]any)
		if len(list) == 0 {
			return nil, fmt.Errorf("%s: must be a list of DynamoDB actions, got %v: known actions are %s", table, m[table], strings.Join(dynamoDBActions, ", "))
		}
		for _, a := range list {
			action, _ := a.(string)
			if !slices.Contains(dynamoDBActions, action) {
				return nil, fmt.Errorf("%s: unknown action %v: known actions are %s", table, a, strings.Join(dynamoDBActions, ", "))
			}
			if slices.Contains(out[table], action) {
				return nil, fmt.Errorf("%s: action %s named twice", table, action)
			}
			out[table] = append(out[table], action)
		}
		slices.Sort(out[table])
	}
	return out, nil
}

// readCallers reads an operation's caller classes: a list of known
// classes, at least one.
func readCallers(v any) ([]string, error) {
	list, ok := v.([]any)
	if v != nil && !ok {
		return nil, fmt.Errorf("must be a list of caller classes, got %v: known classes are %s", v, strings.Join(contract.CallerClasses(), ", "))
	}
	callers := make([]string, len(list))
	for i, c := range list {
		s, ok := c.(string)
		if !ok {
			return nil, fmt.Errorf("caller class %v is not a string: known classes are %s", c, strings.Join(contract.CallerClasses(), ", "))
		}
		callers[i] = s
	}
	return callers, contract.CheckCallers(callers)
}

// CallersOf returns the caller classes of an operation; an unknown
// operation has none.
func (s *Spec) CallersOf(id string) []string {
	op, _ := s.Lookup(id)
	return op.Callers
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

// Lookup returns an operation by its operationId.
func (s *Spec) Lookup(id string) (Operation, bool) {
	for _, op := range s.Operations {
		if op.ID == id {
			return op, true
		}
	}
	return Operation{}, false
}

// IDs lists the operationIds, sorted.
func (s *Spec) IDs() []string {
	ids := make([]string, len(s.Operations))
	for i, op := range s.Operations {
		ids[i] = op.ID
	}
	slices.Sort(ids)
	return ids
}

// AccessOf returns the DynamoDB actions a function's operations call, by
// table role, sorted and without duplicates.
func (s *Spec) AccessOf(function string) map[string][]string {
	out := map[string][]string{}
	for _, op := range s.OperationsOf(function) {
		for table, actions := range op.Access {
			out[table] = append(out[table], actions...)
		}
	}
	for table, actions := range out {
		slices.Sort(actions)
		out[table] = slices.Compact(actions)
	}
	return out
}

// Upload returns the upload (ExtUpload): Parse requires the spec to mark one.
func (s *Spec) Upload() Operation {
	i := slices.IndexFunc(s.Operations, func(op Operation) bool { return op.Upload })
	return s.Operations[i]
}

// Paginates reports whether any operation of a function paginates.
func (s *Spec) Paginates(function string) bool {
	return slices.ContainsFunc(s.OperationsOf(function), func(op Operation) bool { return op.Paginated })
}

// RoutesOf lists the routes of a function's operations, as the construct
// writes them into the function's environment (contract.EnvRoutes).
func (s *Spec) RoutesOf(function string) []contract.Route {
	var out []contract.Route
	for _, op := range s.OperationsOf(function) {
		out = append(out, contract.Route{Operation: op.ID, Method: op.Method, Resource: op.Path, Callers: op.Callers})
	}
	return out
}

// checkSecurity requires an operation to name its own security, every
// requirement of it a scheme API Gateway enforces. API Gateway does not use
// the root-level security of an imported document: without its own, the
// operation would be deployed with authorization NONE.
func checkSecurity(doc *openapi3.T, op *openapi3.Operation) error {
	if op.Security == nil || len(*op.Security) == 0 {
		return errors.New("no security of its own: API Gateway ignores root-level security, so it would accept unsigned requests")
	}
	for _, req := range *op.Security {
		if len(req) == 0 {
			return errors.New("an empty security requirement ({}) lets unsigned requests through")
		}
		for name := range req {
			var scheme *openapi3.SecuritySchemeRef
			if doc.Components != nil {
				scheme = doc.Components.SecuritySchemes[name]
			}
			if scheme == nil || scheme.Value == nil {
				return fmt.Errorf("security scheme %q is not declared", name)
			}
			if t, _ := scheme.Value.Extensions[ExtAuthType].(string); t == "" {
				return fmt.Errorf("security scheme %q has no %s, so API Gateway would not enforce it", name, ExtAuthType)
			}
		}
	}
	return nil
}

// checkGatewayResponses requires every gateway response template to be
// fixed JSON. API Gateway substitutes $context variables into these
// templates as they are, without escaping, and some hold text the client
// chose: any variable could break the JSON.
func checkGatewayResponses(doc *openapi3.T) error {
	responses, _ := doc.Extensions[ExtGatewayResponses].(map[string]any)
	for _, kind := range slices.Sorted(maps.Keys(responses)) {
		r, _ := responses[kind].(map[string]any)
		templates, _ := r["responseTemplates"].(map[string]any)
		for _, mediaType := range slices.Sorted(maps.Keys(templates)) {
			tmpl, _ := templates[mediaType].(string)
			if strings.Contains(tmpl, "$") {
				return fmt.Errorf("gateway response %s: template %s substitutes a variable (%q); API Gateway does not escape it, so the answer could be invalid JSON", kind, mediaType, tmpl)
			}
			if !json.Valid([]byte(tmpl)) {
				return fmt.Errorf("gateway response %s: template %s is not JSON: %q", kind, mediaType, tmpl)
			}
		}
	}
	return nil
}
