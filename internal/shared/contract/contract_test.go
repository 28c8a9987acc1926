package contract

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestRoutesRoundTrip(t *testing.T) {
	routes := []Route{
		{"listEvents", "GET", "/vehicles/{vid}/events", []string{CallerFleetRead}},
		{"getEvent", "GET", "/vehicles/{vid}/events/{eid}", []string{CallerVehicle, CallerFleetRead}},
	}
	s := FormatRoutes(routes)
	if s != "listEvents GET /vehicles/{vid}/events fleet-read;getEvent GET /vehicles/{vid}/events/{eid} vehicle,fleet-read" {
		t.Errorf("FormatRoutes = %q", s)
	}
	got, err := ParseRoutes(s)
	if err != nil || !slices.EqualFunc(got, routes, func(a, b Route) bool {
		return a.Operation == b.Operation && a.Method == b.Method && a.Resource == b.Resource && slices.Equal(a.Callers, b.Callers)
	}) {
		t.Errorf("ParseRoutes(%q) = %v, %v; want %v", s, got, err, routes)
	}
	if !got[1].Allows(CallerVehicle) || got[0].Allows(CallerVehicle) {
		t.Errorf("Allows: getEvent %v, listEvents %v; want vehicle for getEvent only", got[1].Allows(CallerVehicle), got[0].Allows(CallerVehicle))
	}
	for in, want := range map[string]string{
		"getEvent":                                   `route "getEvent" is not "operationId METHOD /path class,class"`,
		"getEvent GET vehicles fleet-read":           `route "getEvent GET vehicles fleet-read" is not`,
		"getEvent GET /a /b":                         `unknown caller class "/b"`,
		"getEvent GET /a":                            `is not "operationId METHOD /path class,class"`,
		"Delete-Vehicle DELETE /vehicles fleet-read": `"Delete-Vehicle" is not an operationId`,
		"getEvent GET /a fleet-read;":                `route "" is not`,
		"getEvent GET /a car":                        `unknown caller class "car": known classes are vehicle, fleet-read, fleet-admin`,
		"getEvent GET /a vehicle,vehicle":            `caller class "vehicle" named twice`,
		"getEvent GET /a vehicle,":                   `unknown caller class ""`,
	} {
		if _, err := ParseRoutes(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRoutes(%q): %v, want %q", in, err, want)
		}
	}
}

func TestPrincipalsRoundTrip(t *testing.T) {
	in := map[string][]string{
		"arn:aws:iam::111122223333:role/reader": {"listEvents", "getEvent"},
		"arn:aws:iam::111122223333:user/admin":  {"createVehicle"},
	}
	s := FormatPrincipals(in)
	if s != "arn:aws:iam::111122223333:role/reader=listEvents,getEvent;arn:aws:iam::111122223333:user/admin=createVehicle" {
		t.Errorf("FormatPrincipals = %q", s)
	}
	got, err := ParsePrincipals(s)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(in) {
		t.Errorf("ParsePrincipals(%q) = %v, %v; want %v", s, got, err, in)
	}
	// In the order given, those without operations left out.
	ordered := FormatPrincipalsInOrder([]string{"arn:aws:iam::111122223333:user/admin", "arn:aws:iam::111122223333:role/none", "arn:aws:iam::111122223333:role/reader"}, in)
	if ordered != "arn:aws:iam::111122223333:user/admin=createVehicle;arn:aws:iam::111122223333:role/reader=listEvents,getEvent" {
		t.Errorf("FormatPrincipalsInOrder = %q", ordered)
	}
	if got, err := ParsePrincipals(""); err != nil || len(got) != 0 {
		t.Errorf(`ParsePrincipals("") = %v, %v; want none`, got, err)
	}
	for in, want := range map[string]string{
		"reader=getEvent":                                 `principal "reader=getEvent" is not "ARN=operationId,operationId"`,
		"arn:aws:iam::1:role/r":                           `is not "ARN=operationId,operationId"`,
		"arn:aws:iam::1:role/r=":                          `is not "ARN=operationId,operationId"`,
		"arn:aws:iam::111122223333:role/r=getEvent,drop*": `principal "arn:aws:iam::111122223333:role/r": "drop*" is not an operationId`,
		"arn:aws:iam::1:role/r=getEvent":                  `principal "arn:aws:iam::1:role/r" is not an IAM role or user ARN`,
		"arn:aws:iam::111122223333:root=getEvent":         `principal "arn:aws:iam::111122223333:root" is not an IAM role or user ARN`,
		"arn:aws:iam::111122223333:role/r=getEvent;":      `principal "" is not`,
	} {
		if _, err := ParsePrincipals(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePrincipals(%q): %v, want %q", in, err, want)
		}
	}
}

func TestParsePrincipal(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::111122223333:role/reader":             "role reader of account 111122223333",
		"arn:aws:iam::111122223333:role/service/team/x":     "role x of account 111122223333",
		"arn:aws-cn:iam::111122223333:user/ops/provisioner": "user provisioner of account 111122223333",
	} {
		if p, err := ParsePrincipal(arn); err != nil || p.String() != want {
			t.Errorf("ParsePrincipal(%q) = %v, %v; want %s", arn, p, err, want)
		}
	}
	for _, arn := range []string{"", "reader", "arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:group/g", "arn:aws:iam::111122223333:role/",
		"arn:aws:sts::111122223333:assumed-role/r/s", "arn:aws:iam:eu-west-1:111122223333:role/r", "arn::iam::111122223333:role/r", "arn:aws:iam::11112222333x:role/r"} {
		if p, err := ParsePrincipal(arn); err == nil {
			t.Errorf("ParsePrincipal(%q) = %v, want an error", arn, p)
		}
	}
}

func TestCheckCallers(t *testing.T) {
	if err := CheckCallers([]string{CallerVehicle, CallerFleetRead}); err != nil {
		t.Errorf("CheckCallers(vehicle, fleet-read): %v", err)
	}
	if err := CheckCallers(nil); err == nil || !strings.Contains(err.Error(), "no caller classes: known classes are vehicle, fleet-read, fleet-admin") {
		t.Errorf("CheckCallers(none): %v", err)
	}
}
