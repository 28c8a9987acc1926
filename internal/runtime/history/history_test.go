package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/parquet-go/parquet-go"

	apihistory "github.com/fleetapi/fleetapi/api/history"
	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localstream"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

var now = time.Date(2026, 11, 26, 8, 58, 0, 0, time.UTC)

// memObjects is a bucket in memory that counts its puts.
type memObjects struct {
	mu   sync.Mutex
	objs map[string][]byte
	puts int
	fail error
}

func (m *memObjects) Put(_ context.Context, key string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.objs == nil {
		m.objs = map[string][]byte{}
	}
	m.objs[key] = bytes.Clone(body)
	m.puts++
	return nil
}

type memFailures struct{ kept []Failure }

func (m *memFailures) Keep(_ context.Context, f Failure) error {
	m.kept = append(m.kept, f)
	return nil
}

// streamed stores uploads through a stand-in of the events table's
// stream and returns the batch it carried: the records the writer gets.
func streamed(t *testing.T, uploads func(store *dynamostore.Store)) (events.DynamoDBEvent, *dynamostore.Store) {
	t.Helper()
	tables := dynalite.NewTables(t, db)
	var batch events.DynamoDBEvent
	stream := localstream.New(func(_ context.Context, p json.RawMessage) (any, error) {
		var b events.DynamoDBEvent
		if err := json.Unmarshal(p, &b); err != nil {
			return nil, err
		}
		batch.Records = append(batch.Records, b.Records...)
		return nil, nil
	}, localstream.Options{Window: time.Hour, BatchSize: 1000})
	t.Cleanup(stream.Close)
	store, err := dynamostore.New(stream.Table(db, tables.Events), dynamostore.Tables(tables), nil)
	if err != nil {
		t.Fatal(err)
	}
	uploads(store)
	stream.Flush()
	return batch, store
}

func put(t *testing.T, store *dynamostore.Store, vid string, seed uint64, start time.Time) fleet.Event {
	t.Helper()
	if _, err := store.CreateVehicle(context.Background(), fleet.NewVehicle{VID: vid, VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017}}, now); err != nil && !errors.Is(err, fleet.ErrConflict) {
		t.Fatal(err)
	}
	e, err := fleet.NewEvent(vid, workload.NewDrive(seed, start).Upload(workload.SamplesPerUpload), "", now, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// Every signal of every sample the table stored is one row of its
// sample's hour, with the upload's eid and arrival; an upload across an
// hour is in both hours' objects; read back, the rows are those sent.
func TestEveryStoredSampleIsARow(t *testing.T) {
	var sent []fleet.Event
	batch, store := streamed(t, func(s *dynamostore.Store) {
		sent = append(sent, put(t, s, "car-1", 1, now.Add(-5*time.Second)))  // 08:57:55 to 08:58:04
		sent = append(sent, put(t, s, "car-2", 2, now.Add(115*time.Second))) // 08:59:55 to 09:00:04
	})
	objs := &memObjects{}
	w := &Writer{Objects: objs, Failures: &memFailures{}, Decoder: store, Prefix: "samples"}
	got, err := w.HandleStream(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(objs.objs))
	name := BatchName(batch.Records[0].EventID, batch.Records[1].EventID)
	if want := []string{"samples/day=2026-11-26/hour=08/" + name, "samples/day=2026-11-26/hour=09/" + name}; !slices.Equal(keys, want) {
		t.Fatalf("objects %v, want %v", keys, want)
	}
	var rows []Row
	for _, k := range keys {
		r, err := Decode(objs.objs[k])
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range r {
			if p := PartitionOf(row.Time); !strings.Contains(k, p.Path()) {
				t.Errorf("row of %v in %s", row.Time, k)
			}
		}
		rows = append(rows, r...)
	}
	var want []Row
	for _, e := range sent {
		for _, s := range e.Samples {
			for name, v := range s.Signals {
				want = append(want, Row{VID: e.VID, Signal: name, Time: s.Timestamp, Value: v, EID: e.EID, ReceivedAt: e.ReceivedAt})
			}
		}
	}
	slices.SortFunc(want, compareRows)
	slices.SortFunc(rows, compareRows)
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		if r, w := rows[i], want[i]; r.VID != w.VID || r.Signal != w.Signal || !r.Time.Equal(w.Time) || r.Value != w.Value || r.EID != w.EID || !r.ReceivedAt.Equal(w.ReceivedAt.Truncate(time.Millisecond)) {
			t.Fatalf("row %d: %+v, want %+v", i, r, w)
		}
	}
	if got.Events != 2 || got.Rows != len(want) || got.Objects != 2 || got.Failed != 0 || !got.OldestArrival.Equal(now) {
		t.Errorf("written %+v", got)
	}
}

// Lambda retries a batch whose function failed: the retry writes the
// same objects, the same rows, whatever failed the first time; the
// history holds each sample once.
func TestRetriedBatchRewritesTheSameObjects(t *testing.T) {
	batch, store := streamed(t, func(s *dynamostore.Store) {
		put(t, s, "car-1", 1, now.Add(-5*time.Second))
		put(t, s, "car-2", 2, now.Add(115*time.Second))
	})
	// The first attempt puts one object and fails on the other.
	objs := &failAfter{n: 1}
	w := &Writer{Objects: objs, Failures: &memFailures{}, Decoder: store, Prefix: "samples"}
	if _, err := w.HandleStream(context.Background(), batch); err == nil {
		t.Fatal("the failed put failed nothing")
	}
	first := maps.Clone(objs.objs)
	objs.n = -1
	if _, err := w.HandleStream(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if _, err := w.HandleStream(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(objs.objs) != 2 {
		t.Fatalf("objects after the failure %d, after the retries %d; want 1, 2", len(first), len(objs.objs))
	}
	rows := 0
	seen := map[string]bool{}
	for k, body := range objs.objs {
		if old, ok := first[k]; ok && !bytes.Equal(old, body) {
			t.Errorf("%s: the retry wrote other bytes", k)
		}
		r, err := Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range r {
			id := row.EID + row.Signal + row.Time.String()
			if seen[id] {
				t.Errorf("row %s twice", id)
			}
			seen[id] = true
		}
		rows += len(r)
	}
	if rows != 2*10*len(workload.NewDrive(1, now).Upload(1).Samples[0].Signals) {
		t.Errorf("%d rows, want 2 uploads × 10 samples × their signals", rows)
	}
}

type failAfter struct {
	memObjects
	n int
}

func (f *failAfter) Put(ctx context.Context, key string, body []byte) error {
	if f.n == 0 {
		return errors.New("S3: service unavailable")
	}
	f.n--
	return f.memObjects.Put(ctx, key, body)
}

// A record the writer cannot decode is kept with its keys and why, and
// the rest of the batch is written; the TTL's REMOVEs and the synthetic
// vehicle's uploads are not history.
func TestUndecodableRecordIsKept(t *testing.T) {
	batch, store := streamed(t, func(s *dynamostore.Store) {
		put(t, s, "car-1", 1, now)
		put(t, s, contract.SyntheticVIDPrefix+"prod", 2, now)
	})
	bad := batch.Records[0]
	bad.EventID = "bad"
	bad.Change.NewImage = map[string]events.DynamoDBAttributeValue{"vid": events.NewStringAttribute("car-9"), "eid": events.NewStringAttribute("x")}
	remove := batch.Records[0]
	remove.EventName = string(events.DynamoDBOperationTypeRemove)
	batch.Records = append([]events.DynamoDBEventRecord{bad, remove}, batch.Records...)
	objs, fails := &memObjects{}, &memFailures{}
	w := &Writer{Objects: objs, Failures: fails, Decoder: store, Prefix: "samples"}
	got, err := w.HandleStream(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(fails.kept) != 1 || fails.kept[0].EventID != "bad" || fails.kept[0].Keys["vid"].String() != "car-1" || fails.kept[0].Error == "" {
		t.Errorf("kept %+v, want the bad record with its keys and error", fails.kept)
	}
	if got.Events != 1 || got.Failed != 1 || len(objs.objs) != 1 {
		t.Errorf("written %+v, %d objects; want car-1's upload alone", got, len(objs.objs))
	}
	for _, body := range objs.objs {
		rows, err := Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.VID != "car-1" {
				t.Fatalf("row of %s", r.VID)
			}
		}
	}
}

// The objects' columns are the Glue table's (api/history), in its order,
// each in the Parquet type Athena reads as the column's type: string as
// BYTE_ARRAY of logical type STRING, double as DOUBLE, and timestamp as
// an INT64 TIMESTAMP in milliseconds not adjusted to UTC, Athena's
// TIMESTAMP without a time zone (Athena User Guide, "Work with timestamp
// data": a TIMESTAMP column reads "a built-in time type such as those for
// Parquet"; "Data types in Amazon Athena": TIMESTAMP is without a time
// zone).
func TestObjectsHaveTheTablesColumns(t *testing.T) {
	body, err := Encode([]Row{{VID: "car-1", Signal: "Vehicle.Speed", Time: now, Value: 52.3, EID: "e", ReceivedAt: now}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"string":    "BYTE_ARRAY STRING",
		"double":    "DOUBLE <nil>",
		"timestamp": "INT64 TIMESTAMP(isAdjustedToUTC=false,unit=MILLIS)",
	}
	fields := f.Schema().Fields()
	if len(fields) != len(apihistory.Columns) {
		t.Fatalf("%d columns, want the table's %d", len(fields), len(apihistory.Columns))
	}
	for i, c := range apihistory.Columns {
		got := fmt.Sprintf("%v %v", fields[i].Type().Kind(), fields[i].Type().LogicalType())
		if fields[i].Name() != c.Name || got != want[c.Type] {
			t.Errorf("column %d: %s %s, want %s %s (the table's %s)", i, fields[i].Name(), got, c.Name, want[c.Type], c.Type)
		}
	}
}
