package localathena

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	apihistory "github.com/fleetapi/fleetapi/api/history"
	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/localhistory"
	"github.com/fleetapi/fleetapi/internal/runtime/history"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// byEventID decodes a record into the event it names: the fleet below is
// made in Go, its records carry their event's ID alone.
type byEventID map[string]fleet.Event

func (d byEventID) EventFromImage(image map[string]events.DynamoDBAttributeValue) (fleet.Event, error) {
	e, ok := d[image["eid"].String()]
	if !ok {
		return fleet.Event{}, errors.New("no such event")
	}
	return e, nil
}

type noFailures struct{}

func (noFailures) Keep(context.Context, history.Failure) error { return errors.New("a record failed") }

var day1 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// fleetHistory drives four vehicles on 2026-11-26 (two trips each, the
// first across 08:00) and one of them again on the 27th; car-0002
// charges at noon, car-0003 drives fast for a while, car-0004 uploads one
// batch two hours late. It writes their uploads as the history writer
// does, in stream batches of 50, below a new directory, and returns it
// with the events.
func fleetHistory(t *testing.T) (string, []fleet.Event) {
	t.Helper()
	var evs []fleet.Event
	add := func(vid string, seed uint64, start time.Time, uploads int, edit func(*fleet.Sample, int)) {
		d := workload.NewDrive(seed, start)
		for u := range uploads {
			up := d.Upload(workload.SamplesPerUpload)
			for i := range up.Samples {
				if edit != nil {
					edit(&up.Samples[i], u*workload.SamplesPerUpload+i)
				}
			}
			last := up.Samples[len(up.Samples)-1].Timestamp
			received := last.Add(2 * time.Second)
			if vid == "car-0004" && u == 3 {
				received = last.Add(2 * time.Hour)
			}
			e, err := fleet.NewEvent(vid, up, "", received, 365*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, e)
		}
	}
	for v := 1; v <= 4; v++ {
		vid := fmt.Sprintf("car-%04d", v)
		var fast func(*fleet.Sample, int)
		if v == 3 {
			fast = func(s *fleet.Sample, i int) {
				if i >= 100 && i < 190 {
					s.Signals[fleet.SignalSpeed] = 110 + float64(i%7)
				}
			}
		}
		add(vid, uint64(v), day1.Add(7*time.Hour+56*time.Minute+time.Duration(v)*time.Minute), 24, fast) // 4 minutes, across 08:00 for most
		add(vid, uint64(v+10), day1.Add(17*time.Hour), 12, nil)
	}
	// car-0002 charges: parked, its state of charge up 0.25 a second.
	add("car-0002", 20, day1.Add(12*time.Hour), 6, func(s *fleet.Sample, i int) {
		s.Signals[fleet.SignalSpeed] = 0
		s.Signals[fleet.SignalStateOfCharge] = 40 + 0.25*float64(i)
	})
	add("car-0001", 30, day1.Add(24*time.Hour+9*time.Hour), 6, nil)

	dir := t.TempDir()
	decoder := byEventID{}
	w := &history.Writer{Objects: localhistory.Dir{Root: dir}, Failures: noFailures{}, Decoder: decoder, Prefix: "samples"}
	for batch := range slices.Chunk(evs, 50) {
		var records []events.DynamoDBEventRecord
		for _, e := range batch {
			decoder[e.EID] = e
			records = append(records, events.DynamoDBEventRecord{EventID: "id-" + e.EID, EventName: "INSERT",
				Change: events.DynamoDBStreamRecord{NewImage: map[string]events.DynamoDBAttributeValue{"eid": events.NewStringAttribute(e.EID)}}})
		}
		if _, err := w.HandleStream(context.Background(), events.DynamoDBEvent{Records: records}); err != nil {
			t.Fatal(err)
		}
	}
	return dir, evs
}

// sample is one sample of one vehicle, flattened for the expectations.
type sample struct {
	vid, eid     string
	ts, received time.Time
	signals      map[string]float64
}

func samplesOf(evs []fleet.Event) []sample {
	var out []sample
	for _, e := range evs {
		for _, s := range e.Samples {
			out = append(out, sample{vid: e.VID, eid: e.EID, ts: s.Timestamp, received: e.ReceivedAt, signals: s.Signals})
		}
	}
	slices.SortFunc(out, func(a, b sample) int {
		if a.vid != b.vid {
			return map[bool]int{true: -1, false: 1}[a.vid < b.vid]
		}
		return a.ts.Compare(b.ts)
	})
	return out
}

const stamp = "2006-01-02 15:04:05"

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// expected computes each example query's answer from the samples sent.
func expected(evs []fleet.Event) map[string][][]any {
	ss := samplesOf(evs)
	const d1, d2 = "2026-11-26", "2026-11-27"
	inDays := func(s sample) bool { return day(s.ts) == d1 || day(s.ts) == d2 }
	type vd struct{ vid, day string }
	exp := map[string][][]any{}

	for _, s := range ss {
		if s.vid == "car-0001" && day(s.ts) == d1 {
			exp["route-of-a-day"] = append(exp["route-of-a-day"], []any{s.ts.Format(stamp), s.signals[fleet.SignalLatitude], s.signals[fleet.SignalLongitude]})
		}
	}

	// Per vehicle and day: min and max odometer, max speed, moving speeds,
	// uploads, delays.
	type acc struct {
		minOdo, maxOdo, maxSpeed, sumMoving float64
		moving                              int
		eids                                map[string]bool
		maxDelay                            float64
	}
	per := map[vd]*acc{}
	for _, s := range ss {
		if !inDays(s) {
			continue
		}
		k := vd{s.vid, day(s.ts)}
		a := per[k]
		if a == nil {
			a = &acc{minOdo: math.Inf(1), maxOdo: math.Inf(-1), maxSpeed: math.Inf(-1), eids: map[string]bool{}, maxDelay: math.Inf(-1)}
			per[k] = a
		}
		odo, speed := s.signals[fleet.SignalTraveled], s.signals[fleet.SignalSpeed]
		a.minOdo, a.maxOdo, a.maxSpeed = math.Min(a.minOdo, odo), math.Max(a.maxOdo, odo), math.Max(a.maxSpeed, speed)
		if speed > 0 {
			a.sumMoving += speed
			a.moving++
		}
		a.eids[s.eid] = true
		a.maxDelay = math.Max(a.maxDelay, math.Floor(s.received.Sub(s.ts).Seconds()))
	}
	keys := slices.SortedFunc(maps.Keys(per), func(a, b vd) int {
		if a.vid != b.vid {
			return map[bool]int{true: -1, false: 1}[a.vid < b.vid]
		}
		return map[bool]int{true: -1, false: 1}[a.day < b.day]
	})
	for _, k := range keys {
		a := per[k]
		exp["daily-distance"] = append(exp["daily-distance"], []any{k.vid, k.day, round(a.maxOdo-a.minOdo, 3)})
		exp["max-speed"] = append(exp["max-speed"], []any{k.vid, k.day, a.maxSpeed})
		exp["average-moving-speed"] = append(exp["average-moving-speed"], []any{k.vid, k.day, round(a.sumMoving/float64(a.moving), 1)})
		exp["uploads-and-delay"] = append(exp["uploads-and-delay"], []any{k.vid, k.day, int64(len(a.eids)), int64(a.maxDelay)})
	}

	// Per hour of the first day: samples, vehicles, speeding.
	type hourAcc struct {
		samples, over int
		vids, fast    map[string]bool
	}
	hours := map[int]*hourAcc{}
	for _, s := range ss {
		if day(s.ts) != d1 {
			continue
		}
		h := hours[s.ts.Hour()]
		if h == nil {
			h = &hourAcc{vids: map[string]bool{}, fast: map[string]bool{}}
			hours[s.ts.Hour()] = h
		}
		h.samples++
		h.vids[s.vid] = true
		if s.signals[fleet.SignalSpeed] > 100 {
			h.over++
			h.fast[s.vid] = true
		}
	}
	for _, hr := range slices.Sorted(maps.Keys(hours)) {
		h := hours[hr]
		exp["samples-per-hour"] = append(exp["samples-per-hour"], []any{int64(hr), int64(h.samples), int64(len(h.vids))})
		if h.over > 0 {
			exp["speeding-per-hour"] = append(exp["speeding-per-hour"], []any{int64(hr), int64(h.over), int64(len(h.fast))})
		}
	}

	// Charging on the first day: the rises of the state of charge.
	rises := map[string]float64{}
	prev := map[string]float64{}
	for _, s := range ss {
		if day(s.ts) != d1 {
			continue
		}
		soc := s.signals[fleet.SignalStateOfCharge]
		if p, ok := prev[s.vid]; ok && soc > p {
			rises[s.vid] += soc - p
		}
		prev[s.vid] = soc
	}
	for _, vid := range slices.Sorted(maps.Keys(rises)) {
		if rises[vid] > 1 {
			exp["vehicles-that-charged"] = append(exp["vehicles-that-charged"], []any{vid, round(rises[vid], 2)})
		}
	}

	// Active vehicles per day; the last position of each on the first.
	active := map[string]map[string]bool{}
	speedSamples := map[string]int{}
	last := map[string]sample{}
	for _, s := range ss {
		if !inDays(s) {
			continue
		}
		if active[day(s.ts)] == nil {
			active[day(s.ts)] = map[string]bool{}
		}
		active[day(s.ts)][s.vid] = true
		speedSamples[day(s.ts)]++
		if day(s.ts) == d1 && s.ts.After(last[s.vid].ts) {
			last[s.vid] = s
		}
	}
	for _, d := range slices.Sorted(maps.Keys(active)) {
		exp["active-vehicles"] = append(exp["active-vehicles"], []any{d, int64(len(active[d])), float64(speedSamples[d]) / 60})
	}
	for _, vid := range slices.Sorted(maps.Keys(last)) {
		s := last[vid]
		exp["last-position"] = append(exp["last-position"], []any{vid, s.ts.Format(stamp), s.signals[fleet.SignalLatitude], s.signals[fleet.SignalLongitude]})
	}
	return exp
}

// cell compares a value of DuckDB's answer with the expected one: numbers
// within a rounding error, integers (BIGINT, as strings) and strings
// exactly.
func cell(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		if s, isStr := got.(string); isStr {
			g, _ = strconv.ParseFloat(s, 64)
			ok = true
		}
		return ok && math.Abs(g-w) <= 1e-9*math.Max(1, math.Abs(w))
	case int64:
		switch g := got.(type) {
		case string:
			n, err := strconv.ParseInt(g, 10, 64)
			return err == nil && n == w
		case float64:
			return g == float64(w)
		}
		return false
	default:
		return got == want
	}
}

// Each example query of api/history runs over a simulated fleet's history
// and answers what the samples sent say.
func TestExampleQueriesAnswerTheFleetsFigures(t *testing.T) {
	dir, evs := fleetHistory(t)
	want := expected(evs)
	queries, err := apihistory.Queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) != 10 {
		t.Fatalf("%d example queries, want 10", len(queries))
	}
	for _, q := range queries {
		t.Run(q.Name, func(t *testing.T) {
			res, err := Query(context.Background(), dir, q.SQL, DefaultScanLimit)
			if err != nil {
				t.Fatal(err)
			}
			exp, ok := want[q.Name]
			if !ok || len(exp) == 0 {
				t.Fatalf("no expectation for %s, or an empty one", q.Name)
			}
			if len(res.Rows) != len(exp) {
				t.Fatalf("%d rows, want %d; first %v, want %v", len(res.Rows), len(exp), res.Rows[:min(3, len(res.Rows))], exp[:min(3, len(exp))])
			}
			for i := range exp {
				if len(res.Rows[i]) != len(exp[i]) {
					t.Fatalf("row %d: %v, want %v", i, res.Rows[i], exp[i])
				}
				for j := range exp[i] {
					if !cell(res.Rows[i][j], exp[i][j]) {
						t.Fatalf("row %d column %s: %v (%T), want %v; row %v", i, res.Columns[j], res.Rows[i][j], res.Rows[i][j], exp[i][j], res.Rows[i])
					}
				}
			}
			t.Logf("%s: %d rows, %d bytes scanned", q.Name, len(res.Rows), res.BytesScanned)
		})
	}
}

// Only one read-only SELECT runs, and none that reads more than the limit:
// each refusal says why; a query of files outside the history fails.
func TestQueriesAreReadOnlyAndBounded(t *testing.T) {
	dir, _ := fleetHistory(t)
	for _, sql := range []string{
		"DELETE FROM samples",
		"CREATE TABLE x AS SELECT * FROM samples",
		"COPY samples TO 'out.csv'",
		"SELECT 1; SELECT 2",
		"ATTACH 'other.db'",
	} {
		_, err := Query(context.Background(), dir, sql, DefaultScanLimit)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "read-only SELECT") {
			t.Errorf("%q: %v, want refused as not one read-only SELECT", sql, err)
		}
	}
	if _, err := Query(context.Background(), dir, "SELECT * FROM read_csv('/etc/hostname')", DefaultScanLimit); err == nil || errors.Is(err, ErrRefused) {
		t.Errorf("a read outside the history: %v, want DuckDB's permission error", err)
	}
	all := "SELECT vid, count(*) FROM samples GROUP BY vid"
	res, err := Query(context.Background(), dir, all, DefaultScanLimit)
	if err != nil || res.BytesScanned <= 0 {
		t.Fatalf("%v, %d bytes scanned", err, res.BytesScanned)
	}
	_, err = Query(context.Background(), dir, all, res.BytesScanned-1)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), fmt.Sprintf("read %d bytes, over the limit of %d", res.BytesScanned, res.BytesScanned-1)) {
		t.Errorf("over the limit: %v, want refused with the bytes read and the limit", err)
	}
}
