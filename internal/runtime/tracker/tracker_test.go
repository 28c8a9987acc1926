package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localstream"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
	"github.com/fleetapi/fleetapi/internal/testutil/logbuf"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

var now = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// fixture is a stage's tables, the events table's stream mapped to a
// tracker, and a store that writes through the stream.
type fixture struct {
	store   *dynamostore.Store
	tracker *Tracker
	stream  *localstream.Stream
	logs    *logbuf.Buffer
}

func newFixture(t *testing.T, st Store) *fixture {
	t.Helper()
	tables := dynalite.NewTables(t, db)
	f := &fixture{logs: &logbuf.Buffer{}}
	var tr *Tracker
	f.stream = localstream.New(func(ctx context.Context, p json.RawMessage) (any, error) { return tr.Invoke(ctx, p) },
		localstream.Options{Window: time.Hour, Retries: -1})
	t.Cleanup(f.stream.Close)
	store, err := dynamostore.New(f.stream.Table(db, tables.Events), dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.store = store
	if st == nil {
		st = store
	}
	tr, err = New(Config{Store: st, SilentAfter: 10 * time.Minute, NotSeenAfter: 7 * 24 * time.Hour, FunctionName: "fleet-tracker",
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Now: func() time.Time { return now.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	f.tracker = tr
	return f
}

func (f *fixture) register(t *testing.T, vid string) {
	t.Helper()
	if _, err := f.store.CreateVehicle(context.Background(), fleet.NewVehicle{VID: vid, VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017}}, now); err != nil {
		t.Fatal(err)
	}
}

// upload stores the talk's upload of a drive that starts at start, as the
// ingest service does; received is its arrival.
func (f *fixture) upload(t *testing.T, vid string, seed uint64, start, received time.Time) fleet.Event {
	t.Helper()
	e, err := fleet.NewEvent(vid, workload.NewDrive(seed, start).Upload(workload.SamplesPerUpload), "", received, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PutEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fixture) state(t *testing.T, vid string) fleet.VehicleState {
	t.Helper()
	st, err := f.store.GetState(context.Background(), vid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The newest batch first, then a replayed older one, in one stream batch
// or in two: the state holds the newest batch's values; the late batch
// moves the arrival time only. A retried upload stores nothing, so the
// stream carries nothing and the state is unchanged.
func TestStreamKeepsTheNewest(t *testing.T) {
	for _, oneBatch := range []bool{true, false} {
		f := newFixture(t, nil)
		f.register(t, "car-1")
		newest := f.upload(t, "car-1", 1, now.Add(-10*time.Minute), now)
		if !oneBatch {
			f.stream.Flush()
		}
		older := f.upload(t, "car-1", 2, now.Add(-50*time.Minute), now.Add(time.Minute))
		f.stream.Flush()
		want := fleet.NewVehicleState("car-1")
		want.ApplyEvent(newest)
		want.ApplyEvent(older)
		got := f.state(t, "car-1")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("one batch %v: state\n got %+v\nwant %+v", oneBatch, got, want)
		}
		last := newest.Samples[len(newest.Samples)-1]
		if got.Signals[fleet.SignalSpeed].Value != last.Signals[fleet.SignalSpeed] || !got.LastSampleAt.Equal(last.Timestamp) || !got.LastUploadAt.Equal(now.Add(time.Minute)) {
			t.Errorf("speed %v at %v, last upload %v: want the newest batch's %v at %v, the late batch's arrival",
				got.Signals[fleet.SignalSpeed], got.LastSampleAt, got.LastUploadAt, last.Signals[fleet.SignalSpeed], last.Timestamp)
		}
		// The retry of the newest upload.
		if res, err := f.store.PutEvent(context.Background(), newest); err != nil || res.Created {
			t.Fatalf("retry: %+v, %v", res, err)
		}
		f.stream.Flush()
		if again := f.state(t, "car-1"); !reflect.DeepEqual(again, got) {
			t.Errorf("a retried upload changed the state:\n got %+v\nwant %+v", again, got)
		}
	}
}

// failingStore fails the updates of one vehicle.
type failingStore struct {
	Store
	vid string
}

func (s failingStore) UpdateState(ctx context.Context, u dynamostore.StateUpdate) (bool, error) {
	if u.VID == s.vid {
		return false, errors.New("throttled")
	}
	return s.Store.UpdateState(ctx, u)
}

// A vehicle whose state cannot be written fails the batch from its first
// record, which Lambda retries from; the vehicles before it are applied.
// A record that is no event fails from itself.
func TestStreamPartialFailure(t *testing.T) {
	f := newFixture(t, nil)
	var batches []events.DynamoDBEvent
	f.stream.Close()
	f.stream = localstream.New(func(_ context.Context, p json.RawMessage) (any, error) {
		var ev events.DynamoDBEvent
		err := json.Unmarshal(p, &ev)
		batches = append(batches, ev)
		return nil, err
	}, localstream.Options{Window: time.Hour})
	t.Cleanup(f.stream.Close)
	tables := dynalite.NewTables(t, db)
	f.store, _ = dynamostore.New(f.stream.Table(db, tables.Events), dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, nil)
	f.tracker.cfg.Store = failingStore{Store: f.store, vid: "car-2"}
	for _, vid := range []string{"car-1", "car-2"} {
		f.register(t, vid)
	}
	f.upload(t, "car-1", 1, now.Add(-10*time.Minute), now)
	f.upload(t, "car-2", 2, now.Add(-10*time.Minute), now)
	f.upload(t, "car-1", 3, now.Add(-5*time.Minute), now)
	f.stream.Flush()
	if len(batches) != 1 || len(batches[0].Records) != 3 {
		t.Fatalf("batches %+v, want one of three records", batches)
	}
	batch := batches[0]
	resp := f.tracker.HandleStream(context.Background(), batch)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != batch.Records[1].Change.SequenceNumber {
		t.Errorf("response %+v, want car-2's record, the second", resp)
	}
	if got := f.state(t, "car-1"); got.LastSampleAt.IsZero() {
		t.Error("car-1, beside the failing vehicle, was not applied")
	}
	if !strings.Contains(f.logs.String(), `"msg":"state not updated","vid":"car-2"`) {
		t.Errorf("the failure is not logged: %s", f.logs.String())
	}
	// A record whose image is no event, first in the batch.
	bad := batch.Records[0]
	bad.Change.NewImage = map[string]events.DynamoDBAttributeValue{"vid": events.NewStringAttribute("car-1")}
	bad.Change.SequenceNumber = "000000000000000000000"
	f.tracker.cfg.Store = f.store
	resp = f.tracker.HandleStream(context.Background(), events.DynamoDBEvent{Records: append([]events.DynamoDBEventRecord{bad}, batch.Records...)})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != bad.Change.SequenceNumber {
		t.Errorf("response %+v, want the record that is no event", resp)
	}
	// All applied now, but the bad record stays failed: Lambda retries it,
	// then hands it to the on-failure destination.
	if got := f.state(t, "car-2"); got.LastSampleAt.IsZero() {
		t.Error("car-2 was not applied on the retry")
	}
}

// A lifecycle event of a registered vehicle sets its connectivity; one of
// a client that is no vehicle of the stage writes nothing and is no error
// (the rule sees every client of the account).
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.register(t, "car-1")
	connected := []byte(`{"clientId":"car-1","timestamp":1764144000000,"eventType":"connected","sessionIdentifier":"a4666d2a7d844ae4ac5d7b38c9cb7967","principalIdentifier":"12345678901234567890123456789012","ipAddress":"192.0.2.0","versionNumber":4}`)
	disconnected := []byte(`{"clientId":"car-1","timestamp":1764144110000,"eventType":"disconnected","sessionIdentifier":"a4666d2a7d844ae4ac5d7b38c9cb7967","principalIdentifier":"12345678901234567890123456789012","clientInitiatedDisconnect":false,"disconnectReason":"CONNECTION_LOST","versionNumber":4}`)
	// Out of order: the disconnect first.
	for _, ev := range [][]byte{disconnected, connected} {
		if _, err := f.tracker.Invoke(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	st := f.state(t, "car-1")
	if c := st.Connectivity; c == nil || c.Connected || c.DisconnectReason != "CONNECTION_LOST" || !c.Since.Equal(time.UnixMilli(1764144110000)) {
		t.Errorf("connectivity: %+v, want disconnected since the disconnect, CONNECTION_LOST", c)
	}
	for _, ev := range []string{
		`{"clientId":"ghost-1","timestamp":1764144000000,"eventType":"connected","versionNumber":1}`,
		`{"clientId":"not a vid!","timestamp":1764144000000,"eventType":"connected","versionNumber":1}`,
	} {
		if _, err := f.tracker.Invoke(ctx, []byte(ev)); err != nil {
			t.Errorf("%s: %v, want it left alone", ev, err)
		}
	}
	if _, err := f.store.GetState(ctx, "ghost-1"); !errors.Is(err, fleet.ErrNoVehicle) {
		t.Errorf("a client that is no vehicle got a state: %v", err)
	}
}

// The figures count a connected vehicle that stopped uploading as silent,
// not a parked one (disconnected), which after a week counts as not seen;
// the synthetic vehicle is not counted.
func TestFigures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	at := now.Add(time.Hour) // the tracker's clock
	set := func(vid string, apply func(*fleet.VehicleState)) {
		f.register(t, vid)
		if _, err := f.store.UpdateState(ctx, dynamostore.StateUpdate{VID: vid, Apply: func(st *fleet.VehicleState) bool { apply(st); return true }}); err != nil {
			t.Fatal(err)
		}
	}
	conn := func(connected bool, since time.Time) fleet.LifecycleEvent {
		return fleet.LifecycleEvent{Connectivity: fleet.Connectivity{Connected: connected, Since: since, Version: 1}}
	}
	upload := func(received time.Time) fleet.Event {
		return fleet.Event{ReceivedAt: received, Samples: []fleet.Sample{{Timestamp: received.Add(-time.Second), Signals: map[string]float64{fleet.SignalSpeed: 1}}}}
	}
	set("driving", func(st *fleet.VehicleState) {
		st.ApplyLifecycle(conn(true, at.Add(-time.Hour)))
		st.ApplyEvent(upload(at.Add(-30 * time.Second)))
	})
	set("stopped-agent", func(st *fleet.VehicleState) {
		st.ApplyLifecycle(conn(true, at.Add(-time.Hour)))
		st.ApplyEvent(upload(at.Add(-20 * time.Minute)))
	})
	set("parked", func(st *fleet.VehicleState) {
		st.ApplyLifecycle(conn(true, at.Add(-2*time.Hour)))
		st.ApplyEvent(upload(at.Add(-90 * time.Minute)))
		st.ApplyLifecycle(conn(false, at.Add(-80*time.Minute)))
	})
	set("gone", func(st *fleet.VehicleState) { st.ApplyEvent(upload(at.Add(-8 * 24 * time.Hour))) })
	set(contract.SyntheticVIDPrefix+"dev", func(st *fleet.VehicleState) { st.ApplyLifecycle(conn(true, at.Add(-time.Hour))) })

	if _, err := f.tracker.Invoke(ctx, []byte(`{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-26T09:00:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/figures"],"detail":{}}`)); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	for l := range strings.Lines(f.logs.String()) {
		if strings.Contains(l, `"msg":"fleet figures"`) {
			json.Unmarshal([]byte(l), &line)
		}
	}
	want := map[string]float64{metrics.VehiclesConnected: 2, metrics.VehiclesSilent: 1, metrics.VehiclesNotSeen: 1, "vehicles": 4}
	for name, v := range want {
		if line[name] != v {
			t.Errorf("%s: %v, want %v (line %v)", name, line[name], v, line)
		}
	}
	if _, ok := line["_aws"]; !ok || line[metrics.DimensionFunctionName] != "fleet-tracker" {
		t.Errorf("the figures' line is no embedded metric of the tracker: %v", line)
	}
}

// An event of no kind the tracker serves is an error, not a guess.
func TestInvokeUnknownEvent(t *testing.T) {
	f := newFixture(t, nil)
	for _, ev := range []string{`{}`, `[]`, `{"Records":[{"eventSource":"aws:sqs"}]}`, `not json`} {
		if _, err := f.tracker.Invoke(context.Background(), []byte(ev)); err == nil {
			t.Errorf("%s: served", ev)
		}
	}
}
