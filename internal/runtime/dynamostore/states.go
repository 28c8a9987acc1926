package dynamostore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

// Attribute names of a state item besides its key, short: DynamoDB bills
// attribute names as item bytes, and the item is written whole.
const (
	attrRevision     = "rv" // N: counts the item's writes; the condition of the next
	attrSignals      = "sg" // B: the signals and the position (encodeSignals)
	attrLastSample   = "ls" // N: epoch milliseconds
	attrLastUpload   = "lu" // N: epoch milliseconds
	attrConnectivity = "cn" // M: c connected (BOOL), t since (N, epoch ms), v version (N), s session (S), r reason (S)
)

// maxStateWrites bounds the attempts of one state update that another
// writer keeps changing underneath.
const maxStateWrites = 16

// errNoStateTable is returned by the state operations of a Store made
// without the state table.
var errNoStateTable = errors.New("dynamostore: the state operations need the state table")

// StateUpdate is a change to one vehicle's state.
type StateUpdate struct {
	VID string
	// Apply changes the state in place and reports whether it changed it.
	Apply func(*fleet.VehicleState) bool
	// RegisteredOnly makes the first state of a vehicle need its
	// registration: a lifecycle event of a client that is not one of this
	// stage's vehicles (another stage's thing, another application's
	// client in the account) writes nothing and is fleet.ErrNoVehicle.
	RegisteredOnly bool
}

// UpdateState reads a vehicle's state, applies the update and writes the
// state back if it changed, on the condition that nobody wrote it since
// the read: a conflicting writer (or a stale read) makes it read and
// apply again. The
// changes of fleet.VehicleState commute, so concurrent updates of one
// vehicle never lose one. It reports whether it wrote.
func (s *Store) UpdateState(ctx context.Context, u StateUpdate) (bool, error) {
	if s.tables.State == "" {
		return false, errNoStateTable
	}
	for attempt := range maxStateWrites {
		// The first read is eventually consistent, half the read units:
		// a stale one fails the write's condition, and the next reads
		// strongly consistent.
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(s.tables.State), Key: keyS(schema.VehicleID, u.VID), ConsistentRead: aws.Bool(attempt > 0),
		})
		if err != nil {
			return false, classify(fmt.Sprintf("read the state of vehicle %q", u.VID), err)
		}
		st, rev := fleet.NewVehicleState(u.VID), int64(0)
		if out.Item != nil {
			if st, rev, err = stateFromItem(out.Item); err != nil {
				return false, err
			}
		} else if u.RegisteredOnly {
			if err := s.vehicleExists(ctx, u.VID); err != nil {
				return false, err
			}
		}
		if !u.Apply(&st) {
			return false, nil
		}
		cond := expression.AttributeNotExists(expression.Name(schema.VehicleID))
		if rev > 0 {
			cond = expression.Name(attrRevision).Equal(expression.Value(rev))
		}
		expr, err := expression.NewBuilder().WithCondition(cond).Build()
		if err != nil {
			return false, fmt.Errorf("build the state condition: %w", err)
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.tables.State), Item: stateItem(st, rev+1),
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		})
		if isConditionFailed(err) {
			// Written since the read: read it again, after a pause that
			// grows and differs between writers, so that they part.
			select {
			case <-ctx.Done():
				return false, classify(fmt.Sprintf("write the state of vehicle %q", u.VID), ctx.Err())
			case <-time.After(time.Duration(attempt+1) * time.Duration(1+rand.IntN(5)) * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return false, classify(fmt.Sprintf("write the state of vehicle %q", u.VID), err)
		}
		return true, nil
	}
	return false, fmt.Errorf("the state of vehicle %q changed under %d writes in a row: %w", u.VID, maxStateWrites, fleet.ErrUnavailable)
}

// vehicleExists is nil for a registered vehicle, fleet.ErrNoVehicle else.
func (s *Store) vehicleExists(ctx context.Context, vid string) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.tables.Vehicles), Key: keyS(schema.VehicleID, vid), ProjectionExpression: aws.String(schema.VehicleID),
	})
	if err != nil {
		return classify(fmt.Sprintf("check vehicle %q", vid), err)
	}
	if out.Item == nil {
		return fmt.Errorf("vehicle %q: %w", vid, fleet.ErrNoVehicle)
	}
	return nil
}

// GetState returns a vehicle's state: an empty one for a registered
// vehicle nothing was heard of yet, fleet.ErrNoVehicle for a vid that is
// not registered.
func (s *Store) GetState(ctx context.Context, vid string) (fleet.VehicleState, error) {
	if s.tables.State == "" {
		return fleet.VehicleState{}, errNoStateTable
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.tables.State), Key: keyS(schema.VehicleID, vid)})
	if err != nil {
		return fleet.VehicleState{}, classify(fmt.Sprintf("read the state of vehicle %q", vid), err)
	}
	if out.Item == nil {
		if err := s.vehicleExists(ctx, vid); err != nil {
			return fleet.VehicleState{}, err
		}
		return fleet.NewVehicleState(vid), nil
	}
	st, _, err := stateFromItem(out.Item)
	return st, err
}

// Bounds of one request of the fleet's states: the function answers
// within API Gateway's integration timeout, and its answer stays within
// Lambda's 6 MB response payload.
const (
	// MaxStateScans is how many Scan calls of at most 1 MB one page may
	// read: a filter that selects few vehicles answers a short page with
	// a cursor rather than read the whole fleet.
	MaxStateScans = 10
	// MaxStatePageBytes bounds the states of a page, as JSON.
	MaxStatePageBytes = 4 << 20
)

// ListStates returns one page of the fleet's states, the synthetic
// vehicles' left out, selected by the query at now. A page holds at most
// q.Limit states, less when the page reached MaxStatePageBytes or read
// MaxStateScans times (then it may even be empty) with more to read: its
// NextCursor is set while the listing has not read the whole fleet.
func (s *Store) ListStates(ctx context.Context, q fleet.StateQuery, now time.Time) (fleet.StatePage, error) {
	if s.tables.State == "" {
		return fleet.StatePage{}, errNoStateTable
	}
	// The cursor is bound to the filters, not to the time: the next page
	// applies them at its own now.
	query := stateQueryKey(q)
	start, err := s.startKey(ctx, query, q.Cursor, schema.VehicleID)
	if err != nil {
		return fleet.StatePage{}, err
	}
	page := fleet.StatePage{States: []fleet.VehicleState{}}
	filtered := q.SilentFor > 0 || q.NotSeenFor > 0 || q.Within != nil
	// last is the last item read into the page's range, included or not.
	var last map[string]types.AttributeValue
	size := 0
	for scans := 0; ; scans++ {
		if scans == MaxStateScans {
			if last == nil {
				last = start
			}
			return s.statePage(ctx, page, query, last)
		}
		in := &dynamodb.ScanInput{TableName: aws.String(s.tables.State), ExclusiveStartKey: start}
		if !filtered {
			// One more than the page needs: a full page then knows
			// whether there is more. A filter reads 1 MB at a time.
			in.Limit = aws.Int32(int32(q.Limit - len(page.States) + 1))
		}
		out, err := s.db.Scan(ctx, in)
		if err != nil {
			return fleet.StatePage{}, classify("list the fleet's states", err)
		}
		for _, item := range out.Items {
			st, _, err := stateFromItem(item)
			if err != nil {
				return fleet.StatePage{}, err
			}
			if strings.HasPrefix(st.VID, contract.SyntheticVIDPrefix) || !q.Matches(st, now) {
				last = item
				continue
			}
			n := stateJSONSize(st)
			if len(page.States) == q.Limit || size+n > MaxStatePageBytes {
				// More to come: the page ends before this one.
				return s.statePage(ctx, page, query, last)
			}
			page.States, size, last = append(page.States, st), size+n, item
		}
		if len(out.LastEvaluatedKey) == 0 {
			return page, nil // the whole fleet read
		}
		start = out.LastEvaluatedKey
	}
}

// statePage ends a page that has more to read after item (nil: after its
// start, with nothing read).
func (s *Store) statePage(ctx context.Context, page fleet.StatePage, query string, item map[string]types.AttributeValue) (fleet.StatePage, error) {
	if item == nil {
		return page, nil
	}
	cur, err := s.nextCursor(ctx, query, item, schema.VehicleID)
	if err != nil {
		return fleet.StatePage{}, fmt.Errorf("list the fleet's states: %w", err)
	}
	page.NextCursor = cur
	return page, nil
}

// stateQueryKey is what a cursor of the fleet's states is bound to.
func stateQueryKey(q fleet.StateQuery) string {
	within := ""
	if q.Within != nil {
		within = q.Within.String()
	}
	return fmt.Sprintf("states|%d|%d|%s", q.SilentFor/time.Second, q.NotSeenFor/time.Second, within)
}

// stateJSONSize is about the size of a state in a page's JSON.
func stateJSONSize(st fleet.VehicleState) int {
	n := 320 + len(st.VID)
	for name := range st.Signals {
		n += len(name) + 64
	}
	return n
}

// EachState calls fn with every vehicle's state, the synthetic vehicles'
// left out, reading the table once with eventually consistent Scans.
func (s *Store) EachState(ctx context.Context, fn func(fleet.VehicleState) error) error {
	if s.tables.State == "" {
		return errNoStateTable
	}
	var start map[string]types.AttributeValue
	for {
		out, err := s.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.tables.State), ExclusiveStartKey: start})
		if err != nil {
			return classify("read the fleet's states", err)
		}
		for _, item := range out.Items {
			st, _, err := stateFromItem(item)
			if err != nil {
				return err
			}
			if strings.HasPrefix(st.VID, contract.SyntheticVIDPrefix) {
				continue
			}
			if err := fn(st); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

func stateItem(st fleet.VehicleState, rev int64) map[string]types.AttributeValue {
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	item := map[string]types.AttributeValue{
		schema.VehicleID: &types.AttributeValueMemberS{Value: st.VID},
		attrRevision:     n(rev),
		attrSignals:      &types.AttributeValueMemberB{Value: encodeSignals(st)},
	}
	if !st.LastSampleAt.IsZero() {
		item[attrLastSample] = n(st.LastSampleAt.UnixMilli())
	}
	if !st.LastUploadAt.IsZero() {
		item[attrLastUpload] = n(st.LastUploadAt.UnixMilli())
	}
	if c := st.Connectivity; c != nil {
		m := map[string]types.AttributeValue{
			"c": &types.AttributeValueMemberBOOL{Value: c.Connected}, "t": n(c.Since.UnixMilli()), "v": n(c.Version),
		}
		if c.Session != "" {
			m["s"] = &types.AttributeValueMemberS{Value: c.Session}
		}
		if c.DisconnectReason != "" {
			m["r"] = &types.AttributeValueMemberS{Value: c.DisconnectReason}
		}
		item[attrConnectivity] = &types.AttributeValueMemberM{Value: m}
	}
	return item
}

func stateFromItem(item map[string]types.AttributeValue) (fleet.VehicleState, int64, error) {
	vid, _ := item[schema.VehicleID].(*types.AttributeValueMemberS)
	if vid == nil {
		return fleet.VehicleState{}, 0, errors.New("a state item without a vid")
	}
	st := fleet.NewVehicleState(vid.Value)
	bad := func(err error) (fleet.VehicleState, int64, error) {
		return fleet.VehicleState{}, 0, fmt.Errorf("the state of vehicle %q: %w", vid.Value, err)
	}
	num := func(v types.AttributeValue) (int64, bool) {
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok {
			return 0, false
		}
		i, err := strconv.ParseInt(n.Value, 10, 64)
		return i, err == nil
	}
	rev, ok := num(item[attrRevision])
	if !ok {
		return bad(errors.New("no revision"))
	}
	if ms, ok := num(item[attrLastSample]); ok {
		st.LastSampleAt = time.UnixMilli(ms).UTC()
	}
	if ms, ok := num(item[attrLastUpload]); ok {
		st.LastUploadAt = time.UnixMilli(ms).UTC()
	}
	if b, ok := item[attrSignals].(*types.AttributeValueMemberB); ok {
		if err := decodeSignals(b.Value, &st); err != nil {
			return bad(err)
		}
	}
	if m, ok := item[attrConnectivity].(*types.AttributeValueMemberM); ok {
		c := &fleet.Connectivity{}
		if b, ok := m.Value["c"].(*types.AttributeValueMemberBOOL); ok {
			c.Connected = b.Value
		}
		ms, _ := num(m.Value["t"])
		c.Since = time.UnixMilli(ms).UTC()
		c.Version, _ = num(m.Value["v"])
		if v, ok := m.Value["s"].(*types.AttributeValueMemberS); ok {
			c.Session = v.Value
		}
		if v, ok := m.Value["r"].(*types.AttributeValueMemberS); ok {
			c.DisconnectReason = v.Value
		}
		st.Connectivity = c
	}
	return st, rev, nil
}

// The signals' encoding, format 1: the format byte; the count of signals
// (uvarint); for each, sorted by name, the name (a byte: the known
// signal's index plus 1, or 0 then the name's length, uvarint, and its
// bytes), the value's IEEE 754 bits (8 bytes, little endian) and its
// sample's time as milliseconds before the last sample (uvarint); then
// the position, a byte 0 for none or 1 then latitude, longitude (8 bytes
// each) and its time as the signals'. Values stay bit for bit, whatever
// their size (a DynamoDB number holds 38 digits up to 1E+126), and a
// known name takes one byte: the talk's ten signals and position take 156 bytes.
const signalsFormat = 1

// knownSignalIndex is read-only after package initialization.
var knownSignalIndex = func() map[string]int {
	m := map[string]int{}
	for i, s := range fleet.KnownSignals() {
		m[s.Name] = i
	}
	return m
}()

func encodeSignals(st fleet.VehicleState) []byte {
	base := st.LastSampleAt.UnixMilli()
	ago := func(t time.Time) uint64 { return uint64(max(base-t.UnixMilli(), 0)) }
	b := []byte{signalsFormat}
	b = binary.AppendUvarint(b, uint64(len(st.Signals)))
	names := make([]string, 0, len(st.Signals))
	for name := range st.Signals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if i, ok := knownSignalIndex[name]; ok {
			b = append(b, byte(i+1))
		} else {
			b = append(b, 0)
			b = binary.AppendUvarint(b, uint64(len(name)))
			b = append(b, name...)
		}
		v := st.Signals[name]
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Value))
		b = binary.AppendUvarint(b, ago(v.At))
	}
	if p := st.Position; p != nil {
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Latitude))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Longitude))
		b = binary.AppendUvarint(b, ago(p.At))
	} else {
		b = append(b, 0)
	}
	return b
}

func decodeSignals(b []byte, st *fleet.VehicleState) error {
	known := fleet.KnownSignals()
	base := st.LastSampleAt.UnixMilli()
	errShort := errors.New("the signals are cut short")
	if len(b) == 0 || b[0] != signalsFormat {
		return fmt.Errorf("the signals are not of format %d", signalsFormat)
	}
	b = b[1:]
	uvarint := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errShort
		}
		b = b[n:]
		return v, nil
	}
	f64 := func() (float64, error) {
		if len(b) < 8 {
			return 0, errShort
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return v, nil
	}
	at := func() (time.Time, error) {
		ago, err := uvarint()
		return time.UnixMilli(base - int64(ago)).UTC(), err
	}
	count, err := uvarint()
	if err != nil || count > fleet.MaxStateSignals {
		return fmt.Errorf("the signals' count: %d, %v", count, err)
	}
	for range count {
		if len(b) == 0 {
			return errShort
		}
		ref := b[0]
		b = b[1:]
		var name string
		switch {
		case ref == 0:
			n, err := uvarint()
			if err != nil || n > uint64(len(b)) {
				return errShort
			}
			name, b = string(b[:n]), b[n:]
		case int(ref) <= len(known):
			name = known[ref-1].Name
		default:
			return fmt.Errorf("unknown signal %d", ref)
		}
		v, err := f64()
		if err != nil {
			return err
		}
		t, err := at()
		if err != nil {
			return err
		}
		st.Signals[name] = fleet.SignalState{Value: v, At: t}
	}
	if len(b) == 0 {
		return errShort
	}
	hasPosition := b[0] == 1
	b = b[1:]
	if hasPosition {
		lat, err := f64()
		if err != nil {
			return err
		}
		lon, err := f64()
		if err != nil {
			return err
		}
		t, err := at()
		if err != nil {
			return err
		}
		st.Position = &fleet.Position{Latitude: lat, Longitude: lon, At: t}
	}
	if len(b) != 0 {
		return errors.New("the signals have bytes left over")
	}
	return nil
}
