package fleet

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

const retention = 30 * 24 * time.Hour

func TestValidateVID(t *testing.T) {
	for vid, ok := range map[string]bool{
		"car-1": true, "WBY1Z21000V123456": true, "a_b": true, strings.Repeat("a", 64): true,
		"ab": false, strings.Repeat("a", 65): false, "-car": false, "car 1": false, "car/1": false, "": false, "cär-1": false,
	} {
		err := ValidateVID("vid", vid)
		if (err == nil) != ok {
			t.Errorf("ValidateVID(%q) = %v, want ok=%v", vid, err, ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateVID(%q) error is not ErrInvalid", vid)
		}
	}
}

func TestVehicleFieldsValidate(t *testing.T) {
	good := VehicleFields{Make: "BMW", Model: "i3", Year: 2017, Plate: "SE 317 RI", Metadata: map[string]string{"color": "silver"}}
	tests := []struct {
		desc string
		edit func(*VehicleFields)
		want string
	}{
		{"valid", func(*VehicleFields) {}, ""},
		{"no make", func(f *VehicleFields) { f.Make = "" }, "make: is required"},
		{"long model", func(f *VehicleFields) { f.Model = strings.Repeat("m", 65) }, "model: must be valid text of at most 64 characters"},
		// Lengths count characters, as the schema's maxLength does: 64
		// characters of 3 bytes each are 192 bytes, and allowed.
		{"non-ASCII model at the bound", func(f *VehicleFields) { f.Model = strings.Repeat("€", 64) }, ""},
		{"non-ASCII model over the bound", func(f *VehicleFields) { f.Model = strings.Repeat("€", 65) }, "model: must be valid text of at most 64 characters"},
		{"non-ASCII metadata at the bound", func(f *VehicleFields) { f.Metadata = map[string]string{"k": strings.Repeat("ü", 256)} }, ""},
		{"invalid UTF-8", func(f *VehicleFields) { f.Model = "\xff" }, "model: must be valid text"},
		{"year too old", func(f *VehicleFields) { f.Year = 1885 }, "year: must be between 1886 and 2027, got 1885"},
		{"the first car's year", func(f *VehicleFields) { f.Year = 1886 }, ""},
		{"most metadata", func(f *VehicleFields) {
			f.Metadata = map[string]string{}
			for i := range MaxMetadataEntries {
				f.Metadata[fmt.Sprint("k", i)] = "v"
			}
		}, ""},
		{"control character first in a key", func(f *VehicleFields) { f.Metadata = map[string]string{"\tkey": "y"} }, "none a control character"},
		{"next year's model", func(f *VehicleFields) { f.Year = 2027 }, ""},
		{"year too new", func(f *VehicleFields) { f.Year = 2028 }, "got 2028"},
		{"plate", func(f *VehicleFields) { f.Plate = "SE_317" }, `plate: must be 1 to 16 letters`},
		{"metadata key with a space", func(f *VehicleFields) { f.Metadata = map[string]string{"fleet number": "42"} }, ""},
		{"metadata key of 64 characters", func(f *VehicleFields) { f.Metadata = map[string]string{strings.Repeat("ß", 64): "y"} }, ""},
		{"long metadata key", func(f *VehicleFields) { f.Metadata = map[string]string{strings.Repeat("k", 65): "y"} }, "must be 1 to 64 characters"},
		{"empty metadata key", func(f *VehicleFields) { f.Metadata = map[string]string{"": "y"} }, `metadata: key ""`},
		{"control character in a key", func(f *VehicleFields) { f.Metadata = map[string]string{"a\nb": "y"} }, "none a control character"},
		{"metadata value", func(f *VehicleFields) { f.Metadata = map[string]string{"k": strings.Repeat("v", 257)} }, "metadata.k: must be valid text of at most 256 characters"},
		{"metadata size", func(f *VehicleFields) {
			f.Metadata = map[string]string{}
			for i := range 33 {
				f.Metadata["k"+strings.Repeat("x", i)] = "v"
			}
		}, "metadata: must have at most 32 entries, got 33"},
	}
	for _, tt := range tests {
		f := good
		tt.edit(&f)
		err := f.Validate(now)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: got %v, want no error", tt.desc, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want %q", tt.desc, err, tt.want)
		}
	}
}

func sample(offset time.Duration, signals map[string]float64) Sample {
	return Sample{Timestamp: now.Add(offset), Signals: signals}
}

func TestNewEventNormalizes(t *testing.T) {
	up := Upload{Samples: []Sample{
		sample(-time.Minute+1500*time.Microsecond, map[string]float64{SignalSpeed: 50}),
		sample(-2*time.Minute, map[string]float64{SignalSpeed: 40, "Vehicle.Private.X": 1}),
	}}
	e, err := NewEvent("car-1", up, "", now, retention)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Start.Equal(now.Add(-2*time.Minute)) || !e.End.Equal(now.Add(-time.Minute+time.Millisecond)) {
		t.Errorf("start %v end %v: samples not sorted or not truncated to milliseconds", e.Start, e.End)
	}
	// Kept retention after the later of its last sample and its receipt.
	if want := now.Add(retention).Truncate(time.Second); !e.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt %v, want %v", e.ExpiresAt, want)
	}
	if err := ValidateEID("eid", e.EID); err != nil {
		t.Errorf("eid %s: %v", e.EID, err)
	}
	if !strings.HasPrefix(e.EID, fmt.Sprintf("%013d-", now.Add(-2*time.Minute).UnixMilli())) {
		t.Errorf("eid %s does not start with the first sample's epoch milliseconds", e.EID)
	}

	// The same samples give the same eid; other samples another one.
	again, _ := NewEvent("car-1", up, "", now.Add(time.Second), retention)
	if again.EID != e.EID {
		t.Errorf("a retry got eid %s, want %s", again.EID, e.EID)
	}
	other := Upload{Samples: []Sample{sample(-2*time.Minute, map[string]float64{SignalSpeed: 41})}}
	if o, _ := NewEvent("car-1", other, "", now, retention); o.EID == e.EID {
		t.Error("other samples got the same eid")
	}
	// An idempotency key decides the eid, whatever the samples.
	k1, _ := NewEvent("car-1", other, "key-1", now, retention)
	k2, _ := NewEvent("car-1", Upload{Samples: []Sample{sample(-2*time.Minute, map[string]float64{SignalSpeed: 99})}}, "key-1", now, retention)
	if k1.EID != k2.EID || string(k1.ContentHash) == string(k2.ContentHash) {
		t.Errorf("keyed: eids %s %s should match and content hashes differ", k1.EID, k2.EID)
	}
	if k3, _ := NewEvent("car-2", other, "key-1", now, retention); k3.EID == k1.EID {
		t.Error("the same key of another vehicle got the same eid")
	}
}

func TestNewEventRefuses(t *testing.T) {
	ok := map[string]float64{SignalSpeed: 50}
	many := func(n int) []Sample {
		s := make([]Sample, n)
		for i := range s {
			s[i] = sample(-time.Duration(i+1)*time.Second, ok)
		}
		return s
	}
	signals := func(n int) map[string]float64 {
		m := map[string]float64{}
		for i := range n {
			m["Vehicle.Private.S"+strings.Repeat("x", i)] = 1
		}
		return m
	}
	tests := []struct {
		desc    string
		samples []Sample
		key     string
		want    string
	}{
		{"none", nil, "", "samples: must hold at least one sample"},
		{"too many", many(MaxSamplesPerEvent + 1), "", "must hold at most 100 samples, got 101"},
		{"no timestamp", []Sample{{Signals: ok}}, "", "samples[0].timestamp: is required"},
		{"future", []Sample{sample(6*time.Minute, ok)}, "", "in the future"},
		{"within clock skew", []Sample{sample(4*time.Minute, ok)}, "", ""},
		{"older than retention", []Sample{sample(-retention-time.Hour, ok)}, "", "older than the retention of 30 days"},
		{"no signals", []Sample{sample(-time.Second, nil)}, "", "samples[0].signals: must hold at least one signal"},
		{"too many signals", []Sample{sample(-time.Second, signals(MaxSignalsPerSample+1))}, "", "at most 64 signals, got 65"},
		{"bad name", []Sample{sample(-time.Second, map[string]float64{"Vehicle..Speed": 1})}, "", `name "Vehicle..Speed"`},
		{"long name", []Sample{sample(-time.Second, map[string]float64{"V" + strings.Repeat("x", MaxSignalNameLen): 1})}, "", "at most 128 characters"},
		{"out of range", []Sample{sample(-time.Second, map[string]float64{SignalLatitude: 91})}, "", "Latitude: 91 is out of range [-90, 90]"},
		{"duplicate time", []Sample{sample(-time.Second, ok), sample(-time.Second+100*time.Microsecond, ok)}, "", "two samples have the timestamp"},
		{"most samples", many(MaxSamplesPerEvent), "", ""},
		{"most signals", []Sample{sample(-time.Second, signals(MaxSignalsPerSample))}, "", ""},
		{"longest name", []Sample{sample(-time.Second, map[string]float64{"V" + strings.Repeat("x", MaxSignalNameLen-1): 1})}, "", ""},
		{"not a number", []Sample{sample(-time.Second, map[string]float64{"Vehicle.Private.X": math.NaN()})}, "", "samples[0].signals.Vehicle.Private.X: must be a finite number"},
		{"infinite", []Sample{sample(-time.Second, map[string]float64{"Vehicle.Private.X": math.Inf(1)})}, "", "must be a finite number"},
		{"negative infinity", []Sample{sample(-time.Second, map[string]float64{"Vehicle.Private.X": math.Inf(-1)})}, "", "must be a finite number"},
		{"bad key", []Sample{sample(-time.Second, ok)}, "a b", "Idempotency-Key"},
		{"long key", []Sample{sample(-time.Second, ok)}, strings.Repeat("k", 129), "Idempotency-Key"},
	}
	for _, tt := range tests {
		_, err := NewEvent("car-1", Upload{Samples: tt.samples}, tt.key, now, retention)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: got %v, want no error", tt.desc, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%s: got %v, want an ErrInvalid containing %q", tt.desc, err, tt.want)
		}
	}
}

func TestEventIDRange(t *testing.T) {
	e, err := NewEvent("car-1", Upload{Samples: []Sample{sample(-time.Hour, map[string]float64{SignalSpeed: 1})}}, "", now, retention)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		from, to time.Time
		in       bool
	}{
		{e.Start, e.Start, true},
		{e.Start.Add(-time.Hour), e.Start.Add(time.Hour), true},
		{e.Start.Add(time.Millisecond), now, false},
		{e.Start.Add(-time.Hour), e.Start.Add(-time.Millisecond), false},
		// Beyond what 13 digits hold (the year 2286), and before 1970.
		{e.Start, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), e.Start, true},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		lo, hi := EventIDRange(tt.from, tt.to)
		if in := lo <= e.EID && e.EID <= hi; in != tt.in {
			t.Errorf("eid %s in [%s, %s] = %v, want %v", e.EID, lo, hi, in, tt.in)
		}
		// DynamoDB refuses BETWEEN bounds out of order (ValidationException).
		if len(lo) != 13 || len(hi) != 14 || lo > hi {
			t.Errorf("bounds [%s, %s] of %s to %s: want 13 digits each, in order", lo, hi, tt.from, tt.to)
		}
	}
}

func TestValidSignalName(t *testing.T) {
	for name, ok := range map[string]bool{
		SignalStateOfCharge: true, "A": true, "a.b_2.C3": true, strings.Repeat("a.", 15) + "a": true,
		"": false, ".a": false, "a.": false, "a..b": false, "1a": false, "a.1b": false, "a-b": false, "a b": false,
		strings.Repeat("a.", 16) + "a": false, strings.Repeat("a", MaxSignalNameLen+1): false, "é": false,
	} {
		if got := validSignalName(name); got != ok {
			t.Errorf("validSignalName(%q) = %v, want %v", name, got, ok)
		}
	}
}

// The known signals and their ranges, written out: the contract with the
// vehicles (VSS units), and the codes of stored events (append only).
var wantSignals = []SignalSpec{
	{"Vehicle.Speed", -250, 500},
	{"Vehicle.TraveledDistance", 0, 10_000_000},
	{"Vehicle.CurrentLocation.Latitude", -90, 90},
	{"Vehicle.CurrentLocation.Longitude", -180, 180},
	{"Vehicle.Powertrain.TractionBattery.StateOfCharge.Current", 0, 100},
	{"Vehicle.CurrentLocation.Altitude", -500, 9_000},
	{"Vehicle.CurrentLocation.Heading", 0, 360},
	{"Vehicle.Exterior.AirTemperature", -100, 100},
	{"Vehicle.Powertrain.TractionBattery.CurrentVoltage", 0, 2_000},
	{"Vehicle.Powertrain.TractionBattery.CurrentCurrent", -2_000, 2_000},
	{"Vehicle.Acceleration.Longitudinal", -100, 100},
	{"Vehicle.Powertrain.Range", 0, 5_000_000},
}

// Every known signal's range is enforced at both edges: the edge itself is
// accepted, a step beyond it refused, and only its own range applies.
func TestKnownSignalRangeEdges(t *testing.T) {
	if got := KnownSignals(); !reflect.DeepEqual(got, wantSignals) {
		t.Fatalf("known signals\n%v\nwant\n%v", got, wantSignals)
	}
	for _, spec := range wantSignals {
		for _, tt := range []struct {
			v  float64
			ok bool
		}{
			{spec.Min, true}, {spec.Max, true},
			{math.Nextafter(spec.Min, math.Inf(-1)), false}, {math.Nextafter(spec.Max, math.Inf(1)), false},
			{spec.Min - 1, false}, {spec.Max + 1, false},
		} {
			_, err := NewEvent("car-1", Upload{Samples: []Sample{sample(-time.Second, map[string]float64{spec.Name: tt.v})}}, "", now, retention)
			if tt.ok != (err == nil) {
				t.Errorf("%s = %v: got %v, want accepted %v", spec.Name, tt.v, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("out of range [%v, %v]", spec.Min, spec.Max)) {
				t.Errorf("%s = %v: %v does not name the range", spec.Name, tt.v, err)
			}
		}
	}
}

// Signal names: dot-separated words, each a letter (any of a-z, A-Z) then
// letters, digits or '_'; every edge of those character ranges counts.
func TestSignalNameCharacters(t *testing.T) {
	for name, want := range map[string]bool{
		"a.z": true, "A.Z": true, "z9._0": false, "Za.a_z09Z": true, "q.a9_0Z": true,
		"a`": false, "a{": false, "a@": false, "a[": false, "a/": false, "a:": false,
		"`a": false, "{a": false, "@a": false, "[a": false, "9a": false, "_a": false,
		"a..b": false, "a.": false, ".a": false, "": false,
		strings.Repeat("a", MaxSignalNameLen): true, strings.Repeat("a", MaxSignalNameLen+1): false,
		strings.Repeat("a.", 15) + "a": true, strings.Repeat("a.", 16) + "a": false,
	} {
		if got := validSignalName(name); got != want {
			t.Errorf("validSignalName(%q) = %v, want %v", name, got, want)
		}
	}
}

// A bad value is quoted whole up to 80 bytes, cut with "..." beyond.
func TestTruncate(t *testing.T) {
	at := strings.Repeat("x", 80)
	if got := truncate(at); got != at {
		t.Errorf("truncate of 80 bytes = %q, want it whole", got)
	}
	if got := truncate(at + "y"); got != at+"..." {
		t.Errorf("truncate of 81 bytes = %q, want 80 and ...", got)
	}
}

// An upload without an idempotency key gets an eid from its start and its
// content, so that a retried upload finds the stored event: the derivation
// must never change, or a retry after a deployment would store the event
// twice. This eid is what the code that stored the first events computed.
func TestEIDOfContentIsStable(t *testing.T) {
	start := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	up := Upload{Samples: []Sample{
		{Timestamp: start, Signals: map[string]float64{SignalSpeed: 53.7, SignalLatitude: 48.178156, "Vehicle.Private.Flag": -1}},
		{Timestamp: start.Add(time.Second), Signals: map[string]float64{SignalSpeed: 54.1}},
	}}
	e, err := NewEvent("WBY1Z21000V123456", up, "", start.Add(time.Minute), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1795680000000-4c75ee1a4f9ad2f2"; e.EID != want {
		t.Errorf("eid %s, want %s", e.EID, want)
	}
}

// An upload older than the table's window (a stage with a history takes
// it) is kept the window's length after it arrived, not after its last
// sample, which is past: a retry in that time finds it, and is not stored
// into the history twice.
func TestLateUploadIsKeptTheWindowAfterItArrives(t *testing.T) {
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	const retention = 30 * 24 * time.Hour
	old := now.Add(-40 * 24 * time.Hour)
	up := Upload{Samples: []Sample{{Timestamp: old, Signals: map[string]float64{SignalSpeed: 1}}}}
	e, err := NewEventAccepting("car-1", up, "", now, retention, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(retention); !e.ExpiresAt.Equal(want) {
		t.Errorf("expires at %v, want %v: the window after its receipt (its last sample's would be %v, past)", e.ExpiresAt, want, old.Add(retention))
	}
}
