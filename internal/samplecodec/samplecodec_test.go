package samplecodec

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/fleet"
	"github.com/fleetapi/fleetapi/internal/workload"
)

func TestRoundTrip(t *testing.T) {
	c := New()
	start := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	up := workload.NewDrive(1, start).Upload(workload.SamplesPerUpload)
	// A sparse column and a sample with a signal of its own.
	delete(up.Samples[3].Signals, fleet.SignalSpeed)
	up.Samples[9].Signals["Vehicle.Private.Flag"] = -1
	data := c.Encode(up.Samples)
	got, err := c.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, up.Samples) {
		t.Errorf("round trip changed the samples:\ngot  %v\nwant %v", got, up.Samples)
	}
	js, _ := json.Marshal(up)
	t.Logf("10 samples: %d bytes of JSON, %d bytes encoded", len(js), len(data))
	if len(data) > 1024 {
		t.Errorf("10 samples encode to %d bytes, want at most 1024 (one write unit with the keys)", len(data))
	}
}

func TestEqualBatchesEncodeEqually(t *testing.T) {
	c := New()
	s := []fleet.Sample{{Timestamp: time.UnixMilli(1), Signals: map[string]float64{"b.x": 1, "a.y": 2, fleet.SignalSpeed: 3}}}
	first := c.Encode(s)
	for range 20 {
		if string(c.Encode(s)) != string(first) {
			t.Fatal("encoding depends on map order")
		}
	}
}

func TestDecodeRefusesCorruptInput(t *testing.T) {
	c := New()
	good := c.Encode(workload.NewDrive(2, time.Unix(1e9, 0)).Upload(3).Samples)
	for name, data := range map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)/2],
		"not deflate":    {formatV1, 0xff, 0xff, 0xff},
	} {
		if _, err := c.Decode(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	c := New()
	f.Add(c.Encode(workload.NewDrive(3, time.Unix(1e9, 0)).Upload(10).Samples))
	f.Add([]byte{formatV1})
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, err := c.Decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := c.Decode(c.Encode(samples))
		if err != nil || len(again) != len(samples) {
			t.Fatalf("re-encoding failed: %v", err)
		}
	})
}

// The read path accepts every event the write path accepts, at its bounds:
// the most samples, each with the most signals, every signal distinct and
// of the longest name fleet allows. One sample more, or one column more,
// than such an event holds is refused as corrupt.
func TestDecodesTheLargestValidEvent(t *testing.T) {
	c := New()
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	up := fleet.Upload{}
	for i := range fleet.MaxSamplesPerEvent {
		s := fleet.Sample{Timestamp: now.Add(time.Duration(i-fleet.MaxSamplesPerEvent) * time.Second), Signals: map[string]float64{}}
		for j := range fleet.MaxSignalsPerSample {
			name := fmt.Sprintf("Vehicle.S%04d%03d.", i, j)
			name += strings.Repeat("x", fleet.MaxSignalNameLen-len(name))
			s.Signals[name] = float64(i*j) + 0.5
		}
		up.Samples = append(up.Samples, s)
	}
	e, err := fleet.NewEvent("car-1", up, "", now, 24*time.Hour)
	if err != nil {
		t.Fatalf("the write path refuses the event: %v", err)
	}
	data := c.Encode(e.Samples)
	got, err := c.Decode(data)
	if err != nil {
		t.Fatalf("the read path refuses what the write path stored: %v", err)
	}
	if !reflect.DeepEqual(got, e.Samples) {
		t.Error("round trip changed the samples")
	}
	t.Logf("%d samples × %d distinct signals: %d bytes encoded", fleet.MaxSamplesPerEvent, fleet.MaxSignalsPerSample, len(data))

	// Past the bounds: a batch the write path cannot produce.
	more := append(slices.Clone(e.Samples), fleet.Sample{Timestamp: now, Signals: map[string]float64{fleet.SignalSpeed: 1}})
	if _, err := c.Decode(c.Encode(more)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("%d samples: got %v, want ErrCorrupt", len(more), err)
	}
	more = slices.Clone(e.Samples)
	more[0] = fleet.Sample{Timestamp: more[0].Timestamp, Signals: maps.Clone(more[0].Signals)}
	more[0].Signals["Vehicle.OneColumnTooMany"] = 1
	if _, err := c.Decode(c.Encode(more)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("%d columns: got %v, want ErrCorrupt", fleet.MaxSamplesPerEvent*fleet.MaxSignalsPerSample+1, err)
	}
}

// deflated frames a raw batch as Encode does, to test the decoder's guards
// on input Encode never makes.
func deflated(t *testing.T, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteByte(formatV1)
	w, err := flate.NewWriter(&out, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	w.Close()
	return out.Bytes()
}

func TestDecodeGuards(t *testing.T) {
	c := New()
	good := c.Encode(workload.NewDrive(2, time.Unix(1e9, 0)).Upload(3).Samples)
	uv := binary.AppendUvarint
	oneSample := uv(binary.AppendVarint(uv(nil, 1), 1e12), 1) // 1 sample at 1e12 ms, 1 column
	for name, data := range map[string][]byte{
		// The stream stops before its end: what was inflated may be whole, but is refused.
		"deflate stream cut short":  good[:len(good)-1],
		"no sample":                 deflated(t, uv(uv(nil, 0), 0)),
		"too many samples":          deflated(t, uv(nil, maxSamples+1)),
		"too many columns":          deflated(t, uv(binary.AppendVarint(uv(nil, 1), 1e12), maxSignals+1)),
		"signal code past the last": deflated(t, append(uv(oneSample, uint64(len(fleet.KnownSignals())+1)), 1, 0, 0, 0, 0, 0, 0, 0, 0)),
		"empty signal name":         deflated(t, append(uv(uv(oneSample, 0), 0), 1, 0, 0, 0, 0, 0, 0, 0, 0)),
		"signal name too long": deflated(t, append(append(uv(uv(oneSample, 0), fleet.MaxSignalNameLen+1), bytes.Repeat([]byte("a"), fleet.MaxSignalNameLen+1)...),
			1, 0, 0, 0, 0, 0, 0, 0, 0)),
		"inflates past the bound": deflated(t, make([]byte, maxDecoded+1)),
	} {
		if s, err := c.Decode(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, %v; want ErrCorrupt", name, s, err)
		}
	}
	// The same frames are read when they are within the bounds.
	name := strings.Repeat("a", fleet.MaxSignalNameLen)
	for desc, data := range map[string][]byte{
		"the last known signal": deflated(t, append(uv(oneSample, uint64(len(fleet.KnownSignals()))), 1, 0, 0, 0, 0, 0, 0, 0, 0)),
		"the longest name":      deflated(t, append(append(uv(uv(oneSample, 0), uint64(len(name))), name...), 1, 0, 0, 0, 0, 0, 0, 0, 0)),
	} {
		if s, err := c.Decode(data); err != nil || len(s) != 1 || len(s[0].Signals) != 1 {
			t.Errorf("%s: got %v, %v", desc, s, err)
		}
	}
	last := fleet.KnownSignals()[len(fleet.KnownSignals())-1].Name
	round, err := c.Decode(c.Encode([]fleet.Sample{{Timestamp: time.UnixMilli(1e12).UTC(), Signals: map[string]float64{last: 42}}}))
	if err != nil || round[0].Signals[last] != 42 {
		t.Errorf("the last known signal, %s: %v %v", last, round, err)
	}
}
