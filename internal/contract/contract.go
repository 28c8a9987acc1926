// Package contract declares what the CDK construct and the functions agree
// on: the environment a function reads, how the routes api/swagger.yaml
// gives a function reach it, and what each operation does in DynamoDB, from
// which its IAM policy is made. It imports only the key schema, so that the
// construct links no runtime code.
package contract

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fleetapi/fleetapi/internal/schema"
)

// Environment variables of a function, set by the construct.
const (
	// EnvRoutes lists the operations the function serves, as FormatRoutes
	// writes them: those api/swagger.yaml gives it.
	EnvRoutes = "FLEETAPI_ROUTES"
	// EnvVehiclesTable and EnvEventsTable name the tables (CloudFormation
	// generates the names).
	EnvVehiclesTable = "VEHICLES_TABLE"
	EnvEventsTable   = "VEHICLE_EVENTS_TABLE"
	// EnvEventRetentionDays is the TTL of events, whole days.
	EnvEventRetentionDays = "EVENT_RETENTION_DAYS"
	// EnvCursorKeySecret names the Secrets Manager secret whose string
	// value signs pagination cursors; set for functions that paginate.
	EnvCursorKeySecret = "CURSOR_KEY_SECRET_ARN"
)

// Route is an operation of the spec as API Gateway invokes it: its
// operationId, method and resource (the path template).
type Route struct {
	Operation, Method, Resource string
}

// FormatRoutes writes routes for EnvRoutes: "ID METHOD /path" joined by ";".
func FormatRoutes(routes []Route) string {
	parts := make([]string, len(routes))
	for i, r := range routes {
		parts[i] = r.Operation + " " + r.Method + " " + r.Resource
	}
	return strings.Join(parts, ";")
}

// ParseRoutes reads what FormatRoutes wrote; every operation must be one
// this package declares.
func ParseRoutes(s string) ([]Route, error) {
	var out []Route
	for part := range strings.SplitSeq(s, ";") {
		f := strings.Fields(part)
		if len(f) != 3 || !strings.HasPrefix(f[2], "/") {
			return nil, fmt.Errorf("route %q is not \"operationId METHOD /path\"", part)
		}
		if _, ok := operations[f[0]]; !ok {
			return nil, fmt.Errorf("route %q: unknown operation %q: known operations are %s", part, f[0], strings.Join(OperationIDs(), ", "))
		}
		out = append(out, Route{Operation: f[0], Method: f[1], Resource: f[2]})
	}
	return out, nil
}

// The tables, by role (schema.Table.Role).
var (
	vehicles      = schema.Vehicles.Role
	vehicleEvents = schema.VehicleEvents.Role
)

// Operation is what an operation's code does in DynamoDB.
type Operation struct {
	// Access lists the DynamoDB actions the operation's store calls
	// perform, by table role (schema.Table.Role). The handlers' tests hold
	// it to the calls the code makes.
	Access map[string][]string
	// Paginated operations sign cursors, so their function reads the key.
	Paginated bool
}

// Uses reports whether the operation touches the table of the role.
func (o Operation) Uses(table string) bool { return len(o.Access[table]) > 0 }

// operations declares every operation of api/swagger.yaml by operationId.
var operations = map[string]Operation{
	"listVehicles":  {Access: map[string][]string{vehicles: {"dynamodb:Scan"}}, Paginated: true},
	"createVehicle": {Access: map[string][]string{vehicles: {"dynamodb:PutItem"}}},
	"getVehicle":    {Access: map[string][]string{vehicles: {"dynamodb:GetItem"}}},
	// A failed conditional update reads the vehicle to tell 404 from 412.
	"updateVehicle": {Access: map[string][]string{vehicles: {"dynamodb:UpdateItem", "dynamodb:GetItem"}}},
	"listEvents":    {Access: map[string][]string{vehicleEvents: {"dynamodb:Query"}}, Paginated: true},
	// The vehicle must exist; a retried upload reads the stored event.
	"createEvent": {Access: map[string][]string{vehicles: {"dynamodb:GetItem"}, vehicleEvents: {"dynamodb:PutItem", "dynamodb:GetItem"}}},
	"getEvent":    {Access: map[string][]string{vehicleEvents: {"dynamodb:GetItem"}}},
}

// Lookup returns the declaration of an operation.
func Lookup(id string) (Operation, bool) {
	op, ok := operations[id]
	return op, ok
}

// OperationIDs lists the declared operations, sorted.
func OperationIDs() []string {
	ids := make([]string, 0, len(operations))
	for id := range operations {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// AccessOf returns the DynamoDB actions the operations named need, by
// table role, sorted and without duplicates.
func AccessOf(ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, id := range ids {
		op, ok := operations[id]
		if !ok {
			return nil, fmt.Errorf("unknown operation %q: known operations are %s", id, strings.Join(OperationIDs(), ", "))
		}
		for table, actions := range op.Access {
			out[table] = append(out[table], actions...)
		}
	}
	for table, actions := range out {
		slices.Sort(actions)
		out[table] = slices.Compact(actions)
	}
	return out, nil
}

// Paginates reports whether any of the operations named lists with cursors.
func Paginates(ids []string) bool {
	return slices.ContainsFunc(ids, func(id string) bool { return operations[id].Paginated })
}
