// Package contract declares what the CDK construct and the functions agree
// on: the environment a function reads, how the routes api/swagger.yaml
// gives a function reach it, and what each operation does in DynamoDB, from
// which its IAM policy is made. It imports only the key schema, so that the
// construct links no runtime code.
package contract

import (
	"fmt"
	"maps"
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
	// EnvVehicleRole is the ARN of the role vehicles call the API in: a
	// session of it acts for the vehicle its session name names.
	EnvVehicleRole = "FLEETAPI_VEHICLE_ROLE_ARN"
	// EnvPrincipals lists the other principals the construct let invoke
	// operations, with those operations, as FormatPrincipals writes them.
	EnvPrincipals = "FLEETAPI_PRINCIPALS"
)

// Caller classes: who may call an operation, as api/swagger.yaml declares
// beside each operation (api.ExtCallers).
const (
	// CallerVehicle is one vehicle acting for itself: only on the {vid}
	// its identity names.
	CallerVehicle = "vehicle"
	// CallerFleetRead is a backend service that reads every vehicle.
	CallerFleetRead = "fleet-read"
	// CallerFleetAdmin registers and updates vehicles.
	CallerFleetAdmin = "fleet-admin"
)

// CallerClasses lists the caller classes, vehicle first.
func CallerClasses() []string { return []string{CallerVehicle, CallerFleetRead, CallerFleetAdmin} }

// IsFleetClass reports whether principals may be granted a caller class:
// every class but the vehicles' (a vehicle calls as itself, in its role).
func IsFleetClass(class string) bool { return class != CallerVehicle }

// CheckCallers requires a non-empty list of known caller classes, each once.
func CheckCallers(callers []string) error {
	if len(callers) == 0 {
		return fmt.Errorf("no caller classes: known classes are %s", strings.Join(CallerClasses(), ", "))
	}
	for i, c := range callers {
		if !slices.Contains(CallerClasses(), c) {
			return fmt.Errorf("unknown caller class %q: known classes are %s", c, strings.Join(CallerClasses(), ", "))
		}
		if slices.Contains(callers[:i], c) {
			return fmt.Errorf("caller class %q named twice", c)
		}
	}
	return nil
}

// Route is an operation of the spec as API Gateway invokes it: its
// operationId, method and resource (the path template), and the caller
// classes that may call it.
type Route struct {
	Operation, Method, Resource string
	Callers                     []string
}

// Allows reports whether callers of the class may call the route.
func (r Route) Allows(class string) bool { return slices.Contains(r.Callers, class) }

// FormatRoutes writes routes for EnvRoutes: "ID METHOD /path class,class"
// joined by ";".
func FormatRoutes(routes []Route) string {
	parts := make([]string, len(routes))
	for i, r := range routes {
		parts[i] = r.Operation + " " + r.Method + " " + r.Resource + " " + strings.Join(r.Callers, ",")
	}
	return strings.Join(parts, ";")
}

// ParseRoutes reads what FormatRoutes wrote; every operation must be one
// this package declares, every caller class a known one.
func ParseRoutes(s string) ([]Route, error) {
	var out []Route
	for part := range strings.SplitSeq(s, ";") {
		f := strings.Fields(part)
		if len(f) != 4 || !strings.HasPrefix(f[2], "/") {
			return nil, fmt.Errorf("route %q is not \"operationId METHOD /path class,class\"", part)
		}
		if _, ok := operations[f[0]]; !ok {
			return nil, fmt.Errorf("route %q: unknown operation %q: known operations are %s", part, f[0], strings.Join(OperationIDs(), ", "))
		}
		callers := strings.Split(f[3], ",")
		if err := CheckCallers(callers); err != nil {
			return nil, fmt.Errorf("route %q: %w", part, err)
		}
		out = append(out, Route{Operation: f[0], Method: f[1], Resource: f[2], Callers: callers})
	}
	return out, nil
}

// Principal is an IAM role or user as its ARN names it:
// arn:PARTITION:iam::ACCOUNT:role/PATH/NAME or .../user/PATH/NAME. Names are
// unique in an account whatever their path, and an assumed-role ARN carries
// no path (IAM User Guide, "IAM identifiers": arn:aws:sts::account-id:
// assumed-role/role-name/role-session-name), so a principal is its
// partition, account, kind and name.
type Principal struct {
	Partition, Account, Kind, Name string
}

// Kinds of principal.
const (
	KindRole = "role"
	KindUser = "user"
)

func (p Principal) String() string {
	return fmt.Sprintf("%s %s of account %s", p.Kind, p.Name, p.Account)
}

// ParsePrincipal reads an IAM role or user ARN.
func ParsePrincipal(arn string) (Principal, error) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[1] == "" || f[2] != "iam" || f[3] != "" || !IsAccount(f[4]) {
		return Principal{}, fmt.Errorf("%q is not an IAM role or user ARN such as arn:aws:iam::123456789012:role/NAME", arn)
	}
	kind, rest, _ := strings.Cut(f[5], "/")
	name := rest[strings.LastIndex(rest, "/")+1:]
	if (kind != KindRole && kind != KindUser) || name == "" {
		return Principal{}, fmt.Errorf("%q is not an IAM role or user ARN such as arn:aws:iam::123456789012:role/NAME", arn)
	}
	return Principal{Partition: f[1], Account: f[4], Kind: kind, Name: name}, nil
}

// IsAccount reports whether s is an AWS account ID: 12 digits.
func IsAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FormatPrincipals writes, for EnvPrincipals, the operations each
// principal (an IAM role or user ARN) may call: "ARN=op,op" joined by ";",
// sorted by ARN.
func FormatPrincipals(ops map[string][]string) string {
	parts := make([]string, 0, len(ops))
	for _, arn := range slices.Sorted(maps.Keys(ops)) {
		parts = append(parts, arn+"="+strings.Join(ops[arn], ","))
	}
	return strings.Join(parts, ";")
}

// ParsePrincipals reads what FormatPrincipals wrote; "" is no principal.
func ParsePrincipals(s string) (map[string][]string, error) {
	out := map[string][]string{}
	if s == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ";") {
		arn, list, ok := strings.Cut(part, "=")
		if !ok || !strings.HasPrefix(arn, "arn:") || list == "" {
			return nil, fmt.Errorf("principal %q is not \"ARN=operationId,operationId\"", part)
		}
		if _, err := ParsePrincipal(arn); err != nil {
			return nil, fmt.Errorf("principal %w", err)
		}
		for id := range strings.SplitSeq(list, ",") {
			if _, known := operations[id]; !known {
				return nil, fmt.Errorf("principal %q: unknown operation %q: known operations are %s", arn, id, strings.Join(OperationIDs(), ", "))
			}
			out[arn] = append(out[arn], id)
		}
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
