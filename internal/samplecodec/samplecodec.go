// Package samplecodec stores a batch of samples compactly, so that an upload
// of ten samples fits in one or two DynamoDB write units: signals are stored
// as columns, known signals by a one-byte code, timestamps as deltas, each
// value XORed with the previous one of its column, and the whole deflated.
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
	"sync"
	"time"

	"github.com/fleetapi/fleetapi/internal/fleet"
)

// formatV1 is the first byte of an encoded batch.
const formatV1 = 1

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
	// A flate writer allocates about 800 KB: reuse them.
	writers sync.Pool
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

// Encode returns the compact form of samples, which must be sorted by time.
func (c *Codec) Encode(samples []fleet.Sample) []byte {
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
	w, ok := c.writers.Get().(*flate.Writer)
	if ok {
		w.Reset(&out)
	} else {
		w, _ = flate.NewWriter(&out, flate.BestCompression) // the level is valid
	}
	w.Write(raw.Bytes()) // writes to a bytes.Buffer cannot fail
	w.Close()
	c.writers.Put(w)
	return out.Bytes()
}

// columnNames lists the signals of a batch: known ones in code order, then
// unknown ones by name, so that equal batches encode to equal bytes.
func (c *Codec) columnNames(samples []fleet.Sample) []string {
	seen := map[string]bool{}
	var unknown []string
	for _, s := range samples {
		for name := range s.Signals {
			if seen[name] {
				continue
			}
			seen[name] = true
			if _, ok := c.codeOf[name]; !ok {
				unknown = append(unknown, name)
			}
		}
	}
	var names []string
	for _, name := range c.known {
		if seen[name] {
			names = append(names, name)
		}
	}
	slices.Sort(unknown)
	return append(names, unknown...)
}

// Decode returns the samples of a batch made by Encode.
func (c *Codec) Decode(data []byte) ([]fleet.Sample, error) {
	if len(data) == 0 || data[0] != formatV1 {
		return nil, fmt.Errorf("%w: unknown format", ErrCorrupt)
	}
	inflated, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data[1:])), maxDecoded+1))
	if err != nil || len(inflated) > maxDecoded {
		return nil, fmt.Errorf("%w: cannot inflate", ErrCorrupt)
	}
	r := bytes.NewReader(inflated)
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
		samples[i] = fleet.Sample{Timestamp: time.UnixMilli(ms).UTC(), Signals: map[string]float64{}}
	}
	cols, err := binary.ReadUvarint(r)
	if err != nil || cols > maxSignals {
		return nil, fmt.Errorf("%w: signal count", ErrCorrupt)
	}
	bitmap := make([]byte, (n+7)/8)
	var word [8]byte
	for range cols {
		name, err := c.readName(r)
		if err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, bitmap); err != nil {
			return nil, fmt.Errorf("%w: presence of %s", ErrCorrupt, name)
		}
		var prevBits uint64
		for i := range samples {
			if bitmap[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			if _, err := io.ReadFull(r, word[:]); err != nil {
				return nil, fmt.Errorf("%w: values of %s", ErrCorrupt, name)
			}
			prevBits ^= binary.BigEndian.Uint64(word[:])
			samples[i].Signals[name] = math.Float64frombits(prevBits)
		}
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	return samples, nil
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

func putUvarint(b *bytes.Buffer, v uint64) {
	var tmp [binary.MaxVarintLen64]byte
	b.Write(tmp[:binary.PutUvarint(tmp[:], v)])
}

func putVarint(b *bytes.Buffer, v int64) {
	var tmp [binary.MaxVarintLen64]byte
	b.Write(tmp[:binary.PutVarint(tmp[:], v)])
}
