package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

func newStateStore(t testing.TB) *Store {
	t.Helper()
	tables := dynalite.NewTables(t, db)
	s, err := New(db, Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// talkEvent is an event of the talk's upload: ten samples of ten signals.
func talkEvent(vid string, seed uint64, start time.Time) fleet.Event {
	up := workload.NewDrive(seed, start).Upload(workload.SamplesPerUpload)
	return fleet.Event{VID: vid, Samples: up.Samples, ReceivedAt: start.Add(15 * time.Second)}
}

func applyEvent(e fleet.Event) func(*fleet.VehicleState) bool {
	return func(st *fleet.VehicleState) bool { return st.ApplyEvent(e) }
}

// A state reads back as written, values bit for bit; the talk's vehicle's
// state is an item of one write unit, as DynamoDB sizes it (dynalite
// charges by the documented rule).
func TestStateItemRoundTrip(t *testing.T) {
	st := fleet.NewVehicleState("car-1")
	st.ApplyEvent(talkEvent("car-1", 1, now))
	st.ApplyEvent(fleet.Event{VID: "car-1", ReceivedAt: now, Samples: []fleet.Sample{{Timestamp: now.Add(-time.Hour), Signals: map[string]float64{"Vehicle.Custom.Tiny": 1e-300, "Vehicle.Custom.Huge": 1e300}}}})
	st.ApplyLifecycle(fleet.LifecycleEvent{ClientID: "car-1", Connectivity: fleet.Connectivity{Connected: false, Since: now, Session: "s-1", Version: 7, DisconnectReason: "CONNECTION_LOST"}})
	back, rev, err := stateFromItem(stateItem(st, 3))
	if err != nil || rev != 3 || !reflect.DeepEqual(back, st) {
		t.Fatalf("read back: %v, rev %d\n got %+v\nwant %+v", err, rev, back, st)
	}

	talk := fleet.NewVehicleState("WBY1Z21000V123456")
	talk.ApplyEvent(talkEvent(talk.VID, 1, now))
	talk.ApplyLifecycle(fleet.LifecycleEvent{ClientID: talk.VID, Connectivity: fleet.Connectivity{Connected: true, Since: now, Session: "a4666d2a7d844ae4ac5d7b38c9cb7967", Version: 12}})
	signals := encodeSignals(talk)
	out, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(dynalite.NewTables(t, db).State), Item: stateItem(talk, 1), ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	})
	if err != nil || *out.ConsumedCapacity.CapacityUnits != 1 {
		t.Fatalf("the talk's state: %v, %v write units; want 1", err, out.ConsumedCapacity)
	}
	if len(signals) != 156 {
		t.Errorf("the talk's signals take %d bytes, the format's comment says 156", len(signals))
	}
	t.Logf("the talk's vehicle's state: signals and position %d bytes, one write unit", len(signals))
}

// A damaged item is an error, never a panic nor a state made up.
func TestDamagedSignals(t *testing.T) {
	st := fleet.NewVehicleState("car-1")
	st.ApplyEvent(talkEvent("car-1", 1, now))
	st.ApplyEvent(fleet.Event{VID: "car-1", ReceivedAt: now, Samples: []fleet.Sample{{Timestamp: now, Signals: map[string]float64{"Vehicle.Custom.X": 1}}}})
	b := encodeSignals(st)
	for i := range len(b) {
		into := fleet.NewVehicleState("car-1")
		if err := decodeSignals(b[:i], &into); err == nil {
			t.Errorf("the signals cut at byte %d of %d decoded", i, len(b))
		}
	}
	if err := decodeSignals(append(b, 0), &st); err == nil {
		t.Error("a byte left over decoded")
	}
	if err := decodeSignals(append([]byte{2}, b[1:]...), &st); err == nil {
		t.Error("an unknown format decoded")
	}
}

// 50 writers updating one vehicle at once, each with another upload,
// leave the state of all 50: the conditional write makes a writer that
// lost the race read and apply again.
func TestConcurrentStateUpdatesLoseNothing(t *testing.T) {
	ctx := context.Background()
	s := newStateStore(t)
	var events []fleet.Event
	want := fleet.NewVehicleState("car-1")
	for i := range 50 {
		e := talkEvent("car-1", uint64(i), now.Add(time.Duration(i)*10*time.Second))
		events = append(events, e)
		want.ApplyEvent(e)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(events))
	for _, e := range events {
		wg.Go(func() {
			if _, err := s.UpdateState(ctx, StateUpdate{VID: "car-1", Apply: applyEvent(e)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := s.GetState(ctx, "car-1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after 50 concurrent updates: %v\n got %+v\nwant %+v", err, got, want)
	}
	// Applying any of them again writes nothing.
	if wrote, err := s.UpdateState(ctx, StateUpdate{VID: "car-1", Apply: applyEvent(events[3])}); wrote || err != nil {
		t.Errorf("a replayed event: wrote %v, %v; want nothing written", wrote, err)
	}
}

// A registered vehicle nothing was heard of has an empty state; a vid that
// is not registered has none, and a lifecycle event of it writes nothing.
func TestStateOfUnknownVehicles(t *testing.T) {
	ctx := context.Background()
	s := newStateStore(t)
	if _, err := s.CreateVehicle(ctx, newVehicle("car-1"), now); err != nil {
		t.Fatal(err)
	}
	if st, err := s.GetState(ctx, "car-1"); err != nil || !reflect.DeepEqual(st, fleet.NewVehicleState("car-1")) {
		t.Errorf("a registered vehicle never heard of: %+v, %v", st, err)
	}
	if _, err := s.GetState(ctx, "ghost"); !errors.Is(err, fleet.ErrNoVehicle) {
		t.Errorf("an unregistered vid: %v, want ErrNoVehicle", err)
	}
	connect := func(st *fleet.VehicleState) bool {
		return st.ApplyLifecycle(fleet.LifecycleEvent{ClientID: st.VID, Connectivity: fleet.Connectivity{Connected: true, Since: now}})
	}
	if wrote, err := s.UpdateState(ctx, StateUpdate{VID: "other-stage-thing", Apply: connect, RegisteredOnly: true}); wrote || !errors.Is(err, fleet.ErrNoVehicle) {
		t.Errorf("a client that is no vehicle of the stage: wrote %v, %v", wrote, err)
	}
	if wrote, err := s.UpdateState(ctx, StateUpdate{VID: "car-1", Apply: connect, RegisteredOnly: true}); !wrote || err != nil {
		t.Errorf("a registered vehicle's connect: wrote %v, %v", wrote, err)
	}
}

// The fleet's states page by page, each vehicle once, the synthetic
// vehicles left out; a filter selects by connectivity and position, and a
// cursor continues only the listing it came from.
func TestListStates(t *testing.T) {
	ctx := context.Background()
	s := newStateStore(t)
	at := now.Add(time.Hour)
	vids := map[string]bool{}
	for i := range 25 {
		vid := fmt.Sprintf("car-%02d", i)
		vids[vid] = true
		_, err := s.UpdateState(ctx, StateUpdate{VID: vid, Apply: func(st *fleet.VehicleState) bool {
			st.ApplyEvent(talkEvent(vid, uint64(i), now.Add(time.Duration(i)*time.Minute)))
			// Every fifth is connected (since the start), every third
			// drove in the north.
			if i%5 == 0 {
				st.ApplyLifecycle(fleet.LifecycleEvent{ClientID: vid, Connectivity: fleet.Connectivity{Connected: true, Since: now}})
			}
			if i%3 == 0 {
				st.Position.Latitude = 60
			}
			return true
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.UpdateState(ctx, StateUpdate{VID: contract.SyntheticVIDPrefix + "dev", Apply: applyEvent(talkEvent(contract.SyntheticVIDPrefix+"dev", 1, now))})

	collect := func(q fleet.StateQuery) (got []string, pages int) {
		for {
			page, err := s.ListStates(ctx, q, at)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, st := range page.States {
				got = append(got, st.VID)
			}
			if page.NextCursor == "" {
				return got, pages
			}
			q.Cursor = page.NextCursor
		}
	}
	all, pages := collect(fleet.StateQuery{Limit: 10})
	if len(all) != 25 || pages != 3 {
		t.Errorf("all: %d states in %d pages, want 25 in 3", len(all), pages)
	}
	for _, vid := range all {
		if !vids[vid] {
			t.Errorf("listed %q", vid)
		}
		delete(vids, vid)
	}
	if exact, pages := collect(fleet.StateQuery{Limit: 25}); len(exact) != 25 || pages != 1 {
		t.Errorf("a page of the fleet's size: %d in %d pages, want 25 in 1 without a cursor", len(exact), pages)
	}
	// Car i uploaded last at now+i min+15 s: at now+1h, silent for more
	// than 50 minutes are the connected ones uploading before +10 min.
	silent, _ := collect(fleet.StateQuery{Limit: 2, SilentFor: 50 * time.Minute})
	if want := []string{"car-00", "car-05"}; !sameSet(silent, want) {
		t.Errorf("silent: %v, want %v", silent, want)
	}
	notSeen, _ := collect(fleet.StateQuery{Limit: 100, NotSeenFor: 50 * time.Minute})
	if want := []string{"car-01", "car-02", "car-03", "car-04", "car-06", "car-07", "car-08", "car-09"}; !sameSet(notSeen, want) {
		t.Errorf("not seen: %v, want %v", notSeen, want)
	}
	north, _ := collect(fleet.StateQuery{Limit: 100, Within: &fleet.BoundingBox{West: 0, South: 55, East: 20, North: 65}})
	if len(north) != 9 {
		t.Errorf("in the north: %v, want the 9 of every third", north)
	}
	both, _ := collect(fleet.StateQuery{Limit: 100, NotSeenFor: 50 * time.Minute, Within: &fleet.BoundingBox{West: 0, South: 55, East: 20, North: 65}})
	if want := []string{"car-03", "car-06", "car-09"}; !sameSet(both, want) {
		t.Errorf("not seen and in the north: %v, want %v", both, want)
	}
	first, err := s.ListStates(ctx, fleet.StateQuery{Limit: 5}, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListStates(ctx, fleet.StateQuery{Limit: 5, SilentFor: time.Minute, Cursor: first.NextCursor}, at); !errors.Is(err, fleet.ErrInvalid) {
		t.Errorf("a cursor of another listing: %v, want ErrInvalid", err)
	}
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	set := map[string]bool{}
	for _, v := range got {
		set[v] = true
	}
	for _, v := range want {
		if !set[v] {
			return false
		}
	}
	return true
}
