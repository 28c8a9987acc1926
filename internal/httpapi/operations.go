// Package httpapi serves the API's operations from API Gateway proxy events:
// routing, strict JSON decoding, validation, the one JSON error shape, and
// structured logs.
package httpapi

import (
	"net/http"
	"slices"

	"github.com/fleetapi/fleetapi/internal/schema"
)

// Functions that serve the API: the talk's microservices, each with only
// the permissions its operations need.
const (
	FunctionVehicles = "vehicles" // vehicle registry: read and write vehicles
	FunctionEvents   = "events"   // reads of events
	FunctionIngest   = "ingest"   // the upload path: hot, write-heavy
)

// Operation is one API operation, the function that serves it, and the
// DynamoDB actions it performs: the function's IAM policy is derived from them.
type Operation struct {
	ID       string
	Method   string
	Resource string
	Function string
	Access   []TableAccess
}

// TableAccess lists DynamoDB actions on one table (by schema.Table.Role).
type TableAccess struct {
	Table   string
	Actions []string
}

func vehicles(actions ...string) TableAccess {
	return TableAccess{Table: schema.Vehicles.Role, Actions: actions}
}

func vehicleEvents(actions ...string) TableAccess {
	return TableAccess{Table: schema.VehicleEvents.Role, Actions: actions}
}

// Operations lists every operation of the API.
func Operations() []Operation {
	return []Operation{
		{"listVehicles", http.MethodGet, "/vehicles", FunctionVehicles,
			[]TableAccess{vehicles("dynamodb:Scan")}},
		{"createVehicle", http.MethodPost, "/vehicles", FunctionVehicles,
			[]TableAccess{vehicles("dynamodb:PutItem")}},
		{"getVehicle", http.MethodGet, "/vehicles/{vid}", FunctionVehicles,
			[]TableAccess{vehicles("dynamodb:GetItem")}},
		// A failed conditional update reads the vehicle to tell 404 from 412.
		{"updateVehicle", http.MethodPut, "/vehicles/{vid}", FunctionVehicles,
			[]TableAccess{vehicles("dynamodb:UpdateItem", "dynamodb:GetItem")}},
		{"listEvents", http.MethodGet, "/vehicles/{vid}/events", FunctionEvents,
			[]TableAccess{vehicleEvents("dynamodb:Query")}},
		// The vehicle must exist; a retried upload reads the stored event.
		{"createEvent", http.MethodPost, "/vehicles/{vid}/events", FunctionIngest,
			[]TableAccess{vehicles("dynamodb:GetItem"), vehicleEvents("dynamodb:PutItem", "dynamodb:GetItem")}},
		{"getEvent", http.MethodGet, "/vehicles/{vid}/events/{eid}", FunctionEvents,
			[]TableAccess{vehicleEvents("dynamodb:GetItem")}},
	}
}

// Functions lists the functions, in a stable order.
func Functions() []string {
	return []string{FunctionVehicles, FunctionEvents, FunctionIngest}
}

// OperationsOf lists the operations a function serves.
func OperationsOf(function string) []Operation {
	var out []Operation
	for _, op := range Operations() {
		if op.Function == function {
			out = append(out, op)
		}
	}
	return out
}

// routeKey identifies an operation in an API Gateway proxy event.
func routeKey(method, resource string) string { return method + " " + resource }

// allowedMethods lists the methods of a resource, for 405 responses.
func allowedMethods(resource string) []string {
	var out []string
	for _, op := range Operations() {
		if op.Resource == resource {
			out = append(out, op.Method)
		}
	}
	slices.Sort(out)
	return out
}

// AccessOf returns the DynamoDB actions a function needs, by table role,
// sorted and without duplicates.
func AccessOf(function string) map[string][]string {
	out := map[string][]string{}
	for _, op := range OperationsOf(function) {
		for _, a := range op.Access {
			out[a.Table] = append(out[a.Table], a.Actions...)
		}
	}
	for table, actions := range out {
		slices.Sort(actions)
		out[table] = slices.Compact(actions)
	}
	return out
}

// Lists reports whether a function serves a paginated listing, and so
// needs the key that signs cursors.
func Lists(function string) bool {
	for _, op := range OperationsOf(function) {
		if op.ID == "listVehicles" || op.ID == "listEvents" {
			return true
		}
	}
	return false
}
