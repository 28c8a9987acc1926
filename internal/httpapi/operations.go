// Package httpapi serves the API's operations from API Gateway proxy events:
// routing, strict JSON decoding, validation, the one JSON error shape, and
// structured logs.
package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/fleetapi/fleetapi/internal/schema"
)

// Operation is one API operation as this package implements it: its route
// and the DynamoDB actions its code performs. Which function serves it is
// said by api/swagger.yaml; a function's IAM policy is the union of the
// Access of its operations.
type Operation struct {
	ID       string
	Method   string
	Resource string
	Access   []TableAccess
	// Paginated operations sign cursors, so their function needs the key.
	Paginated bool
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
		{ID: "listVehicles", Method: http.MethodGet, Resource: "/vehicles", Paginated: true,
			Access: []TableAccess{vehicles("dynamodb:Scan")}},
		{ID: "createVehicle", Method: http.MethodPost, Resource: "/vehicles",
			Access: []TableAccess{vehicles("dynamodb:PutItem")}},
		{ID: "getVehicle", Method: http.MethodGet, Resource: "/vehicles/{vid}",
			Access: []TableAccess{vehicles("dynamodb:GetItem")}},
		// A failed conditional update reads the vehicle to tell 404 from 412.
		{ID: "updateVehicle", Method: http.MethodPut, Resource: "/vehicles/{vid}",
			Access: []TableAccess{vehicles("dynamodb:UpdateItem", "dynamodb:GetItem")}},
		{ID: "listEvents", Method: http.MethodGet, Resource: "/vehicles/{vid}/events", Paginated: true,
			Access: []TableAccess{vehicleEvents("dynamodb:Query")}},
		// The vehicle must exist; a retried upload reads the stored event.
		{ID: "createEvent", Method: http.MethodPost, Resource: "/vehicles/{vid}/events",
			Access: []TableAccess{vehicles("dynamodb:GetItem"), vehicleEvents("dynamodb:PutItem", "dynamodb:GetItem")}},
		{ID: "getEvent", Method: http.MethodGet, Resource: "/vehicles/{vid}/events/{eid}",
			Access: []TableAccess{vehicleEvents("dynamodb:GetItem")}},
	}
}

// operationsByID returns the operations named, in the order named; an
// unknown ID is an error that lists the known ones.
func operationsByID(ids []string) ([]Operation, error) {
	all := Operations()
	var out []Operation
	for _, id := range ids {
		i := slices.IndexFunc(all, func(op Operation) bool { return op.ID == id })
		if i < 0 {
			known := make([]string, len(all))
			for j, op := range all {
				known[j] = op.ID
			}
			return nil, fmt.Errorf("unknown operation %q: known operations are %s", id, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// routeKey identifies an operation in an API Gateway proxy event.
func routeKey(method, resource string) string { return method + " " + resource }

// allowedMethods lists the methods of a resource this handler serves, for 405 responses.
func (h *Handler) allowedMethods(resource string) []string {
	var out []string
	for _, rt := range h.routes {
		if rt.op.Resource == resource {
			out = append(out, rt.op.Method)
		}
	}
	slices.Sort(out)
	return out
}

// AccessOf returns the DynamoDB actions the operations named need, by
// table role, sorted and without duplicates.
func AccessOf(ids []string) (map[string][]string, error) {
	ops, err := operationsByID(ids)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, op := range ops {
		for _, a := range op.Access {
			out[a.Table] = append(out[a.Table], a.Actions...)
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
	ops, _ := operationsByID(ids)
	return slices.ContainsFunc(ops, func(op Operation) bool { return op.Paginated })
}
