package contract

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestRoutesRoundTrip(t *testing.T) {
	routes := []Route{{"listEvents", "GET", "/vehicles/{vid}/events"}, {"getEvent", "GET", "/vehicles/{vid}/events/{eid}"}}
	s := FormatRoutes(routes)
	if s != "listEvents GET /vehicles/{vid}/events;getEvent GET /vehicles/{vid}/events/{eid}" {
		t.Errorf("FormatRoutes = %q", s)
	}
	got, err := ParseRoutes(s)
	if err != nil || !slices.Equal(got, routes) {
		t.Errorf("ParseRoutes(%q) = %v, %v; want %v", s, got, err, routes)
	}
	for in, want := range map[string]string{
		"getEvent":                       `route "getEvent" is not "operationId METHOD /path"`,
		"getEvent GET vehicles":          `route "getEvent GET vehicles" is not`,
		"getEvent GET /a /b":             `is not "operationId METHOD /path"`,
		"deleteVehicle DELETE /vehicles": `unknown operation "deleteVehicle": known operations are createEvent, createVehicle, getEvent`,
		"getEvent GET /a;":               `route "" is not`,
	} {
		if _, err := ParseRoutes(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRoutes(%q): %v, want %q", in, err, want)
		}
	}
}

func TestAccessOf(t *testing.T) {
	access, err := AccessOf([]string{"getVehicle", "updateVehicle", "createEvent"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(access); got != "map[vehicleEvents:[dynamodb:GetItem dynamodb:PutItem] vehicles:[dynamodb:GetItem dynamodb:UpdateItem]]" {
		t.Errorf("AccessOf = %s: want each table's actions sorted, once", got)
	}
	if _, err := AccessOf([]string{"getVehicle", "getVehicles"}); err == nil || !strings.Contains(err.Error(), `unknown operation "getVehicles"`) {
		t.Errorf("AccessOf an unknown operation: %v", err)
	}
	// The declarations are not changed by reading them.
	again, _ := AccessOf([]string{"updateVehicle"})
	if fmt.Sprint(again) != "map[vehicles:[dynamodb:GetItem dynamodb:UpdateItem]]" {
		t.Errorf("AccessOf(updateVehicle) = %v", again)
	}
}

func TestOperations(t *testing.T) {
	if got := strings.Join(OperationIDs(), ","); got != "createEvent,createVehicle,getEvent,getVehicle,listEvents,listVehicles,updateVehicle" {
		t.Errorf("OperationIDs = %s", got)
	}
	for ids, want := range map[string]bool{"listVehicles": true, "getEvent,listEvents": true, "getEvent,createEvent": false, "": false} {
		if got := Paginates(strings.Split(ids, ",")); got != want {
			t.Errorf("Paginates(%s) = %v, want %v", ids, got, want)
		}
	}
	op, ok := Lookup("createEvent")
	if !ok || !op.Uses("vehicles") || !op.Uses("vehicleEvents") || op.Paginated {
		t.Errorf("Lookup(createEvent) = %+v, %v", op, ok)
	}
	if op, _ := Lookup("getVehicle"); op.Uses("vehicleEvents") {
		t.Error("getVehicle uses the events table")
	}
	if _, ok := Lookup("deleteVehicle"); ok {
		t.Error("Lookup(deleteVehicle) found an operation")
	}
}
