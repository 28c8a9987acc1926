package samplecodec

import (
	"encoding/json"
	"errors"
	"reflect"
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
