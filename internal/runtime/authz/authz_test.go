package authz

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

const (
	vehicleRole = "arn:aws:iam::111122223333:role/FleetApi-prod-FleetVehicleRole-ABC"
	reader      = "arn:aws:iam::111122223333:role/service/analytics-reader"
	admin       = "arn:aws:iam::111122223333:user/ops/provisioning"
)

var (
	getVehicle  = contract.Route{Operation: "getVehicle", Method: "GET", Resource: "/vehicles/{vid}", Callers: []string{contract.CallerVehicle, contract.CallerFleetRead, contract.CallerFleetAdmin}}
	createEvent = contract.Route{Operation: "createEvent", Method: "POST", Resource: "/vehicles/{vid}/events", Callers: []string{contract.CallerVehicle}}
	listEvents  = contract.Route{Operation: "listEvents", Method: "GET", Resource: "/vehicles/{vid}/events", Callers: []string{contract.CallerFleetRead}}
	listAll     = contract.Route{Operation: "listVehicles", Method: "GET", Resource: "/vehicles", Callers: []string{contract.CallerFleetRead, contract.CallerFleetAdmin}}
)

func testPolicy(t *testing.T) *Policy {
	t.Helper()
	p, err := New(vehicleRole, map[string][]string{
		reader: {"getVehicle", "listEvents", "listVehicles"},
		admin:  {"getVehicle", "listVehicles"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	p := testPolicy(t)
	const carA = "arn:aws:sts::111122223333:assumed-role/FleetApi-prod-FleetVehicleRole-ABC/car-A"
	for _, tt := range []struct {
		name       string
		route      contract.Route
		caller     string
		vid        string
		wantClass  string
		wantReason string // "" when allowed
	}{
		{"a vehicle uploads as itself", createEvent, carA, "car-A", contract.CallerVehicle, ""},
		{"a vehicle reads its own record", getVehicle, carA, "car-A", contract.CallerVehicle, ""},
		{"a vehicle names another vehicle", createEvent, carA, "car-B", "", `vehicle car-A may not act on vehicle "car-B"`},
		{"a vid differing only in case", createEvent, carA, "CAR-A", "", `vehicle car-A may not act on vehicle "CAR-A"`},
		{"a vid with a trailing space", createEvent, carA, "car-A ", "", `may not act on vehicle "car-A "`},
		{"a vehicle on an operation of the fleet", listEvents, carA, "car-A", "", "vehicle car-A may not call listEvents: it is not an operation of vehicles"},
		{"a vehicle on a route without a vid", listAll, carA, "", "", "vehicle car-A may not call listVehicles"},
		{"the vehicle role of another account", createEvent, "arn:aws:sts::444455556666:assumed-role/FleetApi-prod-FleetVehicleRole-ABC/car-A", "car-A", "", "role FleetApi-prod-FleetVehicleRole-ABC of account 444455556666 may not call createEvent"},
		{"the vehicle role in another partition", createEvent, "arn:aws-cn:sts::111122223333:assumed-role/FleetApi-prod-FleetVehicleRole-ABC/car-A", "car-A", "", "may not call createEvent"},
		{"a fleet reader, any vehicle", listEvents, "arn:aws:sts::111122223333:assumed-role/analytics-reader/i-0abc", "car-B", "", ""},
		{"a fleet reader on an operation not granted", createEvent, "arn:aws:sts::111122223333:assumed-role/analytics-reader/i-0abc", "car-B", "", "role analytics-reader of account 111122223333 may not call createEvent"},
		{"a granted user", listAll, admin, "", "", ""},
		{"a granted user, matched by name whatever the path", listAll, "arn:aws:iam::111122223333:user/provisioning", "", "", ""},
		{"a user named like the granted role", listEvents, "arn:aws:iam::111122223333:user/analytics-reader", "car-B", "", "user analytics-reader of account 111122223333 may not call listEvents"},
		{"an unknown role", getVehicle, "arn:aws:sts::111122223333:assumed-role/other/s", "car-A", "", "role other of account 111122223333 may not call getVehicle"},
		{"no identity (unsigned)", getVehicle, "", "car-A", "", "the request carries no caller identity"},
		{"a malformed ARN", getVehicle, "car-A", "car-A", "", `caller "car-A": not an IAM principal's ARN`},
		{"an assumed role without a session", getVehicle, "arn:aws:sts::111122223333:assumed-role/FleetApi-prod-FleetVehicleRole-ABC", "car-A", "", "not an assumed role's ARN"},
		{"a session with a slash", getVehicle, "arn:aws:sts::111122223333:assumed-role/FleetApi-prod-FleetVehicleRole-ABC/car-A/x", "car-A", "", "not an assumed role's ARN"},
		{"an account that is not 12 digits", getVehicle, "arn:aws:sts::1111:assumed-role/FleetApi-prod-FleetVehicleRole-ABC/car-A", "car-A", "", "not an IAM principal's ARN"},
		{"a federated user", getVehicle, "arn:aws:sts::111122223333:federated-user/car-A", "car-A", "", "not an IAM user's or assumed role's ARN"},
		{"the account root", getVehicle, "arn:aws:iam::111122223333:root", "car-A", "", "not an IAM user's or assumed role's ARN"},
		{"a role ARN, not a session of it", getVehicle, "arn:aws:iam::111122223333:role/FleetApi-prod-FleetVehicleRole-ABC", "car-A", "", "not an IAM user's or assumed role's ARN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := p.Check(tt.route, tt.caller, tt.vid)
			if tt.wantReason == "" {
				if err != nil || c.Class != tt.wantClass || c.ARN != tt.caller {
					t.Fatalf("got %+v, %v; want allowed as %q", c, err, tt.wantClass)
				}
				if tt.wantClass == contract.CallerVehicle && c.VID != tt.vid {
					t.Errorf("VID = %q, want %q", c.VID, tt.vid)
				}
				return
			}
			var re *RefusalError
			if !errors.As(err, &re) || !errors.Is(err, ErrForbidden) || !strings.Contains(re.Reason, tt.wantReason) {
				t.Fatalf("got %+v, %v; want a refusal containing %q", c, err, tt.wantReason)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		role       string
		principals map[string][]string
		want       string
	}{
		{"", nil, `vehicle role "" is not an IAM role ARN`},
		{"arn:aws:iam::111122223333:user/cars", nil, "is not an IAM role ARN"},
		{"arn:aws:sts::111122223333:assumed-role/cars/x", nil, "is not an IAM role ARN"},
		{vehicleRole, map[string][]string{"arn:aws:iam::111122223333:root": {"getVehicle"}}, `principal "arn:aws:iam::111122223333:root" is not an IAM role or user ARN`},
		{vehicleRole, map[string][]string{"arn:aws:iam::111122223333:group/ops": {"getVehicle"}}, "not an IAM role or user ARN"},
		{vehicleRole, map[string][]string{"arn:aws:iam::111122223333:role/": {"getVehicle"}}, "not an IAM role or user ARN"},
		{vehicleRole, map[string][]string{"arn:aws:iam::111122223333:role/path/FleetApi-prod-FleetVehicleRole-ABC": {"listEvents"}}, "is the vehicle role"},
	} {
		if _, err := New(tt.role, tt.principals); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q, %v): %v, want %q", tt.role, tt.principals, err, tt.want)
		}
	}
}

// The check is on every request's path.
func BenchmarkCheck(b *testing.B) {
	p, err := New(vehicleRole, map[string][]string{reader: {"listEvents"}})
	if err != nil {
		b.Fatal(err)
	}
	const car = "arn:aws:sts::111122223333:assumed-role/FleetApi-prod-FleetVehicleRole-ABC/WBY1Z21000V123456"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Check(createEvent, car, "WBY1Z21000V123456"); err != nil {
			b.Fatal(err)
		}
	}
}
