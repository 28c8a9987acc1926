package fleet

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// MaxStateSignals bounds the signals a vehicle's state keeps: the newest
// ones. A sample holds at most MaxSignalsPerSample, but a vehicle could
// name new signals in every upload, and the state is one item of at most
// 400 KB, written whole.
const MaxStateSignals = 128

// LifecycleClockAccuracy is how far apart two lifecycle events of a client
// may be stamped out of order: AWS IoT Core's timestamp of a lifecycle
// event is "an approximation of when the event occurred" (±2 minutes in
// its developer guide). Closer than this, their version numbers order them.
const LifecycleClockAccuracy = 2 * time.Minute

// VehicleState is the latest known state of one vehicle: for each signal
// its newest value by event time, the position of its newest sample that
// has one, when it last sampled and last uploaded, and, for a vehicle that
// connects over MQTT, its connectivity. Every field is a merge that
// commutes: the state of a set of events and lifecycle events is the same
// whatever order they are applied in, however often each is.
type VehicleState struct {
	VID string `json:"vid"`
	// Signals are the newest value of each signal, by its VSS name; at
	// most MaxStateSignals, the newest.
	Signals map[string]SignalState `json:"signals"`
	// Position is the newest sample's that holds both latitude and
	// longitude; nil until one did.
	Position *Position `json:"position,omitempty"`
	// LastSampleAt is the newest sample's time (event time); zero before
	// the first upload.
	LastSampleAt time.Time `json:"lastSampleAt,omitzero"`
	// LastUploadAt is when the newest upload was stored (arrival time).
	LastUploadAt time.Time `json:"lastUploadAt,omitzero"`
	// Connectivity is from the MQTT broker's lifecycle events; nil for a
	// vehicle that never connected over MQTT.
	Connectivity *Connectivity `json:"connectivity,omitempty"`
}

// SignalState is a signal's newest value and the time of its sample.
type SignalState struct {
	Value float64   `json:"value"`
	At    time.Time `json:"at"`
}

// Position is where a vehicle was, and when.
type Position struct {
	Latitude  float64   `json:"latitude"`
	Longitude float64   `json:"longitude"`
	At        time.Time `json:"at"`
}

// Connectivity is a vehicle's MQTT connection as its newest lifecycle
// event says.
type Connectivity struct {
	Connected bool `json:"connected"`
	// Since is the time of the event: when it connected, or disconnected.
	Since time.Time `json:"since"`
	// DisconnectReason is IoT Core's, such as CONNECTION_LOST or
	// MQTT_KEEP_ALIVE_TIMEOUT; "" while connected.
	DisconnectReason string `json:"disconnectReason,omitempty"`
	// Session and Version identify the connection: IoT Core stamps a
	// connection's connect and disconnect with the same version number.
	Session string `json:"-"`
	Version int64  `json:"-"`
}

// LifecycleEvent is one of IoT Core's connect or disconnect events of a
// client, the vehicle whose thing name is its client ID.
type LifecycleEvent struct {
	ClientID string
	Connectivity
}

// NewVehicleState is the state of a vehicle nothing is known of yet.
func NewVehicleState(vid string) VehicleState {
	return VehicleState{VID: vid, Signals: map[string]SignalState{}}
}

// ApplyEvent folds a stored event into the state and reports whether it
// changed anything. An event older than what the state holds changes
// nothing of it, and an event applied twice changes nothing the second
// time.
func (s *VehicleState) ApplyEvent(e Event) bool {
	changed := false
	if s.Signals == nil {
		s.Signals = map[string]SignalState{}
	}
	for _, sample := range e.Samples {
		at := sample.Timestamp.UTC()
		for name, v := range sample.Signals {
			if old, ok := s.Signals[name]; !ok || newerValue(at, v, old.At, old.Value) {
				s.Signals[name] = SignalState{Value: v, At: at}
				changed = true
			}
		}
		lat, hasLat := sample.Signals[SignalLatitude]
		lon, hasLon := sample.Signals[SignalLongitude]
		if hasLat && hasLon && (s.Position == nil || newerPosition(Position{lat, lon, at}, *s.Position)) {
			s.Position = &Position{Latitude: lat, Longitude: lon, At: at}
			changed = true
		}
		if at.After(s.LastSampleAt) {
			s.LastSampleAt, changed = at, true
		}
	}
	if received := e.ReceivedAt.UTC(); received.After(s.LastUploadAt) {
		s.LastUploadAt, changed = received, true
	}
	if s.trimSignals() {
		changed = true
	}
	return changed
}

// newerValue orders two values of a signal: by the time of their sample,
// then by value, so that two samples of one millisecond give one answer
// whichever arrives first.
func newerValue(at time.Time, v float64, oldAt time.Time, old float64) bool {
	if c := at.Compare(oldAt); c != 0 {
		return c > 0
	}
	return v > old
}

func newerPosition(p, old Position) bool {
	if c := p.At.Compare(old.At); c != 0 {
		return c > 0
	}
	return cmp.Or(cmp.Compare(p.Latitude, old.Latitude), cmp.Compare(p.Longitude, old.Longitude)) > 0
}

// trimSignals keeps the MaxStateSignals newest signals (by time, then
// name): the newest of all the signals ever applied, in whatever order.
func (s *VehicleState) trimSignals() bool {
	if len(s.Signals) <= MaxStateSignals {
		return false
	}
	names := slices.SortedFunc(maps.Keys(s.Signals), func(a, b string) int {
		return cmp.Or(s.Signals[b].At.Compare(s.Signals[a].At), cmp.Compare(a, b))
	})
	for _, name := range names[MaxStateSignals:] {
		delete(s.Signals, name)
	}
	return true
}

// ApplyLifecycle folds a lifecycle event of the vehicle into its state and
// reports whether it changed it. IoT Core may deliver lifecycle events out
// of order and more than once; the newest by Newer wins.
func (s *VehicleState) ApplyLifecycle(ev LifecycleEvent) bool {
	c := ev.Connectivity
	c.Since = c.Since.UTC()
	if c.Connected {
		c.DisconnectReason = ""
	}
	if s.Connectivity != nil && !c.Newer(*s.Connectivity) {
		return false
	}
	s.Connectivity = &c
	return true
}

// Newer reports whether c comes after o. IoT Core's lifecycle events are
// stamped to about LifecycleClockAccuracy and "might be sent out of order"
// (AWS IoT Core developer guide, "Lifecycle events"); their version
// number increases with each connection of a client ID, and "the connect
// and disconnect messages for a client connection have the same version
// number". It is reset after about an hour without a connection, so it
// orders events only closer in time than the clock can.
func (c Connectivity) Newer(o Connectivity) bool {
	d := c.Since.Sub(o.Since)
	if d < LifecycleClockAccuracy && d > -LifecycleClockAccuracy {
		if c.Version != o.Version {
			return c.Version > o.Version
		}
		if c.Connected != o.Connected {
			// One connection: its end comes after its start.
			return !c.Connected
		}
	}
	if d != 0 {
		return d > 0
	}
	// The same event twice, or two IoT Core could not tell apart: one
	// answer whichever arrives first.
	return cmp.Or(cmp.Compare(c.Session, o.Session), cmp.Compare(c.DisconnectReason, o.DisconnectReason)) > 0
}

// LastSeen is when the vehicle was last heard of: its newest upload's
// arrival, or its newest connect or disconnect, whichever is later.
func (s VehicleState) LastSeen() time.Time {
	seen := s.LastUploadAt
	if s.Connectivity != nil && s.Connectivity.Since.After(seen) {
		seen = s.Connectivity.Since
	}
	return seen
}

// Connected reports whether the vehicle's MQTT connection is up.
func (s VehicleState) Connected() bool { return s.Connectivity != nil && s.Connectivity.Connected }

// SilentFor reports whether the vehicle is connected and has uploaded
// nothing for more than d (counted from its connect when it has not
// uploaded since): an agent that stopped sending, not a parked car, whose
// connection is down.
func (s VehicleState) SilentFor(now time.Time, d time.Duration) bool {
	return s.Connected() && now.Sub(s.LastSeen()) > d
}

// NotSeenFor reports whether the vehicle is not connected and was last
// heard of more than d ago.
func (s VehicleState) NotSeenFor(now time.Time, d time.Duration) bool {
	return !s.Connected() && now.Sub(s.LastSeen()) > d
}

// StateQuery selects vehicles' states: all of them, or those matching
// every filter given.
type StateQuery struct {
	// SilentFor, when positive, selects the vehicles connected and silent
	// for more than it (VehicleState.SilentFor).
	SilentFor time.Duration
	// NotSeenFor, when positive, selects the vehicles not connected and
	// not heard of for more than it.
	NotSeenFor time.Duration
	// Within, when set, selects the vehicles whose position is in it.
	Within *BoundingBox
	Limit  int
	Cursor string
}

// Matches reports whether a state is one the query selects, at now.
func (q StateQuery) Matches(s VehicleState, now time.Time) bool {
	if q.SilentFor > 0 && !s.SilentFor(now, q.SilentFor) {
		return false
	}
	if q.NotSeenFor > 0 && !s.NotSeenFor(now, q.NotSeenFor) {
		return false
	}
	if q.Within != nil && (s.Position == nil || !q.Within.Contains(s.Position.Latitude, s.Position.Longitude)) {
		return false
	}
	return true
}

// StatePage is one page of the fleet's states.
type StatePage struct {
	States []VehicleState
	// NextCursor continues the listing; "" once it has read the whole fleet.
	NextCursor string
}

// Limits of a page of the fleet's states: the whole fleet of 10,000
// vehicles in 10 pages.
const (
	DefaultStateLimit = 100
	MaxStateLimit     = 1000
)
