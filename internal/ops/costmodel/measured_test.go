package costmodel

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localstream"
	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/history"
	"github.com/fleetapi/fleetapi/internal/runtime/httpapi"
	"github.com/fleetapi/fleetapi/internal/runtime/lambdalog"
	"github.com/fleetapi/fleetapi/internal/runtime/synthetic"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

// The cost model's item sizes are what the store really writes: the
// talk's uploads of 10, 60 and 100 samples stored through the store in
// dynalite, their items read back raw and sized by DynamoDB's rules, the
// write units dynalite charges for each equal to the units the rules give
// for its size, and the sizes on the line EventItemBytes draws. A vehicle
// with two metadata entries sized alike.
func TestMeasuredFiguresAreCurrent(t *testing.T) {
	ctx := context.Background()
	store, tables := newStore(t)
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	const vehicles, uploads = 10, 20
	for i := range vehicles {
		if _, err := store.CreateVehicle(ctx, fleet.NewVehicle{VID: vidOf(i), VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017,
			Metadata: map[string]string{"fleet number": "M-1024", "depot": "Munich North"}}}, now); err != nil {
			t.Fatal(err)
		}
	}
	vehicle, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tables.Vehicles), Key: map[string]types.AttributeValue{
		schema.VehicleID: &types.AttributeValueMemberS{Value: vidOf(0)}}})
	if err != nil || vehicle.Item == nil {
		t.Fatalf("read back vehicle: %v", err)
	}
	t.Logf("vehicle item: %d bytes", ItemSize(vehicle.Item))
	near(t, "VehicleItemBytes", float64(ItemSize(vehicle.Item)), VehicleItemBytes)

	for _, samples := range []int{10, 60, fleet.MaxSamplesPerEvent} {
		var bytes float64
		for i := range uploads {
			drive := workload.NewDrive(uint64(samples*100+i), now.Add(-workload.DrivingPerDay))
			e, err := fleet.NewEvent(vidOf(i%vehicles), drive.Upload(samples), "", now, 365*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			res, err := store.PutEvent(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tables.Events), Key: map[string]types.AttributeValue{
				schema.VehicleID: &types.AttributeValueMemberS{Value: e.VID}, schema.EventID: &types.AttributeValueMemberS{Value: e.EID}}})
			if err != nil || out.Item == nil {
				t.Fatalf("read back %s: %v", e.EID, err)
			}
			size := ItemSize(out.Item)
			if want := float64(WriteUnits(size)); res.WriteUnits != want {
				t.Errorf("an item of %d bytes was charged %.0f write units; DynamoDB's rule gives %.0f", size, res.WriteUnits, want)
			}
			bytes += float64(size)
		}
		t.Logf("upload of %d samples: item %.0f bytes (mean of %d)", samples, bytes/uploads, uploads)
		near(t, fmt.Sprintf("EventItemBytes(%d)", samples), bytes/uploads, EventItemBytes(samples))
	}
}

func vidOf(i int) string { return fmt.Sprintf("WBY1Z21000V12%04d", i) }

// newStore is a store on tables of their own in dynalite.
func newStore(t *testing.T) (*dynamostore.Store, dynalite.Tables) {
	t.Helper()
	tables := dynalite.NewTables(t, db)
	store, err := dynamostore.New(db, dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return store, tables
}

// near fails when a measured figure drifted from its constant.
func near(t *testing.T, name string, measured, constant float64) {
	t.Helper()
	nearWithin(t, name, measured, constant, MeasuredTolerance)
}

func nearWithin(t *testing.T, name string, measured, constant, tolerance float64) {
	t.Helper()
	if math.Abs(measured-constant) > tolerance*math.Max(measured, constant) {
		t.Errorf("%s is %g, measured %.2f: update internal/ops/costmodel/measured.go", name, constant, measured)
	}
}

// What a request costs beyond its DynamoDB units: the function's log bytes
// per request, the response bytes sent back (gzip-compressed, as API
// Gateway sends a body above the API's minimum compression size to a client
// that accepts it), and how much the log lines compress. The handlers the
// functions run serve, logging as in Lambda (JSON lines on standard output),
// one vehicle's day of the talk's uploads, a vehicle read, a fleet listing
// and the day read back in pages of the largest limit.
func TestMeasuredRequests(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	store, _ := newStore(t)
	var logs countingWriter
	now := time.Now().UTC().Truncate(time.Second)
	var routes []contract.Route
	for _, fn := range []string{"ingest", "vehicles", "events"} {
		routes = append(routes, spec.RoutesOf(fn)...)
	}
	// Callers as deployed: the vehicle uploads and reads its record, a
	// fleet reader and an admin the rest.
	callers, err := authz.New("arn:aws:iam::111122223333:role/vehicles", map[string][]string{"arn:aws:iam::111122223333:role/fleet": spec.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	// A name as CloudFormation makes them: stack, logical ID, suffix.
	const functionName = "FleetApi-prod-FleetIngestFunction1206F197-Xy3kP9qRt2Lm"
	h, err := httpapi.New(httpapi.Config{Routes: routes, Callers: callers, Vehicles: store, Events: store, States: store, EventRetention: 365 * 24 * time.Hour,
		// The functions' logger, as Lambda runs them.
		Logger: lambdalog.New(&logs, functionName), Now: func() time.Time { return now },
		FunctionName: functionName})
	if err != nil {
		t.Fatal(err)
	}
	const vid = "WBY1Z21000V123456"
	n := 0
	call := func(op, method, resource, path string, query map[string]string, body string, want int) events.APIGatewayProxyResponse {
		t.Helper()
		n++
		caller := "arn:aws:sts::111122223333:assumed-role/fleet/backend"
		if slices.Contains(spec.CallersOf(op), contract.CallerVehicle) {
			caller = "arn:aws:sts::111122223333:assumed-role/vehicles/" + vid
		}
		res, err := h.Handle(context.Background(), events.APIGatewayProxyRequest{
			HTTPMethod: method, Resource: resource, Path: path, QueryStringParameters: query,
			PathParameters: map[string]string{"vid": vid}, Headers: map[string]string{"Content-Type": "application/json"}, Body: body,
			RequestContext: events.APIGatewayProxyRequestContext{OperationName: op, RequestID: fmt.Sprintf("c0a8e1f2-3b4d-4e5f-8a9b-%012d", n),
				Identity: events.APIGatewayRequestIdentity{UserArn: caller}},
		})
		if err != nil || res.StatusCode != want {
			t.Fatalf("%s: %v %d %s", op, err, res.StatusCode, res.Body)
		}
		return res
	}
	measure := func(f func() int) (logBytes, resBytes float64) {
		t.Helper()
		before := logs.n
		const times = 5
		total := 0
		for range times {
			total += f()
		}
		return float64(logs.n-before) / times, float64(total) / times
	}

	vehicle := `{"vid":"` + vid + `","make":"BMW","model":"i3","year":2017,"metadata":{"fleet number":"M-1024","depot":"Munich North"}}`
	call("createVehicle", "POST", "/vehicles", "/vehicles", nil, vehicle, 201)
	getLog, getRes := measure(func() int {
		return len(call("getVehicle", "GET", "/vehicles/{vid}", "/vehicles/"+vid, nil, "", 200).Body)
	})
	uploads := int(DefaultUsage().UploadsPerDay())
	drive := workload.NewDrive(7, now.Add(-workload.DrivingPerDay))
	var logs0, res0 int
	before := logs.n
	for range uploads {
		body, err := json.Marshal(drive.Upload(workload.SamplesPerUpload))
		if err != nil {
			t.Fatal(err)
		}
		res0 += len(call("createEvent", "POST", "/vehicles/{vid}/events", "/vehicles/"+vid+"/events", nil, string(body), 201).Body)
	}
	logs0 = logs.n - before
	uploadLog, uploadRes := float64(logs0)/float64(uploads), float64(res0)/float64(uploads)
	// The same day's uploads over MQTT, compressed as the agent publishes
	// them, as the upload rule invokes the function.
	mqttVID := "WBY1Z21000V654321"
	call("createVehicle", "POST", "/vehicles", "/vehicles", nil, strings.ReplaceAll(vehicle, vid, mqttVID), 201)
	drive = workload.NewDrive(8, now.Add(-workload.DrivingPerDay))
	before = logs.n
	for range uploads {
		body, err := json.Marshal(drive.Upload(workload.SamplesPerUpload))
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := json.Marshal(contract.RuleEvent{Source: contract.RuleEventSource, Topic: contract.UploadTopic(mqttVID), VID: mqttVID, ClientID: mqttVID,
			Payload: base64.StdEncoding.EncodeToString(contract.GzipUpload(body)), ReceivedAt: now.UnixMilli()})
		if _, err := h.Invoke(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	mqttLog := float64(logs.n-before) / float64(uploads)
	listLog, listRes := measure(func() int {
		return len(call("listVehicles", "GET", "/vehicles", "/vehicles", map[string]string{"limit": "100"}, "", 200).Body)
	})
	// The day read back: pages of the largest limit, as gzip sends them.
	var pages, pageBytes int
	before = logs.n
	cursor := ""
	for {
		q := map[string]string{"limit": strconv.Itoa(fleet.MaxLimit)}
		if cursor != "" {
			q["cursor"] = cursor
		}
		res := call("listEvents", "GET", "/vehicles/{vid}/events", "/vehicles/"+vid+"/events", q, "", 200)
		var page struct {
			Events     []json.RawMessage `json:"events"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal([]byte(res.Body), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Events) == fleet.MaxLimit {
			pages++
			pageBytes += gzipSize(t, []byte(res.Body))
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	pageLog := float64(logs.n-before) / float64(pages+1)
	if pages == 0 {
		t.Fatalf("no full page of %d events in %d uploads", fleet.MaxLimit, uploads)
	}
	compressed := float64(gzipSize(t, logs.all.Bytes())) / float64(logs.all.Len())

	t.Logf("function log bytes per request: createEvent %.0f (over MQTT %.0f), getVehicle %.0f, listVehicles %.0f, listEvents %.0f", uploadLog, mqttLog, getLog, listLog, pageLog)
	t.Logf("response bytes: createEvent %.0f, getVehicle %.0f, listVehicles (1 vehicle) %.0f, listEvents page of %d gzip %.0f", uploadRes, getRes, listRes, fleet.MaxLimit, float64(pageBytes)/float64(pages))
	t.Logf("log lines gzip to %.1f %% of their size", 100*compressed)
	near(t, "operations[createEvent].logBytes", uploadLog, operations["createEvent"].logBytes)
	near(t, "MqttUploadLogBytes", mqttLog, MqttUploadLogBytes)
	near(t, "operations[getVehicle].logBytes", getLog, operations["getVehicle"].logBytes)
	near(t, "operations[listVehicles].logBytes", listLog, operations["listVehicles"].logBytes)
	near(t, "operations[listEvents].logBytes", pageLog, operations["listEvents"].logBytes)
	near(t, "UploadResponseBytes", uploadRes, UploadResponseBytes)
	near(t, "VehicleResponseBytes", getRes, VehicleResponseBytes)
	near(t, "EventsPageGzipBytes", float64(pageBytes)/float64(pages), EventsPageGzipBytes)
	// The lines hold timings, whose digits vary with the machine's load
	// and so how well they compress: a looser bound.
	nearWithin(t, "LogCompressedFraction", compressed, LogCompressedFraction, 0.2)
}

func gzipSize(t *testing.T, b []byte) int {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

type countingWriter struct {
	n   int
	all bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.all.Write(p)
	return len(p), nil
}

// The state's figures are what the code writes and answers: the talk's
// vehicle's day of uploads stored through a store whose event puts reach
// a stream (the stream records as Lambda hands them, in JSON), applied by
// the tracker's code; its state item sized by DynamoDB's rules, read
// through the handler (getVehicleState), and a full page of the fleet's
// states (listFleetState, the largest limit) as gzip sends it.
func TestMeasuredState(t *testing.T) {
	ctx := context.Background()
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	tables := dynalite.NewTables(t, db)
	var records []events.DynamoDBEventRecord
	stream := localstream.New(func(_ context.Context, p json.RawMessage) (any, error) {
		var ev events.DynamoDBEvent
		err := json.Unmarshal(p, &ev)
		records = append(records, ev.Records...)
		return nil, err
	}, localstream.Options{Window: time.Hour, BatchSize: 10000})
	defer stream.Close()
	store, err := dynamostore.New(stream.Table(db, tables.Events), dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	const vid = "WBY1Z21000V123456"
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := store.CreateVehicle(ctx, fleet.NewVehicle{VID: vid, VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017}}, now); err != nil {
		t.Fatal(err)
	}
	drive := workload.NewDrive(7, now.Add(-workload.DrivingPerDay))
	var uploaded []fleet.Event
	for range int(DefaultUsage().UploadsPerDay()) {
		e, err := fleet.NewEvent(vid, drive.Upload(workload.SamplesPerUpload), "", now, 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.PutEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		uploaded = append(uploaded, e)
	}
	stream.Flush()
	recordBytes := 0
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		recordBytes += len(b)
	}
	if len(records) != len(uploaded) {
		t.Fatalf("%d stream records of %d uploads", len(records), len(uploaded))
	}
	// Connected over MQTT: the state's largest form.
	_, err = store.UpdateState(ctx, dynamostore.StateUpdate{VID: vid, Apply: func(st *fleet.VehicleState) bool {
		for _, e := range uploaded {
			st.ApplyEvent(e)
		}
		st.ApplyLifecycle(fleet.LifecycleEvent{ClientID: vid, Connectivity: fleet.Connectivity{Connected: true, Since: now, Session: "a4666d2a7d844ae4ac5d7b38c9cb7967", Version: 12}})
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	key := map[string]types.AttributeValue{schema.VehicleID: &types.AttributeValueMemberS{Value: vid}}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tables.State), Key: key})
	if err != nil || out.Item == nil {
		t.Fatalf("read back the state: %v", err)
	}
	itemBytes := ItemSize(out.Item)
	// The fleet: a thousand vehicles, each the state of a drive of its own.
	for i := range fleet.MaxStateLimit - 1 {
		other := fmt.Sprintf("WBY1Z21000V%06d", i)
		e, err := fleet.NewEvent(other, workload.NewDrive(uint64(1000+i), now.Add(-time.Hour)).Upload(workload.SamplesPerUpload), "", now, 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.UpdateState(ctx, dynamostore.StateUpdate{VID: other, Apply: func(st *fleet.VehicleState) bool {
			st.ApplyLifecycle(fleet.LifecycleEvent{ClientID: other, Connectivity: fleet.Connectivity{Connected: true, Since: now.Add(-time.Duration(i) * time.Second), Session: fmt.Sprintf("%032x", i), Version: 3}})
			return st.ApplyEvent(e)
		}}); err != nil {
			t.Fatal(err)
		}
	}
	callers, err := authz.New("arn:aws:iam::111122223333:role/vehicles", map[string][]string{"arn:aws:iam::111122223333:role/fleet": spec.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	var logs countingWriter
	h, err := httpapi.New(httpapi.Config{Routes: spec.RoutesOf("vehicles"), Callers: callers, Vehicles: store, States: store, EventRetention: 365 * 24 * time.Hour,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), FunctionName: "FleetApi-prod-VehiclesFunctionBF4866FB-Xy3kP9qRt2Lm"})
	if err != nil {
		t.Fatal(err)
	}
	call := func(op, resource, path string, query map[string]string) (events.APIGatewayProxyResponse, int) {
		t.Helper()
		before := logs.n
		res, err := h.Handle(ctx, events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: resource, Path: path, QueryStringParameters: query,
			PathParameters: map[string]string{"vid": vid},
			RequestContext: events.APIGatewayProxyRequestContext{OperationName: op, RequestID: "c0a8e1f2-3b4d-4e5f-8a9b-000000000001",
				Identity: events.APIGatewayRequestIdentity{UserArn: "arn:aws:sts::111122223333:assumed-role/fleet/backend"}}})
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %d %s", op, err, res.StatusCode, res.Body)
		}
		return res, logs.n - before
	}
	one, oneLog := call("getVehicleState", "/vehicles/{vid}/state", "/vehicles/"+vid+"/state", nil)
	page, pageLog := call("listFleetState", "/fleet/state", "/fleet/state", map[string]string{"limit": strconv.Itoa(fleet.MaxStateLimit)})
	var listed struct {
		States []json.RawMessage `json:"states"`
	}
	if err := json.Unmarshal([]byte(page.Body), &listed); err != nil || len(listed.States) != fleet.MaxStateLimit {
		t.Fatalf("a page of %d states (%v), want %d", len(listed.States), err, fleet.MaxStateLimit)
	}
	pageGzip := gzipSize(t, []byte(page.Body))
	t.Logf("stream record %.0f bytes; state item %d bytes (%d write unit); getVehicleState %d bytes, log %d; listFleetState page of %d: %d bytes, gzip %d, log %d",
		float64(recordBytes)/float64(len(records)), itemBytes, WriteUnits(itemBytes), len(one.Body), oneLog, fleet.MaxStateLimit, len(page.Body), pageGzip, pageLog)
	near(t, "StreamRecordBytes", float64(recordBytes)/float64(len(records)), StreamRecordBytes)
	near(t, "StateItemBytes", float64(itemBytes), StateItemBytes)
	near(t, "StateResponseBytes", float64(len(one.Body)), StateResponseBytes)
	near(t, "StatePageGzipBytes", float64(pageGzip), StatePageGzipBytes)
	near(t, "operations[getVehicleState].logBytes", float64(oneLog), operations["getVehicleState"].logBytes)
	near(t, "operations[listFleetState].logBytes", float64(pageLog), operations["listFleetState"].logBytes)
}

// The history's bytes a sample: a 5-minute batch of the talk's workload
// (60 vehicles, 30 uploads of 10 samples each) written by the history
// writer's encoding, its partitions' objects summed.
func TestMeasuredHistory(t *testing.T) {
	start := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	var evs []fleet.Event
	for v := range 60 {
		d := workload.NewDrive(uint64(v+1), start)
		for u := range 30 {
			e, err := fleet.NewEvent(fmt.Sprintf("car-%05d", v), d.Upload(workload.SamplesPerUpload), "", start.Add(time.Duration(u*10+12)*time.Second), 30*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, e)
		}
	}
	total, rows := 0, 0
	for _, rs := range history.Partitioned(evs) {
		b, err := history.Encode(rs)
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
		rows += len(rs)
	}
	samples := 60 * 30 * workload.SamplesPerUpload
	if rows != samples*historyRowsPerSample {
		t.Errorf("%d rows for %d samples, want %d a sample", rows, samples, historyRowsPerSample)
	}
	near(t, "HistoryBytesPerSample", float64(total)/float64(samples), HistoryBytesPerSample)
	t.Logf("%d samples: %d bytes of Parquet, %.1f a sample", samples, total, float64(total)/float64(samples))
}

// A synthetic vehicle's run logs a line a step, as its function writes
// them: the functions' logger, a successful run's latencies as make local
// measured them (docs/operating.md).
func TestMeasuredSyntheticLogLines(t *testing.T) {
	var logs countingWriter
	const vid = contract.SyntheticVIDPrefix + "FleetApi-prod-Fleet"
	logger := lambdalog.New(&logs, "FleetApi-prod-FleetSyntheticVehicleFunction5B7C9D1E-Xy3kP9qRt2Lm")
	var report synthetic.Report
	for i, step := range metrics.SyntheticSteps() {
		report = append(report, synthetic.Result{Step: step, OK: true, Latency: time.Duration(i*23+2) * time.Millisecond})
	}
	synthetic.Log(logger, vid, time.Now(), report)
	perLine := float64(logs.n) / float64(len(report))
	t.Logf("synthetic vehicle: %.0f bytes a line", perLine)
	near(t, "SyntheticLogLineBytes", perLine, SyntheticLogLineBytes)
}
