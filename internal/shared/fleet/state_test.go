package fleet

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// event is a stored event of samples at the seconds after base given, each
// with the signals given, received at receivedAt seconds after base.
func event(vid string, receivedAt int, samples ...Sample) Event {
	return Event{VID: vid, Samples: samples, ReceivedAt: now.Add(time.Duration(receivedAt) * time.Second)}
}

func sampleAt(sec int, signals map[string]float64) Sample {
	return Sample{Timestamp: now.Add(time.Duration(sec) * time.Second), Signals: signals}
}

// A late batch never moves a signal back in time: the newest batch first,
// then an older one, leaves the newest values, and the older batch's
// signals the newest batch did not carry.
func TestApplyEventEventTimeDecides(t *testing.T) {
	newest := event("car-1", 100, sampleAt(60, map[string]float64{SignalSpeed: 50, SignalLatitude: 48.2, SignalLongitude: 11.6}))
	older := event("car-1", 200, sampleAt(10, map[string]float64{SignalSpeed: 10, SignalLatitude: 48.1, SignalLongitude: 11.5, SignalStateOfCharge: 80}))
	s := NewVehicleState("car-1")
	if !s.ApplyEvent(newest) {
		t.Fatal("the first event changed nothing")
	}
	s.ApplyEvent(older)
	if got := s.Signals[SignalSpeed]; got.Value != 50 || !got.At.Equal(now.Add(60*time.Second)) {
		t.Errorf("speed after a late batch: %+v, want the newest, 50 at +60 s", got)
	}
	if got := s.Signals[SignalStateOfCharge]; got.Value != 80 {
		t.Errorf("a signal only the late batch carried: %+v, want it", got)
	}
	if s.Position == nil || s.Position.Latitude != 48.2 || !s.Position.At.Equal(now.Add(60*time.Second)) {
		t.Errorf("position after a late batch: %+v, want the newest", s.Position)
	}
	if !s.LastSampleAt.Equal(now.Add(60*time.Second)) || !s.LastUploadAt.Equal(now.Add(200*time.Second)) {
		t.Errorf("last sample %v, last upload %v: want the newest sample's time and the late batch's arrival", s.LastSampleAt, s.LastUploadAt)
	}
	// The same batch again (a retry, a replay) changes nothing.
	if s.ApplyEvent(older) || s.ApplyEvent(newest) {
		t.Error("an event applied twice changed the state")
	}
}

// A position is a sample's latitude and longitude together: a newer sample
// with only one of them moves neither.
func TestPositionNeedsBothCoordinates(t *testing.T) {
	s := NewVehicleState("car-1")
	s.ApplyEvent(event("car-1", 1, sampleAt(1, map[string]float64{SignalLatitude: 48.1, SignalLongitude: 11.5})))
	s.ApplyEvent(event("car-1", 2, sampleAt(2, map[string]float64{SignalLatitude: 52.5})))
	if s.Position == nil || s.Position.Latitude != 48.1 || s.Position.Longitude != 11.5 {
		t.Errorf("position: %+v, want the sample that had both", s.Position)
	}
	if s.Signals[SignalLatitude].Value != 52.5 {
		t.Errorf("the latitude signal: %+v, want the newest", s.Signals[SignalLatitude])
	}
}

// The state of a set of events is the same in whatever order they arrive,
// however often each does: concurrent uploads, replays and retries cannot
// lose the newest value. Two samples of one millisecond give one answer.
func TestApplyEventCommutes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var events []Event
	for i := range 40 {
		var samples []Sample
		for j := range 1 + rng.IntN(5) {
			signals := map[string]float64{}
			for k := range 1 + rng.IntN(6) {
				signals[fmt.Sprintf("Vehicle.Test.S%d", (i+j+k)%9)] = float64(rng.IntN(100))
			}
			if rng.IntN(2) == 0 {
				signals[SignalLatitude], signals[SignalLongitude] = float64(rng.IntN(90)), float64(rng.IntN(180))
			}
			// Few distinct seconds: many ties across events.
			samples = append(samples, sampleAt(rng.IntN(20), signals))
		}
		events = append(events, event("car-1", rng.IntN(50), samples...))
	}
	want := NewVehicleState("car-1")
	for _, e := range events {
		want.ApplyEvent(e)
	}
	for range 20 {
		got := NewVehicleState("car-1")
		for _, i := range rng.Perm(len(events)) {
			got.ApplyEvent(events[i])
			if rng.IntN(4) == 0 {
				got.ApplyEvent(events[i]) // a retry
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("another order gave another state:\n got %+v\nwant %+v", got, want)
		}
	}
}

// The state keeps the newest MaxStateSignals signals, the same ones in
// whatever order they came.
func TestStateKeepsTheNewestSignals(t *testing.T) {
	var events []Event
	for i := range 3 * MaxStateSignals / 64 {
		signals := map[string]float64{}
		for j := range 64 {
			signals[fmt.Sprintf("Vehicle.Custom.Signal%03d", i*64+j)] = float64(j)
		}
		events = append(events, event("car-1", i, sampleAt(i, signals)))
	}
	forward, backward := NewVehicleState("car-1"), NewVehicleState("car-1")
	for i := range events {
		forward.ApplyEvent(events[i])
		backward.ApplyEvent(events[len(events)-1-i])
	}
	if len(forward.Signals) != MaxStateSignals || !reflect.DeepEqual(forward, backward) {
		t.Fatalf("%d and %d signals kept, equal %v; want %d, the same", len(forward.Signals), len(backward.Signals), reflect.DeepEqual(forward, backward), MaxStateSignals)
	}
	if _, ok := forward.Signals["Vehicle.Custom.Signal000"]; ok {
		t.Error("the oldest signal was kept")
	}
	if _, ok := forward.Signals[fmt.Sprintf("Vehicle.Custom.Signal%03d", 3*MaxStateSignals-1)]; !ok {
		t.Error("the newest signal was dropped")
	}
}

func lifecycle(connected bool, sec int, version int64, reason string) LifecycleEvent {
	return LifecycleEvent{ClientID: "car-1", Connectivity: Connectivity{Connected: connected, Since: now.Add(time.Duration(sec) * time.Second),
		Session: fmt.Sprintf("session-%d", version), Version: version, DisconnectReason: reason}}
}

// Lifecycle events "might be sent out of order" and twice (IoT Core): a
// connection's disconnect stamped before its connect still ends it; an
// old connection's disconnect arriving after the next connect does not
// end the new one; after an hour away the version restarts at 0 and the
// time decides.
func TestApplyLifecycle(t *testing.T) {
	for _, tt := range []struct {
		desc      string
		events    []LifecycleEvent
		connected bool
		reason    string
	}{
		{"connect", []LifecycleEvent{lifecycle(true, 0, 3, "")}, true, ""},
		{"disconnect with a reason", []LifecycleEvent{lifecycle(true, 0, 3, ""), lifecycle(false, 60, 3, "MQTT_KEEP_ALIVE_TIMEOUT")}, false, "MQTT_KEEP_ALIVE_TIMEOUT"},
		{"a disconnect stamped before its connect", []LifecycleEvent{lifecycle(false, 0, 3, "CONNECTION_LOST"), lifecycle(true, 1, 3, "")}, false, "CONNECTION_LOST"},
		{"the old connection's disconnect after the new connect", []LifecycleEvent{lifecycle(true, 30, 4, ""), lifecycle(false, 31, 3, "DUPLICATE_CLIENTID")}, true, ""},
		{"a new connection after an hour away, version reset", []LifecycleEvent{lifecycle(false, 0, 9, "CLIENT_INITIATED_DISCONNECT"), lifecycle(true, 3700, 0, "")}, true, ""},
		{"the same, delivered the other way round", []LifecycleEvent{lifecycle(true, 3700, 0, ""), lifecycle(false, 0, 9, "CLIENT_INITIATED_DISCONNECT")}, true, ""},
		{"a duplicate", []LifecycleEvent{lifecycle(true, 0, 3, ""), lifecycle(false, 60, 3, "CONNECTION_LOST"), lifecycle(false, 60, 3, "CONNECTION_LOST")}, false, "CONNECTION_LOST"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			s := NewVehicleState("car-1")
			for _, ev := range tt.events {
				s.ApplyLifecycle(ev)
			}
			if s.Connected() != tt.connected || s.Connectivity.DisconnectReason != tt.reason {
				t.Errorf("connectivity %+v, want connected %v, reason %q", s.Connectivity, tt.connected, tt.reason)
			}
		})
	}
}

// Silent is connected without an upload for longer than the setting; a
// parked car (disconnected) is not silent, it is not seen.
func TestSilentAndNotSeen(t *testing.T) {
	at := func(min int) time.Time { return now.Add(time.Duration(min) * time.Minute) }
	driving := NewVehicleState("driving")
	driving.ApplyLifecycle(lifecycle(true, 0, 1, ""))
	driving.ApplyEvent(event("driving", 25*60, sampleAt(25*60-10, map[string]float64{SignalSpeed: 40})))
	stopped := NewVehicleState("stopped")
	stopped.ApplyLifecycle(lifecycle(true, 0, 1, ""))
	stopped.ApplyEvent(event("stopped", 5*60, sampleAt(5*60-10, map[string]float64{SignalSpeed: 40})))
	neverUploaded := NewVehicleState("quiet")
	neverUploaded.ApplyLifecycle(lifecycle(true, 0, 1, ""))
	parked := NewVehicleState("parked")
	parked.ApplyEvent(event("parked", 5*60, sampleAt(5*60-10, map[string]float64{SignalSpeed: 0})))
	parked.ApplyLifecycle(lifecycle(true, 0, 1, ""))
	parked.ApplyLifecycle(lifecycle(false, 6*60, 1, "CLIENT_INITIATED_DISCONNECT"))
	https := NewVehicleState("https")
	https.ApplyEvent(event("https", 0, sampleAt(-10, map[string]float64{SignalSpeed: 0})))

	for _, tt := range []struct {
		s               VehicleState
		silent, notSeen bool
	}{{driving, false, false}, {stopped, true, false}, {neverUploaded, true, false}, {parked, false, true}, {https, false, true}} {
		if got := tt.s.SilentFor(at(30), 10*time.Minute); got != tt.silent {
			t.Errorf("%s silent for 10 min at +30: %v, want %v", tt.s.VID, got, tt.silent)
		}
		if got := tt.s.NotSeenFor(at(30), 20*time.Minute); got != tt.notSeen {
			t.Errorf("%s not seen for 20 min at +30: %v, want %v", tt.s.VID, got, tt.notSeen)
		}
	}
}

func TestParseBoundingBox(t *testing.T) {
	for in, want := range map[string]string{
		"11.5,48.1,11.7,48.2":   "",
		"170,-50,-170,-40":      "", // across the antimeridian
		"-180,-90,180,90":       "",
		"11.5,48.1,11.7":        "must be four numbers",
		"11.5,48.1,11.7,north":  "must be four numbers",
		"11.5,NaN,11.7,48.2":    "must be four numbers",
		"11.5,48.1,181,48.2":    "longitude 181 is outside [-180, 180]",
		"11.5,-91,11.7,48.2":    "latitude -91 is outside [-90, 90]",
		"11.5,48.3,11.7,48.2":   "south 48.3 is north of north 48.2",
		"11.5,48.1,11.7,48.2,1": "must be four numbers",
		"1e1,48.1,11.7,48.2":    "must be four numbers",
		"+11.5,48.1,11.7,48.2":  "must be four numbers",
	} {
		b, err := ParseBoundingBox("bbox", in)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", in, err)
		case want == "" && b.String() != in:
			t.Errorf("%q read back as %q", in, b.String())
		case want != "" && (err == nil || !strings.Contains(err.Error(), "bbox: "+want)):
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	across, _ := ParseBoundingBox("bbox", "170,-50,-170,-40")
	for _, p := range []struct {
		lon  float64
		want bool
	}{{175, true}, {-175, true}, {180, true}, {0, false}, {-160, false}} {
		if got := across.Contains(-45, p.lon); got != p.want {
			t.Errorf("across the antimeridian, longitude %v: %v, want %v", p.lon, got, p.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT10M": 10 * time.Minute, "P7D": 7 * 24 * time.Hour, "P1DT12H": 36 * time.Hour, "PT90S": 90 * time.Second,
		"PT1H30M": 90 * time.Minute, "P1DT1H1M1S": 25*time.Hour + 61*time.Second,
	} {
		got, err := ParseDuration("silentFor", in)
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
		if back, err := ParseDuration("silentFor", FormatDuration(got)); back != got {
			t.Errorf("%v formats as %q, read back as %v, %v", got, FormatDuration(got), back, err)
		}
	}
	for in, want := range map[string]string{
		"-PT10M": "must not be negative", "10m": "must be an ISO 8601 duration", "P": "must be an ISO 8601 duration",
		"PT": "must be an ISO 8601 duration", "P1H": "must be an ISO 8601 duration", "PT1D": "must be an ISO 8601 duration",
		"PT30M1H": "must be an ISO 8601 duration", "PT1.5H": "must be an ISO 8601 duration", "PT0S": "must be longer than zero",
		"P9999D": "must be at most 3650 days", "PT99999999M": "must be at most 3650 days", "P99999D": "must be an ISO 8601 duration",
		"": "must be an ISO 8601 duration", "P1DT": "must be an ISO 8601 duration",
	} {
		if _, err := ParseDuration("silentFor", in); err == nil || !strings.Contains(err.Error(), "silentFor: "+want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
