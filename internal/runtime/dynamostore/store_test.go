package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/runtime/cursor"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newStore(t testing.TB) *Store {
	t.Helper()
	tables := dynalite.NewTables(t, db)
	s, err := New(db, Tables{Vehicles: tables.Vehicles, Events: tables.Events}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var now = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func newVehicle(vid string) fleet.NewVehicle {
	return fleet.NewVehicle{VID: vid, VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017, Plate: "SE 317 RI", Metadata: map[string]string{"color": "silver"}}}
}

// A create with an Idempotency-Key retried after it was stored gets the
// stored vehicle; the same key with another body, another key or none is
// a conflict, as is a create without a key of a vehicle created with one.
func TestCreateVehicleRetries(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	in := newVehicle("car-1")
	in.IdempotencyKey = "create-car-1"
	first, err := s.CreateVehicle(ctx, in, now)
	if err != nil || !first.Created {
		t.Fatalf("create: %+v, %v", first, err)
	}
	retry, err := s.CreateVehicle(ctx, in, now.Add(time.Minute))
	if err != nil || retry.Created || !reflect.DeepEqual(retry.Vehicle, first.Vehicle) {
		t.Errorf("retry: %+v, %v; want the stored vehicle %+v, not created", retry, err, first.Vehicle)
	}
	other := in
	other.Model = "i3s"
	otherKey := in
	otherKey.IdempotencyKey = "another"
	noKey := in
	noKey.IdempotencyKey = ""
	for name, c := range map[string]fleet.NewVehicle{"another body": other, "another key": otherKey, "no key": noKey} {
		if _, err := s.CreateVehicle(ctx, c, now); !errors.Is(err, fleet.ErrConflict) {
			t.Errorf("%s: got %v, want ErrConflict", name, err)
		}
	}
	// The key is not part of the vehicle.
	got, err := s.GetVehicle(ctx, "car-1")
	if err != nil || !reflect.DeepEqual(got, first.Vehicle) {
		t.Errorf("get = %+v, %v", got, err)
	}
}

func TestVehicleLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	created, err := s.CreateVehicle(ctx, newVehicle("car-1"), now)
	if err != nil {
		t.Fatal(err)
	}
	if created.Version != 1 || !created.CreatedAt.Equal(now) {
		t.Errorf("created = %+v, want version 1 at %v", created, now)
	}
	if _, err := s.CreateVehicle(ctx, newVehicle("car-1"), now); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("duplicate create: got %v, want ErrConflict", err)
	}
	got, err := s.GetVehicle(ctx, "car-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, created.Vehicle) {
		t.Errorf("get = %+v, want %+v", got, created.Vehicle)
	}

	later := now.Add(time.Hour)
	fields := fleet.VehicleFields{Make: "BMW", Model: "i3s", Year: 2018}
	updated, err := s.UpdateVehicle(ctx, "car-1", fields, 1, later)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Version != 2 || updated.Model != "i3s" || updated.Plate != "" || updated.Metadata != nil || !updated.UpdatedAt.Equal(later) || !updated.CreatedAt.Equal(now) {
		t.Errorf("updated = %+v, want version 2, model i3s, plate and metadata removed", updated)
	}
	if _, err := s.UpdateVehicle(ctx, "car-1", fields, 1, later); !errors.Is(err, fleet.ErrPreconditionFailed) {
		t.Errorf("stale update: got %v, want ErrPreconditionFailed", err)
	}
	if v, err := s.UpdateVehicle(ctx, "car-1", fields, 0, later); err != nil || v.Version != 3 {
		t.Errorf("unconditional update: got %+v, %v; want version 3", v, err)
	}
	if _, err := s.UpdateVehicle(ctx, "ghost", fields, 0, later); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("update of a missing vehicle: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetVehicle(ctx, "ghost"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("get of a missing vehicle: got %v, want ErrNotFound", err)
	}
}

// The fleet's vehicles page by page, each once; the synthetic vehicles,
// which the scan reads among them, in no page.
func TestListVehiclesPaginates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	want := map[string]bool{}
	for i := range 7 {
		vid := fmt.Sprintf("car-%02d", i)
		want[vid] = true
		if _, err := s.CreateVehicle(ctx, newVehicle(vid), now); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := s.CreateVehicle(ctx, newVehicle(fmt.Sprintf("%sstage-%d", contract.SyntheticVIDPrefix, i)), now); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]bool{}
	cur, pages := "", 0
	for {
		page, err := s.ListVehicles(ctx, 3, cur)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Vehicles) > 3 {
			t.Fatalf("page of %d vehicles, limit 3", len(page.Vehicles))
		}
		for _, v := range page.Vehicles {
			if seen[v.VID] {
				t.Errorf("%s listed twice", v.VID)
			}
			seen[v.VID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cur = page.NextCursor
		if pages > 10 {
			t.Fatal("listing does not end")
		}
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("listed %v, want %v", seen, want)
	}
	if _, err := s.ListVehicles(ctx, 3, "forged.cursor"); !errors.Is(err, fleet.ErrInvalid) {
		t.Errorf("forged cursor: got %v, want ErrInvalid", err)
	}
}

func upload(t testing.TB, vid string, start time.Time, key string) fleet.Event {
	t.Helper()
	e, err := fleet.NewEvent(vid, workload.NewDrive(7, start).Upload(workload.SamplesPerUpload), key, now, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPutEventIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.CreateVehicle(ctx, newVehicle("car-1"), now); err != nil {
		t.Fatal(err)
	}
	e := upload(t, "car-1", now.Add(-time.Hour), "")
	first, err := s.PutEvent(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created {
		t.Error("first put: Created = false")
	}
	retry, err := s.PutEvent(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if retry.Created || retry.Event.EID != e.EID {
		t.Errorf("retry: Created=%v eid=%s, want false and %s", retry.Created, retry.Event.EID, e.EID)
	}
	page, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: now.Add(-24 * time.Hour), To: now, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 {
		t.Errorf("stored %d events after a retry, want 1", len(page.Events))
	}
	got, err := s.GetEvent(ctx, "car-1", e.EID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Samples, e.Samples) || !got.ExpiresAt.Equal(e.ExpiresAt) || !got.Start.Equal(e.Start) {
		t.Errorf("stored event differs:\ngot  %+v\nwant %+v", got, e)
	}

	// The same idempotency key for other samples in the same millisecond.
	keyed := upload(t, "car-1", now.Add(-2*time.Hour), "retry-key-1")
	if _, err := s.PutEvent(ctx, keyed); err != nil {
		t.Fatal(err)
	}
	other := keyed
	other.Samples = append([]fleet.Sample(nil), keyed.Samples...)
	other.Samples[1] = fleet.Sample{Timestamp: other.Samples[1].Timestamp, Signals: map[string]float64{fleet.SignalSpeed: 1}}
	other.ContentHash = append([]byte{^keyed.ContentHash[0]}, keyed.ContentHash[1:]...)
	if _, err := s.PutEvent(ctx, other); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("key reused with other samples: got %v, want ErrConflict", err)
	}

	if _, err := s.PutEvent(ctx, upload(t, "ghost", now.Add(-time.Hour), "")); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("event of an unknown vehicle: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetEvent(ctx, "car-1", "0000000000000-0000000000000000"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("missing event: got %v, want ErrNotFound", err)
	}
}

// TestWriteUnitsPerUpload records what DynamoDB charges for the talk's
// upload of 10 samples: the goal is at most 2 write units.
func TestWriteUnitsPerUpload(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.CreateVehicle(ctx, newVehicle("car-1"), now); err != nil {
		t.Fatal(err)
	}
	drive := workload.NewDrive(42, now.Add(-workload.DrivingPerDay))
	var total, worst float64
	const uploads = 20
	for range uploads {
		e, err := fleet.NewEvent("car-1", drive.Upload(workload.SamplesPerUpload), "", now, 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.PutEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if res.WriteUnits <= 0 {
			t.Fatalf("no consumed capacity reported: %+v", res)
		}
		total += res.WriteUnits
		worst = max(worst, res.WriteUnits)
	}
	t.Logf("write units per 10-sample upload: mean %.2f, worst %.0f over %d uploads", total/uploads, worst, uploads)
	if worst > 2 {
		t.Errorf("an upload cost %.0f write units, want at most 2", worst)
	}
}

func TestListEventsRangeOrderAndCursor(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, vid := range []string{"car-1", "car-2"} {
		if _, err := s.CreateVehicle(ctx, newVehicle(vid), now); err != nil {
			t.Fatal(err)
		}
	}
	var eids []string
	for i := range 5 {
		e := upload(t, "car-1", now.Add(-time.Duration(10-i)*time.Hour), "")
		if _, err := s.PutEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		eids = append(eids, e.EID)
	}
	if _, err := s.PutEvent(ctx, upload(t, "car-2", now.Add(-5*time.Hour), "")); err != nil {
		t.Fatal(err)
	}
	// Events 1..3 start within [from, to]; to is exactly event 3's start.
	from, to := now.Add(-9*time.Hour-time.Minute), now.Add(-7*time.Hour)
	list := func(newest bool) []string {
		var got []string
		cur := ""
		for {
			page, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: from, To: to, FromGiven: true, ToGiven: true, Limit: 2, NewestFirst: newest, Cursor: cur})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				got = append(got, e.EID)
			}
			if cur = page.NextCursor; cur == "" {
				return got
			}
		}
	}
	if got, want := strings.Join(list(false), ","), strings.Join(eids[1:4], ","); got != want {
		t.Errorf("oldest first: got %s, want %s", got, want)
	}
	if got, want := strings.Join(list(true), ","), strings.Join([]string{eids[3], eids[2], eids[1]}, ","); got != want {
		t.Errorf("newest first: got %s, want %s", got, want)
	}

	page, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: from, To: to, FromGiven: true, ToGiven: true, Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, page.NextCursor)
	}
	for name, q := range map[string]fleet.EventQuery{
		"other vehicle": {VID: "car-2", From: from, To: to, FromGiven: true, ToGiven: true, Limit: 1, Cursor: page.NextCursor},
		"other range":   {VID: "car-1", From: from, To: now, FromGiven: true, ToGiven: true, Limit: 1, Cursor: page.NextCursor},
		"default range": {VID: "car-1", From: from, To: to, Limit: 1, Cursor: page.NextCursor},
		"other order":   {VID: "car-1", From: from, To: to, FromGiven: true, ToGiven: true, Limit: 1, NewestFirst: true, Cursor: page.NextCursor},
	} {
		if _, err := s.ListEvents(ctx, q); !errors.Is(err, fleet.ErrInvalid) {
			t.Errorf("cursor reused for %s: got %v, want ErrInvalid", name, err)
		}
	}
}

// A next cursor means there is more: a listing whose last page is exactly
// full ends without one, and every page but the last is full.
func TestListPagesEndWithoutAnEmptyPage(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for i := range 7 {
		vid := fmt.Sprintf("car-%02d", i)
		if _, err := s.CreateVehicle(ctx, newVehicle(vid), now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutEvent(ctx, upload(t, "car-00", now.Add(-time.Duration(i+1)*time.Hour), "")); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{7, 8, 100} {
		vp, err := s.ListVehicles(ctx, limit, "")
		if err != nil || len(vp.Vehicles) != 7 || vp.NextCursor != "" {
			t.Errorf("vehicles, limit %d: %d vehicles, cursor %q, %v; want 7 and no cursor", limit, len(vp.Vehicles), vp.NextCursor, err)
		}
		ep, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-00", From: now.Add(-24 * time.Hour), To: now, Limit: limit})
		if err != nil || len(ep.Events) != 7 || ep.NextCursor != "" {
			t.Errorf("events, limit %d: %d events, cursor %q, %v; want 7 and no cursor", limit, len(ep.Events), ep.NextCursor, err)
		}
	}
	var sizes []int
	for cur := ""; ; {
		p, err := s.ListVehicles(ctx, 3, cur)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(p.Vehicles))
		if cur = p.NextCursor; cur == "" {
			break
		}
	}
	if fmt.Sprint(sizes) != "[3 3 1]" {
		t.Errorf("pages of %v vehicles, want [3 3 1]", sizes)
	}
}

// The default range of a listing moves with the clock between pages; a
// cursor of such a listing continues it, even when the events it points
// past have left the range (DynamoDB would refuse a start key outside the
// key condition).
func TestDefaultRangeCursorFollowsTheClock(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.CreateVehicle(ctx, newVehicle("car-1"), now); err != nil {
		t.Fatal(err)
	}
	var eids []string
	for i := range 4 {
		e := upload(t, "car-1", now.Add(-time.Duration(4-i)*time.Hour), "")
		if _, err := s.PutEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		eids = append(eids, e.EID)
	}
	retention := 5 * time.Hour
	first, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: now.Add(-retention), To: now, Limit: 1})
	if err != nil || len(first.Events) != 1 || first.NextCursor == "" {
		t.Fatalf("first page: %v, %d events, cursor %q", err, len(first.Events), first.NextCursor)
	}
	// Minutes later, the same listing's next page.
	later := now.Add(2 * time.Minute)
	second, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: later.Add(-retention), To: later, Limit: 1, Cursor: first.NextCursor})
	if err != nil || len(second.Events) != 1 || second.Events[0].EID != eids[1] {
		t.Fatalf("second page: %v %v, want %s", err, second.Events, eids[1])
	}
	// Hours later, the first events have left the default range: the
	// listing goes on from the range's start.
	much := now.Add(90 * time.Minute)
	third, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: much.Add(-retention + 30*time.Minute), To: much, Limit: 5, Cursor: first.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range third.Events {
		got = append(got, e.EID)
	}
	if strings.Join(got, ",") != strings.Join(eids[1:], ",") {
		t.Errorf("after the range moved: got %v, want %v", got, eids[1:])
	}
	// Newest first, a cursor past the range's end yields nothing more.
	desc, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: now.Add(-retention), To: now, Limit: 3, NewestFirst: true})
	if err != nil || desc.NextCursor == "" {
		t.Fatalf("newest first: %v, cursor %q", err, desc.NextCursor)
	}
	empty, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: now.Add(-retention), To: now, Limit: 3, NewestFirst: true, Cursor: desc.NextCursor})
	if err != nil || len(empty.Events) != 1 || empty.NextCursor != "" {
		t.Errorf("newest first, last page: %v, %d events, cursor %q", err, len(empty.Events), empty.NextCursor)
	}
	// Newest first, once the range has moved past the cursor's event,
	// nothing is left: an empty last page.
	newest, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: now.Add(-retention), To: now, Limit: 1, NewestFirst: true})
	if err != nil || newest.NextCursor == "" {
		t.Fatalf("newest first: %v, cursor %q", err, newest.NextCursor)
	}
	gone, err := s.ListEvents(ctx, fleet.EventQuery{VID: "car-1", From: now.Add(-30 * time.Minute), To: now.Add(time.Hour), Limit: 1, NewestFirst: true, Cursor: newest.NextCursor})
	if err != nil || len(gone.Events) != 0 || gone.NextCursor != "" {
		t.Errorf("newest first past the range: %v, %d events, cursor %q; want none", err, len(gone.Events), gone.NextCursor)
	}
}

// An update sets the plate and metadata it is given, and removes those it
// is not: it replaces the client-set fields whole.
func TestUpdateSetsAndRemovesPlateAndMetadata(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.CreateVehicle(ctx, fleet.NewVehicle{VID: "car-1", VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017}}, now); err != nil {
		t.Fatal(err)
	}
	given := fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017, Plate: "NEW 1", Metadata: map[string]string{"color": "red"}}
	v, err := s.UpdateVehicle(ctx, "car-1", given, 0, now)
	if err != nil || v.Plate != "NEW 1" || v.Metadata["color"] != "red" {
		t.Fatalf("update with plate and metadata: %+v, %v", v, err)
	}
	if got, _ := s.GetVehicle(ctx, "car-1"); got.Plate != "NEW 1" || got.Metadata["color"] != "red" {
		t.Errorf("stored %+v, want the plate and metadata given", got)
	}
	v, err = s.UpdateVehicle(ctx, "car-1", fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017}, 0, now)
	if err != nil || v.Plate != "" || v.Metadata != nil {
		t.Errorf("update without plate and metadata: %+v, %v; want both removed", v, err)
	}
	// Removed from the item, not stored as empty or NULL attributes.
	raw, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.tables.Vehicles), Key: keyS("vid", "car-1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{"plate", "metadata"} {
		if v, ok := raw.Item[attr]; ok {
			t.Errorf("the item keeps %s = %#v", attr, v)
		}
	}
}

func TestNewRefusesAMissingTableName(t *testing.T) {
	for _, tables := range []Tables{{Vehicles: "v"}, {Events: "e"}, {}} {
		if _, err := New(db, tables, testKey); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", tables)
		}
	}
}

// A cursor signed with the store's key but holding other key attributes
// than its listing's is refused, not sent to DynamoDB.
func TestCursorWithOtherKeyAttributes(t *testing.T) {
	s := newStore(t)
	codec, err := cursor.New(testKey)
	if err != nil {
		t.Fatal(err)
	}
	forged := codec.Encode(vehiclesQuery, map[string]string{"vid": "car-1", "eid": "x"})
	if _, err := s.ListVehicles(context.Background(), 3, forged); !errors.Is(err, fleet.ErrInvalid) {
		t.Errorf("cursor with two key attributes: got %v, want ErrInvalid", err)
	}
}

// fetchPage asks only for what the page still lacks, plus one, when a
// response stopped short (as DynamoDB's do at 1 MB).
func TestFetchPageAsksForWhatIsMissing(t *testing.T) {
	item := func(v string) map[string]types.AttributeValue { return keyS("vid", v) }
	var asked []int32
	items, more, err := fetchPage(3, nil, func(start map[string]types.AttributeValue, n int32) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		asked = append(asked, n)
		if len(asked) == 1 {
			return []map[string]types.AttributeValue{item("a")}, item("a"), nil // stopped short
		}
		return []map[string]types.AttributeValue{item("b"), item("c"), item("d")}, item("d"), nil
	})
	if err != nil || len(items) != 3 || !more || fmt.Sprint(asked) != "[4 3]" {
		t.Errorf("got %d items, more %v, asked %v, %v; want 3, true, [4 3]", len(items), more, asked, err)
	}
}

// A DynamoDB-compatible server that reports no consumed capacity stores
// the event all the same.
func TestPutEventWithoutConsumedCapacity(t *testing.T) {
	tables := dynalite.NewTables(t, db)
	s, err := New(noCapacity{db}, Tables{Vehicles: tables.Vehicles, Events: tables.Events}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	real, err := New(db, Tables{Vehicles: tables.Vehicles, Events: tables.Events}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := real.CreateVehicle(context.Background(), newVehicle("car-1"), now); err != nil {
		t.Fatal(err)
	}
	res, err := s.PutEvent(context.Background(), upload(t, "car-1", now.Add(-time.Hour), ""))
	if err != nil || !res.Created || res.WriteUnits != 0 {
		t.Errorf("got %+v, %v; want created, 0 write units", res, err)
	}
}

// noCapacity answers PutItem as a server that reports no consumed capacity.
type noCapacity struct{ API }

func (noCapacity) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, nil
}

// The cursor key is loaded when a listing first needs it, once: a listing
// that fits one page never loads it; a failed load fails that listing as
// unavailable (retry later) and is tried again by the next.
func TestCursorKeyIsLoadedWhenFirstNeeded(t *testing.T) {
	ctx := context.Background()
	tables := dynalite.NewTables(t, db)
	var loads atomic.Int32
	fail := atomic.Bool{}
	fail.Store(true)
	s, err := NewWithCursorKey(db, Tables{Vehicles: tables.Vehicles, Events: tables.Events}, func(context.Context) ([]byte, error) {
		loads.Add(1)
		if fail.Load() {
			return nil, &smithyhttp.RequestSendError{Err: errors.New("connection refused")}
		}
		return testKey, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.CreateVehicle(ctx, newVehicle(fmt.Sprintf("car-%02d", i)), now); err != nil {
			t.Fatal(err)
		}
	}
	if page, err := s.ListVehicles(ctx, 10, ""); err != nil || len(page.Vehicles) != 3 || loads.Load() != 0 {
		t.Fatalf("one page: %d vehicles, %v, %d loads; want 3 vehicles and no load", len(page.Vehicles), err, loads.Load())
	}
	if _, err := s.ListVehicles(ctx, 2, ""); !errors.Is(err, fleet.ErrUnavailable) || loads.Load() != 1 {
		t.Fatalf("a page with a next cursor, the key unreadable: %v after %d loads; want ErrUnavailable after 1", err, loads.Load())
	}
	fail.Store(false)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if page, err := s.ListVehicles(ctx, 2, ""); err != nil || page.NextCursor == "" {
				t.Errorf("after the key is readable: %v, cursor %q", err, page.NextCursor)
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 2 {
		t.Errorf("%d loads, want 2: the failed one and one for all the listings after", n)
	}
	// A Store with a key it was given signs what New's would.
	given, err := New(db, Tables{Vehicles: tables.Vehicles, Events: tables.Events}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := given.ListVehicles(ctx, 2, "")
	lazy, _ := s.ListVehicles(ctx, 2, "")
	if first.NextCursor != lazy.NextCursor {
		t.Errorf("cursors differ: %q and %q", first.NextCursor, lazy.NextCursor)
	}
}

// countingGets counts the GetItem calls on each table.
type countingGets struct {
	API
	mu   sync.Mutex
	gets map[string]int
}

func (c *countingGets) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.mu.Lock()
	c.gets[aws.ToString(in.TableName)]++
	c.mu.Unlock()
	return c.API.GetItem(ctx, in, opts...)
}

// A vehicle found registered is not read again by the same Store (vehicles
// are never deleted); one not registered is read every time, so that it
// can upload as soon as it is registered; a Store of its own (another
// execution environment) reads it once too.
func TestRegisteredVehicleIsReadOnce(t *testing.T) {
	ctx := context.Background()
	tables := dynalite.NewTables(t, db)
	counting := &countingGets{API: db, gets: map[string]int{}}
	s, err := New(counting, Tables{Vehicles: tables.Vehicles, Events: tables.Events}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.PutEvent(ctx, upload(t, "car-1", now.Add(-time.Hour), "")); !errors.Is(err, fleet.ErrNoVehicle) {
			t.Fatalf("upload of a vehicle not registered: %v", err)
		}
	}
	if _, err := s.CreateVehicle(ctx, newVehicle("car-1"), now); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.PutEvent(ctx, upload(t, "car-1", now.Add(-time.Duration(i+1)*time.Minute), "")); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
	}
	if n := counting.gets[tables.Vehicles]; n != 3 {
		t.Errorf("%d reads of the vehicles table, want 3: two while not registered, one for five uploads", n)
	}
	other, _ := New(counting, Tables{Vehicles: tables.Vehicles, Events: tables.Events}, testKey)
	if _, err := other.PutEvent(ctx, upload(t, "car-1", now.Add(-time.Second), "")); err != nil {
		t.Fatal(err)
	}
	if n := counting.gets[tables.Vehicles]; n != 4 {
		t.Errorf("%d reads, want 4: another Store reads the vehicle once", n)
	}
}

func TestKnownVehiclesAreBounded(t *testing.T) {
	k := &knownVehicles{vids: map[string]struct{}{}}
	for i := range MaxKnownVehicles + 1 {
		k.add(strconv.Itoa(i))
	}
	if len(k.vids) != 1 || !k.has(strconv.Itoa(MaxKnownVehicles)) || k.has("0") {
		t.Errorf("%d vehicles known after %d: want the set started over with the last", len(k.vids), MaxKnownVehicles+1)
	}
}
