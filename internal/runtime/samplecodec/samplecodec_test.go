package samplecodec

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
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
	samples := workload.NewDrive(2, time.Unix(1e9, 0)).Upload(3).Samples
	good, goodV1 := c.Encode(samples), c.encodeV1(samples)
	for name, data := range map[string][]byte{
		"empty":              nil,
		"unknown format":     append([]byte{9}, good[1:]...),
		"truncated":          good[:len(good)/2],
		"truncated format 1": goodV1[:len(goodV1)/2],
		"not deflate":        {formatV1, 0xff, 0xff, 0xff},
		"format 2 too large": append(append([]byte{}, good...), make([]byte, maxDecoded)...),
		// One sample, one known column, present, in scale 16 (15 is the last).
		"scale past the last": binary.AppendVarint(append(binary.AppendUvarint(binary.AppendUvarint(binary.AppendVarint(binary.AppendUvarint([]byte{formatV2}, 1), 1e12), 1), 1), 0x01, maxScale+1), 5),
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
	good := c.encodeV1(workload.NewDrive(2, time.Unix(1e9, 0)).Upload(3).Samples)
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

var v1Writers sync.Pool

// encodeV1 is format 1's encoder as it was, to test that format 1 stays
// readable: its output is the committed golden data.
func (c *Codec) encodeV1(samples []fleet.Sample) []byte {
	var raw bytes.Buffer
	putUvarint(&raw, uint64(len(samples)))
	var prev int64
	for i, s := range samples {
		ms := s.Timestamp.UnixMilli()
		if i == 0 {
			putVarint(&raw, ms)
		} else {
			putVarint(&raw, ms-prev)
		}
		prev = ms
	}
	names := c.columnNames(samples)
	putUvarint(&raw, uint64(len(names)))
	bitmap := make([]byte, (len(samples)+7)/8)
	var word [8]byte
	for _, name := range names {
		if code, ok := c.codeOf[name]; ok {
			putUvarint(&raw, code)
		} else {
			putUvarint(&raw, 0)
			putUvarint(&raw, uint64(len(name)))
			raw.WriteString(name)
		}
		clear(bitmap)
		for i, s := range samples {
			if _, ok := s.Signals[name]; ok {
				bitmap[i/8] |= 1 << (i % 8)
			}
		}
		raw.Write(bitmap)
		var prevBits uint64
		for _, s := range samples {
			v, ok := s.Signals[name]
			if !ok {
				continue
			}
			bits := math.Float64bits(v)
			binary.BigEndian.PutUint64(word[:], bits^prevBits)
			raw.Write(word[:])
			prevBits = bits
		}
	}
	var out bytes.Buffer
	out.WriteByte(formatV1)
	// Writers reused, as format 1's encoder did: one allocates about 800 KB.
	w, ok := v1Writers.Get().(*flate.Writer)
	if ok {
		w.Reset(&out)
	} else {
		w, _ = flate.NewWriter(&out, flate.BestCompression) // the level is valid
	}
	w.Write(raw.Bytes()) // writes to a bytes.Buffer cannot fail
	w.Close()
	v1Writers.Put(w)
	return out.Bytes()
}

func putUvarint(b *bytes.Buffer, v uint64) {
	var tmp [binary.MaxVarintLen64]byte
	b.Write(tmp[:binary.PutUvarint(tmp[:], v)])
}

func putVarint(b *bytes.Buffer, v int64) {
	var tmp [binary.MaxVarintLen64]byte
	b.Write(tmp[:binary.PutVarint(tmp[:], v)])
}

// The committed golden items decode to the committed samples, in every
// format: stored events outlive the code that wrote them. The current
// format's encoder still writes its golden bytes, and format 1's historic
// encoder its own.
func TestGoldenFormats(t *testing.T) {
	raw, err := os.ReadFile("testdata/samples.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []fleet.Sample
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	c := New()
	for _, f := range []struct {
		file   string
		encode func([]fleet.Sample) []byte
	}{
		{"testdata/format1.bin", c.encodeV1},
		{"testdata/format2.bin", c.Encode},
	} {
		golden, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(golden)
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s decodes to other samples:\ngot  %v\nwant %v", f.file, got, want)
		}
		if enc := f.encode(want); !bytes.Equal(enc, golden) {
			t.Errorf("%s: the encoder writes other bytes now (%d, golden %d): a change of format needs a new version byte", f.file, len(enc), len(golden))
		}
	}
}

// A column that is not fixed-precision decimals is stored XORed, exactly:
// thirds, pi, negative zero, tiny and huge values, infinities, NaN.
func TestColumnsThatAreNotDecimals(t *testing.T) {
	c := New()
	odd := []float64{1.0 / 3, math.Pi, math.Copysign(0, -1), 5e-324, 1e300, math.Inf(1), math.Inf(-1), math.NaN(), 0.1 + 0.2, -2.5}
	var samples []fleet.Sample
	for i, v := range odd {
		samples = append(samples, fleet.Sample{Timestamp: time.UnixMilli(int64(1e12) + int64(i)*1000).UTC(), Signals: map[string]float64{"x.odd": v, fleet.SignalSpeed: float64(i) / 10}})
	}
	roundTripsBitForBit(t, c, samples)
	// The finest scale decodes as it encodes.
	roundTripsBitForBit(t, c, []fleet.Sample{{Timestamp: time.UnixMilli(1e12).UTC(), Signals: map[string]float64{"x.tiny": 1e-15}},
		{Timestamp: time.UnixMilli(1e12 + 1000).UTC(), Signals: map[string]float64{"x.tiny": 3e-15}}})
	for _, tt := range []struct {
		values []float64
		scale  int
		ok     bool
	}{
		{[]float64{53.7, 54, 55.25}, 2, true},
		{[]float64{48.178156, 11.553079}, 6, true},
		{[]float64{12, -3}, 0, true},
		{[]float64{1.0 / 3}, 0, false},
		{[]float64{math.Copysign(0, -1)}, 0, false},
		{[]float64{1e16}, 0, false},           // beyond 2^53 scaled
		{[]float64{1 << 53}, 0, false},        // 2^53 itself is refused too: the bound is conservative
		{[]float64{1<<53 - 1}, 0, true},       // the largest integer kept as one
		{[]float64{1e-15, 2.5e-14}, 15, true}, // the finest scale
		{[]float64{1e-16}, 0, false},          // finer than any scale
	} {
		if k, ok := decimalScale(tt.values); k != tt.scale || ok != tt.ok {
			t.Errorf("decimalScale(%v) = %d, %v; want %d, %v", tt.values, k, ok, tt.scale, tt.ok)
		}
	}
}

// Any values round-trip bit for bit, whatever mode their column takes.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add([]byte{0x40, 0x4a, 0xd9, 0x99, 0x99, 0x99, 0x99, 0x9a}, uint8(3))
	f.Add([]byte("\x3f\xd5\x55\x55\x55\x55\x55\x55\x80\x00\x00\x00\x00\x00\x00\x00"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, decimals uint8) {
		c := New()
		var samples []fleet.Sample
		for i := 0; i+8 <= len(data) && len(samples) < fleet.MaxSamplesPerEvent; i += 8 {
			v := math.Float64frombits(binary.BigEndian.Uint64(data[i:]))
			rounded := math.Round(v*pow10[decimals%7]) / pow10[decimals%7]
			samples = append(samples, fleet.Sample{Timestamp: time.UnixMilli(int64(len(samples)) * 1000).UTC(),
				Signals: map[string]float64{"a.raw": v, fleet.SignalSpeed: rounded}})
		}
		if len(samples) == 0 {
			return
		}
		roundTripsBitForBit(t, c, samples)
	})
}

// roundTripsBitForBit encodes and decodes samples and compares every value
// bit for bit (NaN and negative zero included).
func roundTripsBitForBit(t *testing.T, c *Codec, samples []fleet.Sample) {
	t.Helper()
	got, err := c.Decode(c.Encode(samples))
	if err != nil {
		t.Fatal(err)
	}
	for i := range samples {
		for name, v := range samples[i].Signals {
			if g := got[i].Signals[name]; math.Float64bits(g) != math.Float64bits(v) {
				t.Fatalf("sample %d %s: %v (%x), want %v (%x)", i, name, g, math.Float64bits(g), v, math.Float64bits(v))
			}
		}
	}
}

// The talk's upload, 10 samples, in each format: format 1 deflated the
// whole, format 2 does not.
func BenchmarkFormats(b *testing.B) {
	c := New()
	samples := workload.NewDrive(1, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)).Upload(workload.SamplesPerUpload).Samples
	for _, f := range []struct {
		name   string
		encode func([]fleet.Sample) []byte
	}{{"format1", c.encodeV1}, {"format2", c.Encode}} {
		data := f.encode(samples)
		b.Run(f.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			for b.Loop() {
				f.encode(samples)
			}
		})
		b.Run(f.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
