package localapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// register registers vehicles as the fleet admin.
func (c *client) register(vids ...string) {
	c.t.Helper()
	for _, vid := range vids {
		if a := c.do("POST", "/vehicles", `{"vid":"`+vid+`","make":"BMW","model":"i3","year":2017}`, true, nil); a.status != 201 {
			c.t.Fatalf("register %s: %d %v", vid, a.status, a.body)
		}
	}
}

// state reads a vehicle's state as a fleet reader, once the stream has
// handed the tracker every upload stored.
func (c *client) state(vid string) map[string]any {
	c.t.Helper()
	c.local.Tracking.Stream.Flush()
	a := c.as(localauth.ReaderKeys).do("GET", "/vehicles/"+vid+"/state", "", true, nil)
	if a.status != 200 {
		c.t.Fatalf("the state of %s: %d %v", vid, a.status, a.body)
	}
	return a.body
}

// events waits until vehicle vid has n events stored (an upload over MQTT
// is stored after its PUBACK).
func (c *client) events(vid string, n int) {
	c.t.Helper()
	reader := c.as(localauth.ReaderKeys)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if evs, _ := reader.do("GET", "/vehicles/"+vid+"/events", "", true, nil).body["events"].([]any); len(evs) >= n {
			return
		}
	}
	c.t.Fatalf("%s: fewer than %d events stored", vid, n)
}

// speedOf is the newest speed of a state's JSON and the time of its sample.
func speedOf(st map[string]any) (float64, string) {
	sig, _ := st["signals"].(map[string]any)[fleet.SignalSpeed].(map[string]any)
	v, _ := sig["value"].(float64)
	at, _ := sig["at"].(string)
	return v, at
}

// A vehicle replays its journal late: the newest batch first, then an
// older one, over MQTT then HTTPS (car-A) and the other way round (car-B).
// The state holds the newest batch's values either way; the late batch
// moves only the upload time.
func TestStateKeepsTheNewestOverBothPaths(t *testing.T) {
	c := newClient(t)
	c.register("car-A", "car-B")
	now := time.Now().Truncate(time.Second)
	newest := workload.NewDrive(1, now.Add(-10*time.Minute)).Upload(10)
	older := workload.NewDrive(2, now.Add(-50*time.Minute)).Upload(10)
	body := func(up fleet.Upload) []byte { b, _ := json.Marshal(up); return b }
	for _, tt := range []struct {
		vid                 string
		newestMQTT, olderMQ bool
	}{{"car-A", true, false}, {"car-B", false, true}} {
		cert, _ := c.local.Provision(t, tt.vid)
		mq, err := mqttConnect(t, c.local, tt.vid, cert)
		if err != nil {
			t.Fatal(err)
		}
		https := c.as(c.vehicle(tt.vid))
		send := func(up fleet.Upload, overMQTT bool, n int) {
			t.Helper()
			if overMQTT {
				if tok := mq.Publish(contract.BasicIngestTopic(UploadRule, tt.vid), 1, false, body(up)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("publish: %v", tok.Error())
				}
			} else if a := https.do("POST", "/vehicles/"+tt.vid+"/events", string(body(up)), true, nil); a.status != 201 {
				t.Fatalf("upload: %d %v", a.status, a.body)
			}
			c.events(tt.vid, n)
			c.local.Tracking.Stream.Flush() // each in a batch of its own
		}
		send(newest, tt.newestMQTT, 1)
		send(older, tt.olderMQ, 2)
		st := c.state(tt.vid)
		last := newest.Samples[len(newest.Samples)-1]
		speed, at := speedOf(st)
		if speed != last.Signals[fleet.SignalSpeed] || at != last.Timestamp.UTC().Format("2006-01-02T15:04:05Z07:00") || st["lastSampleAt"] != at {
			t.Errorf("%s: speed %v at %s, last sample %v; want the newest batch's %v at %v", tt.vid, speed, at, st["lastSampleAt"], last.Signals[fleet.SignalSpeed], last.Timestamp)
		}
		if pos, _ := st["position"].(map[string]any); pos["latitude"] != last.Signals[fleet.SignalLatitude] {
			t.Errorf("%s: position %v, want the newest batch's", tt.vid, pos)
		}
	}
}

// 50 uploads of one vehicle at once (another drive each): its state is
// the newest of them all, signal by signal, as if they came one by one.
func TestConcurrentUploadsLeaveTheNewestState(t *testing.T) {
	c := newClient(t)
	c.register("car-C")
	vehicle := c.as(c.vehicle("car-C"))
	now := time.Now().Truncate(time.Second)
	want := fleet.NewVehicleState("car-C")
	var wg sync.WaitGroup
	for i := range 50 {
		up := workload.NewDrive(uint64(i), now.Add(-time.Duration(i)*time.Minute)).Upload(10)
		want.ApplyEvent(fleet.Event{Samples: up.Samples})
		b, _ := json.Marshal(up)
		wg.Go(func() {
			if a := vehicle.do("POST", "/vehicles/car-C/events", string(b), true, nil); a.status != 201 {
				t.Errorf("upload %d: %d %v", i, a.status, a.body)
			}
		})
	}
	wg.Wait()
	st := c.state("car-C")
	got := map[string]float64{}
	for name, v := range st["signals"].(map[string]any) {
		got[name] = v.(map[string]any)["value"].(float64)
	}
	wantValues := map[string]float64{}
	for name, v := range want.Signals {
		wantValues[name] = v.Value
	}
	if !reflect.DeepEqual(got, wantValues) || st["lastSampleAt"] != want.LastSampleAt.Format(time.RFC3339) {
		t.Errorf("after 50 concurrent uploads: %v at %v\nwant %v at %v", got, st["lastSampleAt"], wantValues, want.LastSampleAt)
	}
}

// A retried upload (the same Idempotency-Key) and a duplicate (the same
// samples, no key) store nothing: the state does not change, not even its
// upload time.
func TestRetryAndDuplicateLeaveTheState(t *testing.T) {
	c := newClient(t)
	c.register("car-D")
	vehicle := c.as(c.vehicle("car-D"))
	up, _ := json.Marshal(workload.NewDrive(4, time.Now().Add(-time.Hour)).Upload(10))
	key := func(k string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Idempotency-Key", k) }
	}
	if a := vehicle.do("POST", "/vehicles/car-D/events", string(up), true, key("k-1")); a.status != 201 {
		t.Fatalf("upload: %d %v", a.status, a.body)
	}
	before := c.state("car-D")
	time.Sleep(5 * time.Millisecond) // a later arrival would show
	if a := vehicle.do("POST", "/vehicles/car-D/events", string(up), true, key("k-1")); a.status != 200 {
		t.Errorf("the retry: %d %v, want 200", a.status, a.body)
	}
	other, _ := json.Marshal(workload.NewDrive(5, time.Now().Add(-2*time.Hour)).Upload(10))
	if a := vehicle.do("POST", "/vehicles/car-D/events", string(other), true, nil); a.status != 201 {
		t.Fatalf("another upload: %d %v", a.status, a.body)
	}
	if a := vehicle.do("POST", "/vehicles/car-D/events", string(other), true, nil); a.status != 200 {
		t.Errorf("the duplicate: %d %v, want 200", a.status, a.body)
	}
	after := c.state("car-D")
	// The other upload, older, moved the upload time only.
	delete(before, "lastUploadAt")
	delete(after, "lastUploadAt")
	if !reflect.DeepEqual(after, before) {
		t.Errorf("the state changed:\n%v\nwant\n%v", after, before)
	}
}

// A vehicle that disconnects shows it, with IoT Core's reason: its own
// DISCONNECT, or a publish its policy refuses (AUTH_ERROR); connected, it
// shows since when.
func TestDisconnectShowsItsReason(t *testing.T) {
	c := newClient(t)
	c.register("car-E", "car-F")
	waitFor := func(vid string, ok func(map[string]any) bool) map[string]any {
		t.Helper()
		var conn map[string]any
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			conn, _ = c.state(vid)["connectivity"].(map[string]any)
			if conn != nil && ok(conn) {
				return conn
			}
		}
		t.Fatalf("%s: connectivity %v", vid, conn)
		return nil
	}
	cert, _ := c.local.Provision(t, "car-E")
	e, err := mqttConnect(t, c.local, "car-E", cert)
	if err != nil {
		t.Fatal(err)
	}
	conn := waitFor("car-E", func(c map[string]any) bool { return c["connected"] == true })
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(conn["since"])); err != nil || conn["disconnectReason"] != nil {
		t.Errorf("connected: %v, want since when and no reason", conn)
	}
	e.Disconnect(250)
	waitFor("car-E", func(c map[string]any) bool {
		return c["connected"] == false && c["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
	})

	certF, _ := c.local.Provision(t, "car-F")
	f, err := mqttConnect(t, c.local, "car-F", certF)
	if err != nil {
		t.Fatal(err)
	}
	f.Publish(contract.BasicIngestTopic(UploadRule, "car-E"), 1, false, "{}").WaitTimeout(2 * time.Second)
	waitFor("car-F", func(c map[string]any) bool { return c["connected"] == false && c["disconnectReason"] == "AUTH_ERROR" })
}

// The fleet's silent vehicles are the connected ones that stopped
// uploading, not a parked one; the fleet's states page by page; a bad
// filter is a 400 naming it.
func TestFleetStateFilters(t *testing.T) {
	c := newClient(t)
	c.register("car-G", "car-H")
	for _, vid := range []string{"car-G", "car-H"} {
		cert, _ := c.local.Provision(t, vid)
		mq, err := mqttConnect(t, c.local, vid, cert)
		if err != nil {
			t.Fatal(err)
		}
		up, _ := json.Marshal(workload.NewDrive(6, time.Now().Add(-time.Minute)).Upload(10))
		if tok := mq.Publish(contract.BasicIngestTopic(UploadRule, vid), 1, false, up); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		c.events(vid, 1)
		if vid == "car-H" {
			mq.Disconnect(250) // parked
		}
	}
	time.Sleep(1500 * time.Millisecond)
	c.local.Tracking.Stream.Flush()
	reader := c.as(localauth.ReaderKeys)
	silent := reader.do("GET", "/fleet/state?silentFor=PT1S", "", true, nil)
	states, _ := silent.body["states"].([]any)
	if silent.status != 200 || len(states) != 1 || states[0].(map[string]any)["vid"] != "car-G" {
		t.Errorf("silent for 1 s: %d %v, want car-G alone (car-H is parked)", silent.status, silent.body)
	}
	var vids []string
	for cursor := ""; ; {
		page := reader.do("GET", "/fleet/state?limit=1"+cursor, "", true, nil)
		for _, st := range page.body["states"].([]any) {
			vids = append(vids, st.(map[string]any)["vid"].(string))
		}
		next, _ := page.body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + next
	}
	if len(vids) != 2 {
		t.Errorf("the fleet in pages of 1: %v, want car-G and car-H", vids)
	}
	for _, q := range []string{"silentFor=-PT1S", "silentFor=1h", "notSeenFor=P0D", "bbox=10,95,11,96", "bbox=11,48,10", "color=red"} {
		a := reader.do("GET", "/fleet/state?"+q, "", true, nil)
		msg := a.body["error"].(map[string]any)["message"].(string)
		if a.status != 400 || msg == "" {
			t.Errorf("%s: %d %v, want 400 naming the parameter", q, a.status, a.body)
		}
	}
}

// A page of the fleet's states is compressed for a client that accepts
// gzip, as the stage compresses answers from its minimum compression size
// (1 KiB); a smaller one is not.
func TestFleetStateAnswersCompressed(t *testing.T) {
	c := newClient(t)
	c.register("car-I", "car-J")
	for i, vid := range []string{"car-I", "car-J"} {
		up, _ := json.Marshal(workload.NewDrive(uint64(7+i), time.Now().Add(-time.Hour)).Upload(10))
		if a := c.as(c.vehicle(vid)).do("POST", "/vehicles/"+vid+"/events", string(up), true, nil); a.status != 201 {
			t.Fatal(a.status)
		}
	}
	c.local.Tracking.Stream.Flush()
	// A transport of its own: the default one would ask for gzip itself
	// and hide the encoding.
	rt := &http.Transport{DisableCompression: true}
	defer rt.CloseIdleConnections()
	get := func(path string) (*http.Response, []byte) { return readerGet(t, rt, c.base+path) }
	if res, b := get("/fleet/state"); res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("a page of states: %d, encoding %q, %d bytes", res.StatusCode, res.Header.Get("Content-Encoding"), len(b))
	}
	if res, _ := get("/vehicles/car-I"); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("an answer under 1 KiB is encoded %q", res.Header.Get("Content-Encoding"))
	}
}

// readerGet is a GET of url signed with the fleet reader's keys that
// accepts gzip, over rt; it returns the answer and its body as sent.
func readerGet(t testing.TB, rt http.RoundTripper, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	sum := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // of no body
	if err := v4.NewSigner().SignHTTP(req.Context(), localauth.ReaderKeys, req, sum, "execute-api", localauth.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}
