package fleet

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Limits of an upload. The talk's vehicles send 10 samples of about 520
// bytes per call; these bounds leave room for batching after a dead zone
// while keeping a stored event far below DynamoDB's 400 KB item limit.
const (
	MaxSamplesPerEvent  = 100
	MaxSignalsPerSample = 64
	MaxSignalNameLen    = 128
	// Clocks of vehicles drift; a sample further in the future is refused.
	MaxClockSkew = 5 * time.Minute
	// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
	MaxIdempotencyKeyLen = 128
)

// Signals named after the COVESA Vehicle Signal Specification, with the range
// a value must fall in. Unknown signals are accepted if their name is well formed.
const (
	SignalSpeed          = "Vehicle.Speed"                                            // km/h
	SignalTraveled       = "Vehicle.TraveledDistance"                                 // km
	SignalLatitude       = "Vehicle.CurrentLocation.Latitude"                         // degrees
	SignalLongitude      = "Vehicle.CurrentLocation.Longitude"                        // degrees
	SignalStateOfCharge  = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current" // percent
	SignalAltitude       = "Vehicle.CurrentLocation.Altitude"                         // m
	SignalHeading        = "Vehicle.CurrentLocation.Heading"                          // degrees
	SignalAirTemperature = "Vehicle.Exterior.AirTemperature"                          // celsius
	SignalBatteryVoltage = "Vehicle.Powertrain.TractionBattery.CurrentVoltage"        // V
	SignalBatteryCurrent = "Vehicle.Powertrain.TractionBattery.CurrentCurrent"        // A
	SignalAccelLongitude = "Vehicle.Acceleration.Longitudinal"                        // m/s^2
	SignalRemainingRange = "Vehicle.Powertrain.Range"                                 // m
)

// SignalSpec is a known signal and the range of its values.
type SignalSpec struct {
	Name     string
	Min, Max float64
}

// KnownSignals lists the signals the API knows. Stored events refer to a
// known signal by its index in this list: append only, never reorder.
func KnownSignals() []SignalSpec {
	return []SignalSpec{
		{SignalSpeed, -250, 500},
		{SignalTraveled, 0, 10_000_000},
		{SignalLatitude, -90, 90},
		{SignalLongitude, -180, 180},
		{SignalStateOfCharge, 0, 100},
		{SignalAltitude, -500, 9_000},
		{SignalHeading, 0, 360},
		{SignalAirTemperature, -100, 100},
		{SignalBatteryVoltage, 0, 2_000},
		{SignalBatteryCurrent, -2_000, 2_000},
		{SignalAccelLongitude, -100, 100},
		{SignalRemainingRange, 0, 5_000_000},
	}
}

var (
	// eid: the event's start in epoch milliseconds, 13 digits, then 16 hex digits.
	eidPattern            = regexp.MustCompile(`^[0-9]{13}-[0-9a-f]{16}$`)
	idempotencyKeyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
)

// Sample is one reading of a vehicle's signals.
type Sample struct {
	Timestamp time.Time          `json:"timestamp"`
	Signals   map[string]float64 `json:"signals"`
}

// Upload is the body of a create-event request: one batch of samples.
type Upload struct {
	Samples []Sample `json:"samples"`
}

// Event is one stored upload.
type Event struct {
	VID string `json:"vid"`
	EID string `json:"eid"`
	// Start and End are the first and last sample's timestamps.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// ReceivedAt is when the API first stored the event.
	ReceivedAt time.Time `json:"receivedAt"`
	// ExpiresAt is when the event expires (End plus the stage's retention).
	ExpiresAt time.Time `json:"expiresAt"`
	Samples   []Sample  `json:"samples"`
	// ContentHash identifies the samples; a retry must carry the same ones.
	ContentHash []byte `json:"-"`
}

// ValidateEID checks an event ID from a path.
func ValidateEID(field, eid string) error {
	if !eidPattern.MatchString(eid) {
		return invalid(field, "must be 13 digits of epoch milliseconds, '-', and 16 lower-case hex digits, got %q", truncate(eid))
	}
	return nil
}

// ValidateIdempotencyKey checks an Idempotency-Key header; "" means none.
func ValidateIdempotencyKey(key string) error {
	if key != "" && !idempotencyKeyPattern.MatchString(key) {
		return invalid("Idempotency-Key", "must be 1 to %d printable ASCII characters without spaces", MaxIdempotencyKeyLen)
	}
	return nil
}

// NewEvent validates an upload for vehicle vid and returns the event to store:
// samples sorted by time, timestamps at millisecond precision, an eid that
// sorts by time and is the same for every retry of the same upload (same
// idempotency key, or same samples when no key is given).
func NewEvent(vid string, up Upload, idempotencyKey string, now time.Time, retention time.Duration) (Event, error) {
	return NewEventAccepting(vid, up, idempotencyKey, now, retention, retention)
}

// NewEventAccepting is NewEvent for a stage that keeps a history longer
// than the table's retention: it accepts samples up to acceptFor old (at
// least retention). An event expires retention after the later of its
// last sample and its receipt: an old upload's item stays the window's
// length after it arrived, unlisted (reads are by sample time), so that a
// retry within that time is the same event, stored once, in the table and
// in the history its stream feeds.
func NewEventAccepting(vid string, up Upload, idempotencyKey string, now time.Time, retention, acceptFor time.Duration) (Event, error) {
	acceptFor = max(acceptFor, retention)
	if err := ValidateVID("vid", vid); err != nil {
		return Event{}, err
	}
	if err := ValidateIdempotencyKey(idempotencyKey); err != nil {
		return Event{}, err
	}
	samples, err := normalizeSamples(up.Samples, now, acceptFor)
	if err != nil {
		return Event{}, err
	}
	content := hashSamples(samples)
	idSource := content
	if idempotencyKey != "" {
		sum := sha256.Sum256([]byte("key\x00" + vid + "\x00" + idempotencyKey))
		idSource = sum[:]
	}
	start, end := samples[0].Timestamp, samples[len(samples)-1].Timestamp
	return Event{
		VID:         vid,
		EID:         fmt.Sprintf("%013d-%s", start.UnixMilli(), hex.EncodeToString(idSource[:8])),
		Start:       start,
		End:         end,
		ReceivedAt:  now.UTC().Truncate(time.Millisecond),
		ExpiresAt:   later(end, now).Add(retention).Truncate(time.Second),
		Samples:     samples,
		ContentHash: content,
	}, nil
}

func normalizeSamples(in []Sample, now time.Time, retention time.Duration) ([]Sample, error) {
	if len(in) == 0 {
		return nil, invalid("samples", "must hold at least one sample")
	}
	if len(in) > MaxSamplesPerEvent {
		return nil, invalid("samples", "must hold at most %d samples, got %d", MaxSamplesPerEvent, len(in))
	}
	out := make([]Sample, len(in))
	for i, s := range in {
		// Named only for an error: a string a sample would cost the upload.
		ts, err := checkSample(func() string { return "samples[" + strconv.Itoa(i) + "]" }, s, now, retention)
		if err != nil {
			return nil, err
		}
		out[i] = Sample{Timestamp: ts, Signals: s.Signals}
	}
	slices.SortStableFunc(out, func(a, b Sample) int { return a.Timestamp.Compare(b.Timestamp) })
	for i := 1; i < len(out); i++ {
		if out[i].Timestamp.Equal(out[i-1].Timestamp) {
			return nil, invalid("samples", "two samples have the timestamp %s", out[i].Timestamp.Format(time.RFC3339Nano))
		}
	}
	return out, nil
}

// CheckSample checks one sample with the API's rules of a sample, at now:
// a timestamp at most MaxClockSkew ahead, 1 to MaxSignalsPerSample
// signals, each a valid name and a finite value within a known signal's
// range. A vehicle checks its samples so before it batches them (the
// retention, a stage's, is the API's to check); nil: the API takes it.
func CheckSample(s Sample, now time.Time) error {
	_, err := checkSample(func() string { return "sample" }, s, now, 0)
	return err
}

// checkSample checks a sample and returns its timestamp at millisecond
// precision; a retention of 0 checks no age.
func checkSample(field func() string, s Sample, now time.Time, retention time.Duration) (time.Time, error) {
	if s.Timestamp.IsZero() {
		return time.Time{}, invalid(field()+".timestamp", "is required")
	}
	ts := s.Timestamp.UTC().Truncate(time.Millisecond)
	if ts.After(now.Add(MaxClockSkew)) {
		return time.Time{}, invalid(field()+".timestamp", "%s is more than %s in the future", ts.Format(time.RFC3339Nano), MaxClockSkew)
	}
	if retention > 0 && ts.Before(now.Add(-retention)) {
		return time.Time{}, invalid(field()+".timestamp", "%s is older than the retention of %d days", ts.Format(time.RFC3339Nano), int(retention.Hours()/24))
	}
	if len(s.Signals) == 0 {
		return time.Time{}, invalid(field()+".signals", "must hold at least one signal")
	}
	if len(s.Signals) > MaxSignalsPerSample {
		return time.Time{}, invalid(field()+".signals", "must hold at most %d signals, got %d", MaxSignalsPerSample, len(s.Signals))
	}
	for name, v := range s.Signals {
		if _, known := knownSignalRanges[name]; !known && !validSignalName(name) {
			return time.Time{}, invalid(field()+".signals", "name %q must be dot-separated words of letters, digits and '_', at most %d characters, such as %s", truncate(name), MaxSignalNameLen, SignalSpeed)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return time.Time{}, invalid(field()+".signals."+name, "must be a finite number")
		}
		if r, ok := knownSignalRanges[name]; ok && (v < r.Min || v > r.Max) {
			return time.Time{}, invalid(field()+".signals."+name, "%v is out of range [%v, %v]", v, r.Min, r.Max)
		}
	}
	return ts, nil
}

// validSignalName reports whether name is at most MaxSignalNameLen bytes of
// dot-separated words, each a letter then letters, digits or '_', at most 16
// words: the shape of VSS paths. (A loop: this runs for every signal of
// every sample, and a regexp was a fifth of an upload's CPU time.)
func validSignalName(name string) bool {
	if len(name) == 0 || len(name) > MaxSignalNameLen {
		return false
	}
	words, wordStart := 1, true
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		switch {
		case wordStart && letter:
			wordStart = false
		case wordStart:
			return false
		case c == '.':
			words++
			wordStart = true
		case !letter && c != '_' && !('0' <= c && c <= '9'):
			return false
		}
	}
	return !wordStart && words <= 16
}

// knownSignalRanges is read-only after package initialization.
var knownSignalRanges = knownRanges()

func knownRanges() map[string]SignalSpec {
	specs := KnownSignals()
	m := make(map[string]SignalSpec, len(specs))
	for _, s := range specs {
		m[s.Name] = s
	}
	return m
}

// hashSamples is a SHA-256 over the samples in a canonical order.
func hashSamples(samples []Sample) []byte {
	// One buffer for the whole stream, hashed at once: the same bytes as
	// written piecewise before, so the same eids.
	size := 0
	for _, s := range samples {
		size += 9
		for name := range s.Signals {
			size += len(name) + 9
		}
	}
	buf := make([]byte, 0, size)
	var names []string
	for _, s := range samples {
		buf = binary.BigEndian.AppendUint64(buf, uint64(s.Timestamp.UnixMilli()))
		// Samples of a batch mostly carry the same signals: the names
		// sorted for the sample before serve when they are these.
		if !sameNames(names, s.Signals) {
			names = names[:0]
			for name := range s.Signals {
				names = append(names, name)
			}
			slices.Sort(names)
		}
		for _, name := range names {
			buf = append(buf, name...)
			buf = append(buf, 0)
			buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(s.Signals[name]))
		}
		buf = append(buf, 1)
	}
	sum := sha256.Sum256(buf)
	return sum[:]
}

// sameNames reports whether names are exactly the keys of signals.
func sameNames(names []string, signals map[string]float64) bool {
	if len(names) != len(signals) || len(names) == 0 {
		return false
	}
	for _, name := range names {
		if _, ok := signals[name]; !ok {
			return false
		}
	}
	return true
}

// maxEIDMillis is the latest start an eid can hold: 13 digits of epoch
// milliseconds (the year 2286).
const maxEIDMillis = 9_999_999_999_999

// EventIDRange returns the eid bounds, inclusive, of events that start
// between from and to, both inclusive. Times outside what an eid can hold
// are clamped, so that the bounds keep 13 digits and stay in order: a
// 14-digit bound would sort below a 13-digit one.
func EventIDRange(from, to time.Time) (lo, hi string) {
	clamp := func(t time.Time) int64 { return min(max(t.UnixMilli(), 0), maxEIDMillis) }
	// '.' sorts after '-', so every eid of the millisecond to is below hi.
	return fmt.Sprintf("%013d", clamp(from)), fmt.Sprintf("%013d.", clamp(to))
}

// EIDTime is the start an eid holds: its first sample's time.
func EIDTime(eid string) (time.Time, bool) {
	if len(eid) < 13 {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(eid[:13], 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
