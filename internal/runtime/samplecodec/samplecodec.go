// Package samplecodec stores a batch of samples compactly, so that an upload
// of ten samples fits in one DynamoDB write unit: signals are stored as
// columns, known signals by a one-byte code, timestamps as deltas.
//
// Stored data outlives code, so every format stays readable:
//   - format 2 (written now) stores a column of decimals (sensors report
//     fixed precision: 53.7 km/h, 48.178156°) as integers scaled by a power
//     of ten, each the varint of its difference to the one before; a column
//     that is not such decimals as the XOR of each value with the one before;
//   - format 1 stored every column XORed and deflated the whole: smaller
//     than raw, but DEFLATE took most of an upload's CPU time.
package samplecodec

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// The first byte of an encoded batch.
const (
	formatV1 = 1
	formatV2 = 2
)

// Column modes of format 2: a scale 0..maxScale, or xorColumn.
const (
	maxScale  = 15
	xorColumn = 0xff
)

// pow10 holds the powers of ten a scale multiplies by, all exact doubles.
var pow10 = [maxScale + 1]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// maxExact bounds the scaled integers: every integer up to 2^53 is a double.
const maxExact = 1 << 53

// Bounds checked while decoding, so that corrupt input cannot allocate
// much. They are those of an event fleet.NewEvent accepts, so that every
// event the write path stores, the read path reads: at most
// MaxSamplesPerEvent samples, each with its own MaxSignalsPerSample signals
// (all distinct), whose raw encoding (a name of up to MaxSignalNameLen
// bytes, a presence bitmap and 8 bytes a value per column) stays far below
// maxDecoded.
const (
	maxSamples = fleet.MaxSamplesPerEvent
	maxSignals = fleet.MaxSamplesPerEvent * fleet.MaxSignalsPerSample
	maxDecoded = 4 << 20
)

// ErrCorrupt is returned for input that Encode did not produce.
var ErrCorrupt = errors.New("corrupt sample batch")

// Codec encodes and decodes batches. It is safe for concurrent use.
type Codec struct {
	known  []string
	codeOf map[string]uint64
}

// New returns a Codec for the signals fleet.KnownSignals lists.
func New() *Codec {
	specs := fleet.KnownSignals()
	c := &Codec{codeOf: make(map[string]uint64, len(specs))}
	for i, s := range specs {
		c.known = append(c.known, s.Name)
		c.codeOf[s.Name] = uint64(i + 1) // 0 introduces a name spelled out
	}
	return c
}

// Encode returns the compact form of samples (format 2), which must be
// sorted by time.
func (c *Codec) Encode(samples []fleet.Sample) []byte {
	names := c.columnNames(samples)
	out := make([]byte, 0, 16+len(samples)*(3+3*len(names)))
	out = append(out, formatV2)
	out = binary.AppendUvarint(out, uint64(len(samples)))
	var prev int64
	for i, s := range samples {
		ms := s.Timestamp.UnixMilli()
		if i == 0 {
			out = binary.AppendVarint(out, ms)
		} else {
			out = binary.AppendVarint(out, ms-prev)
		}
		prev = ms
	}
	out = binary.AppendUvarint(out, uint64(len(names)))
	bitmapLen := (len(samples) + 7) / 8
	values := make([]float64, 0, len(samples))
	for _, name := range names {
		if code, ok := c.codeOf[name]; ok {
			out = binary.AppendUvarint(out, code)
		} else {
			out = binary.AppendUvarint(out, 0)
			out = binary.AppendUvarint(out, uint64(len(name)))
			out = append(out, name...)
		}
		bitmap := len(out)
		out = append(out, make([]byte, bitmapLen)...)
		values = values[:0]
		for i, s := range samples {
			if v, ok := s.Signals[name]; ok {
				out[bitmap+i/8] |= 1 << (i % 8)
				values = append(values, v)
			}
		}
		out = appendColumn(out, values)
	}
	return out
}

// appendColumn appends a column's mode and values: as scaled decimals when
// every value is one, else XORed.
func appendColumn(out []byte, values []float64) []byte {
	if k, ok := decimalScale(values); ok {
		out = append(out, byte(k))
		var prev int64
		for _, v := range values {
			n := int64(math.Round(v * pow10[k]))
			out = binary.AppendVarint(out, n-prev)
			prev = n
		}
		return out
	}
	out = append(out, xorColumn)
	var prevBits uint64
	for _, v := range values {
		bits := math.Float64bits(v)
		out = binary.BigEndian.AppendUint64(out, bits^prevBits)
		prevBits = bits
	}
	return out
}

// decimalScale returns the smallest k for which every value is an integer
// n with n / 10^k exactly that value, as Decode computes it.
func decimalScale(values []float64) (int, bool) {
next:
	for k := 0; k <= maxScale; k++ {
		for _, v := range values {
			n := math.Round(v * pow10[k])
			if math.Abs(n) >= maxExact || n/pow10[k] != v || v == 0 && math.Signbit(v) {
				continue next
			}
		}
		return k, true
	}
	return 0, false
}

// columnNames lists the signals of a batch: known ones in code order, then
// unknown ones by name, so that equal batches encode to equal bytes.
func (c *Codec) columnNames(samples []fleet.Sample) []string {
	present := make([]bool, len(c.known)+1) // by code
	var unknown []string
	count := 0
	for _, s := range samples {
		for name := range s.Signals {
			if code, ok := c.codeOf[name]; ok {
				if !present[code] {
					present[code] = true
					count++
				}
			} else if !slices.Contains(unknown, name) {
				unknown = append(unknown, name)
			}
		}
	}
	names := make([]string, 0, count+len(unknown))
	for code, ok := range present {
		if ok {
			names = append(names, c.known[code-1])
		}
	}
	slices.Sort(unknown)
	return append(names, unknown...)
}

// Decode returns the samples of a batch made by Encode, in any format.
func (c *Codec) Decode(data []byte) ([]fleet.Sample, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	switch data[0] {
	case formatV2:
		if len(data) > maxDecoded {
			return nil, fmt.Errorf("%w: too large", ErrCorrupt)
		}
		return c.decode(bytes.NewReader(data[1:]), readColumnV2)
	case formatV1:
		inflated, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data[1:])), maxDecoded+1))
		if err != nil || len(inflated) > maxDecoded {
			return nil, fmt.Errorf("%w: cannot inflate", ErrCorrupt)
		}
		return c.decode(bytes.NewReader(inflated), readXOR)
	}
	return nil, fmt.Errorf("%w: unknown format %d", ErrCorrupt, data[0])
}

// columnReader reads the values of a column into the samples its bitmap
// marks.
type columnReader func(r *bytes.Reader, name string, samples []fleet.Sample, bitmap []byte) error

// decode reads what both formats share: timestamps, then columns.
func (c *Codec) decode(r *bytes.Reader, readColumn columnReader) ([]fleet.Sample, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n == 0 || n > maxSamples {
		return nil, fmt.Errorf("%w: sample count", ErrCorrupt)
	}
	samples := make([]fleet.Sample, n)
	var ms int64
	for i := range samples {
		d, err := binary.ReadVarint(r)
		if err != nil {
			return nil, fmt.Errorf("%w: timestamps", ErrCorrupt)
		}
		ms += d
		samples[i].Timestamp = time.UnixMilli(ms).UTC()
	}
	cols, err := binary.ReadUvarint(r)
	if err != nil || cols > maxSignals {
		return nil, fmt.Errorf("%w: signal count", ErrCorrupt)
	}
	// Sized for the columns at once (a sample holds at most all of them,
	// and at most MaxSignalsPerSample): no map grows while it is filled.
	for i := range samples {
		samples[i].Signals = make(map[string]float64, min(cols, fleet.MaxSignalsPerSample))
	}
	bitmap := make([]byte, (n+7)/8)
	for range cols {
		name, err := c.readName(r)
		if err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, bitmap); err != nil {
			return nil, fmt.Errorf("%w: presence of %s", ErrCorrupt, name)
		}
		if err := readColumn(r, name, samples, bitmap); err != nil {
			return nil, err
		}
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	return samples, nil
}

// readXOR reads 8-byte values, each XORed with the one before: every
// column of format 1, a column of format 2 that is not decimals.
func readXOR(r *bytes.Reader, name string, samples []fleet.Sample, bitmap []byte) error {
	var word [8]byte
	var prevBits uint64
	for i := range samples {
		if bitmap[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		if _, err := io.ReadFull(r, word[:]); err != nil {
			return fmt.Errorf("%w: values of %s", ErrCorrupt, name)
		}
		prevBits ^= binary.BigEndian.Uint64(word[:])
		samples[i].Signals[name] = math.Float64frombits(prevBits)
	}
	return nil
}

// readColumnV2 reads a column of format 2: its mode, then scaled decimals
// or XORed values.
func readColumnV2(r *bytes.Reader, name string, samples []fleet.Sample, bitmap []byte) error {
	mode, err := r.ReadByte()
	if err != nil {
		return fmt.Errorf("%w: mode of %s", ErrCorrupt, name)
	}
	if mode == xorColumn {
		return readXOR(r, name, samples, bitmap)
	}
	if mode > maxScale {
		return fmt.Errorf("%w: mode %d of %s", ErrCorrupt, mode, name)
	}
	var n int64
	for i := range samples {
		if bitmap[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		d, err := binary.ReadVarint(r)
		if err != nil {
			return fmt.Errorf("%w: values of %s", ErrCorrupt, name)
		}
		n += d
		samples[i].Signals[name] = float64(n) / pow10[mode]
	}
	return nil
}

func (c *Codec) readName(r *bytes.Reader) (string, error) {
	code, err := binary.ReadUvarint(r)
	if err != nil {
		return "", fmt.Errorf("%w: signal code", ErrCorrupt)
	}
	if code > 0 {
		if code > uint64(len(c.known)) {
			return "", fmt.Errorf("%w: signal code %d", ErrCorrupt, code)
		}
		return c.known[code-1], nil
	}
	size, err := binary.ReadUvarint(r)
	if err != nil || size == 0 || size > fleet.MaxSignalNameLen {
		return "", fmt.Errorf("%w: signal name", ErrCorrupt)
	}
	name := make([]byte, size)
	if _, err := io.ReadFull(r, name); err != nil {
		return "", fmt.Errorf("%w: signal name", ErrCorrupt)
	}
	return string(name), nil
}
