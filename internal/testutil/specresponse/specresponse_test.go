package specresponse

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	c, err := New("http://127.0.0.1:3000")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *http.Request {
		r, _ := http.NewRequest("GET", "http://127.0.0.1:3000"+path, nil)
		return r
	}
	json := http.Header{"Content-Type": {"application/json"}}
	vehicle := `{"vid":"car-1","make":"BMW","model":"i3","year":2017,"createdAt":"2026-11-26T08:00:00Z","updatedAt":"2026-11-26T08:00:00Z","version":1}`
	if op, err := c.Check(get("/vehicles/car-1"), 200, json, []byte(vehicle)); op != "getVehicle" || err != nil {
		t.Errorf("a vehicle: %q %v, want getVehicle and no error", op, err)
	}
	if _, err := c.Check(get("/vehicles/car-1"), 200, json, []byte(strings.Replace(vehicle, `"make"`, `"mak"`, 1))); err == nil {
		t.Error("a vehicle without make passed")
	}
	if _, err := c.Check(get("/vehicles/car-1"), 299, json, []byte(vehicle)); err == nil {
		t.Error("a status the operation does not declare passed")
	}
	if op, err := c.Check(get("/nowhere"), 403, json, []byte(`{}`)); op != "" || err != nil {
		t.Errorf("an unknown route: %q %v, want no operation and no error", op, err)
	}
}
