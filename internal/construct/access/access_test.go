package access

import (
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// specOf is the spec restricted to the seven operations these tests were
// written for: they check how statements are made, on a fixed input. What
// the whole spec grants is the generated table of docs/security.md
// (TestSecurityDocIsCurrent), and the synthesized policies are evaluated
// against every operation's classes in test/callers_test.go.
func specOf(t *testing.T) *api.Spec {
	t.Helper()
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	fixed := []string{"listVehicles", "createVehicle", "getVehicle", "updateVehicle", "listEvents", "createEvent", "getEvent"}
	var ops []api.Operation
	for _, id := range fixed {
		op, ok := spec.Lookup(id)
		if !ok {
			t.Fatalf("the spec has no operation %s", id)
		}
		ops = append(ops, op)
	}
	return &api.Spec{Doc: spec.Doc, Operations: ops}
}

func TestInvokeFollowsTheSpec(t *testing.T) {
	spec := specOf(t)
	arn := func(method, path string) string { return "API/stage/" + method + path }
	for class, want := range map[string][]string{
		contract.CallerVehicle: {
			"API/stage/GET/vehicles/${aws:PrincipalTag/vid}",
			"API/stage/POST/vehicles/${aws:PrincipalTag/vid}/events",
			"API/stage/GET/vehicles/${aws:PrincipalTag/vid}/events/*",
		},
		contract.CallerFleetRead: {
			"API/stage/GET/vehicles", "API/stage/GET/vehicles/*", "API/stage/GET/vehicles/*/events", "API/stage/GET/vehicles/*/events/*",
		},
		contract.CallerFleetAdmin: {
			"API/stage/GET/vehicles", "API/stage/POST/vehicles", "API/stage/GET/vehicles/*", "API/stage/PUT/vehicles/*",
		},
	} {
		s := Invoke(Operations(spec, class), class, arn)
		if got := strings.Join(s.Resources, "\n"); got != strings.Join(want, "\n") || strings.Join(s.Actions, ",") != "execute-api:Invoke" {
			t.Errorf("%s: %v on\n%s\nwant\n%s", class, s.Actions, got, strings.Join(want, "\n"))
		}
	}
}

func TestEnterVehicleRole(t *testing.T) {
	st := EnterVehicleRole("arn:aws:iam::111122223333:role/vehicles").Statements()
	if len(st) != 2 || st[0].Actions[0] != "sts:AssumeRole" || st[1].Actions[0] != "sts:TagSession" {
		t.Fatalf("statements %+v", st)
	}
	if got := st[0].Conditions["StringEquals"]; got["sts:RoleSessionName"][0] != ThingNameVariable || got["aws:RequestTag/vid"][0] != ThingNameVariable {
		t.Errorf("AssumeRole conditions %v: want the thing name as session name and as tag", got)
	}
	if got := st[1].Conditions["ForAllValues:StringEquals"]["aws:TagKeys"]; len(got) != 1 || got[0] != VehicleTag {
		t.Errorf("TagSession tag keys %v, want vid alone", got)
	}
}

// Beyond denies, to each class, the operations its patterns reach and the
// spec does not give it: for fleet-admin the event reads, which
// GET /vehicles/* matches; for the others, nothing.
func TestBeyond(t *testing.T) {
	spec := specOf(t)
	arn := func(method, path string) string { return method + path }
	for class, want := range map[string]string{
		contract.CallerVehicle:    "",
		contract.CallerFleetRead:  "",
		contract.CallerFleetAdmin: "GET/vehicles/*/events GET/vehicles/*/events/*",
	} {
		d := Beyond(spec, Operations(spec, class), class, arn)
		got := ""
		if d != nil {
			got = strings.Join(d.Resources, " ")
			if !d.Deny {
				t.Errorf("%s: an Allow statement", class)
			}
		}
		if got != want {
			t.Errorf("%s: Beyond denies %q, want %q", class, got, want)
		}
	}
	// One operation granted alone: getVehicle's pattern reaches the
	// vehicle's events, which are denied.
	var get []api.Operation
	for _, op := range spec.Operations {
		if op.ID == "getVehicle" {
			get = append(get, op)
		}
	}
	if d := Beyond(spec, get, contract.CallerFleetRead, arn); d == nil || strings.Join(d.Resources, " ") != "GET/vehicles/*/events GET/vehicles/*/events/*" {
		t.Errorf("Beyond(getVehicle) = %+v", d)
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"GET/vehicles/*", "GET/vehicles/x", true},
		{"GET/vehicles/*", "GET/vehicles/x/events/y", true},
		{"GET/vehicles/*", "GET/vehicles", false},
		{"GET/vehicles/*/events", "GET/vehicles/x/events", true},
		{"GET/vehicles/*/events", "GET/vehicles/x/events/y", false},
		{"GET/vehicles/V/events/*", "GET/vehicles/V/events", false},
		{"POST/vehicles", "POST/vehicles", true},
		{"POST/vehicles", "post/vehicles", false},
	} {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
