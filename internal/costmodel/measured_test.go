package costmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/dynalite"
	"github.com/fleetapi/fleetapi/internal/dynamostore"
	"github.com/fleetapi/fleetapi/internal/fleet"
	"github.com/fleetapi/fleetapi/internal/httpapi"
	"github.com/fleetapi/fleetapi/internal/schema"
	"github.com/fleetapi/fleetapi/internal/workload"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

// The cost model's figures per upload are what the store really writes:
// the talk's uploads stored through the store in dynalite, their items read
// back raw and sized by DynamoDB's rules, and the write units dynalite
// charges for them equal to the units the rules give for that size.
func TestMeasuredFiguresAreCurrent(t *testing.T) {
	ctx := context.Background()
	store, tables := newStore(t)
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	var bytes, units float64
	const uploads = 40
	for i := range uploads {
		vid := "WBY1Z21000V12345" + string(rune('0'+i%10))
		if i < 10 {
			if _, err := store.CreateVehicle(ctx, fleet.NewVehicle{VID: vid, VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017}}, now); err != nil {
				t.Fatal(err)
			}
		}
		drive := workload.NewDrive(uint64(i)+1, now.Add(-workload.DrivingPerDay))
		e, err := fleet.NewEvent(vid, drive.Upload(workload.SamplesPerUpload), "", now, 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.PutEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tables.Events), Key: map[string]types.AttributeValue{
			schema.VehicleID: &types.AttributeValueMemberS{Value: vid}, schema.EventID: &types.AttributeValueMemberS{Value: e.EID}}})
		if err != nil || out.Item == nil {
			t.Fatalf("read back %s: %v", e.EID, err)
		}
		size := ItemSize(out.Item)
		if want := float64(WriteUnits(size)); res.WriteUnits != want {
			t.Errorf("an item of %d bytes was charged %.0f write units; DynamoDB's rule gives %.0f", size, res.WriteUnits, want)
		}
		bytes += float64(size)
		units += res.WriteUnits
	}
	t.Logf("per upload of %d samples: item %.0f bytes, %.2f write units (mean of %d)", workload.SamplesPerUpload, bytes/uploads, units/uploads, uploads)
	near(t, "EventItemBytes", bytes/uploads, EventItemBytes)
	near(t, "WriteUnitsPerUpload", units/uploads, WriteUnitsPerUpload)
}

// newStore is a store on tables of their own in dynalite.
func newStore(t *testing.T) (*dynamostore.Store, dynalite.Tables) {
	t.Helper()
	tables := dynalite.NewTables(t, db)
	store, err := dynamostore.New(db, dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events}, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return store, tables
}

// near fails when a measured figure drifted from its constant.
func near(t *testing.T, name string, measured, constant float64) {
	t.Helper()
	if math.Abs(measured-constant) > MeasuredTolerance*math.Max(measured, constant) {
		t.Errorf("%s is %g, measured %.2f: update internal/costmodel/measured.go", name, constant, measured)
	}
}

// The ingest function's log bytes for a stored upload: the handler the
// function runs, logging as in Lambda (JSON lines on standard output), fed
// the API Gateway proxy event of the talk's upload.
func TestMeasuredLogBytes(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	store, _ := newStore(t)
	var logs countingWriter
	now := time.Now().UTC()
	h, err := httpapi.New(httpapi.Config{Routes: spec.RoutesOf("ingest"), Vehicles: store, Events: store, EventRetention: 365 * 24 * time.Hour,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return now },
		// A name as CloudFormation makes them: stack, logical ID, suffix.
		FunctionName: "FleetApi-prod-IngestFunction4C8D5E1B-Xy3kP9qRt2Lm"})
	if err != nil {
		t.Fatal(err)
	}
	const vid = "WBY1Z21000V123456"
	if _, err := store.CreateVehicle(context.Background(), fleet.NewVehicle{VID: vid, VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017}}, now); err != nil {
		t.Fatal(err)
	}
	const uploads = 20
	drive := workload.NewDrive(7, now.Add(-workload.DrivingPerDay))
	for i := range uploads {
		body, err := json.Marshal(drive.Upload(workload.SamplesPerUpload))
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Handle(context.Background(), events.APIGatewayProxyRequest{
			HTTPMethod: "POST", Resource: "/vehicles/{vid}/events", Path: "/vehicles/" + vid + "/events",
			PathParameters: map[string]string{"vid": vid}, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body),
			RequestContext: events.APIGatewayProxyRequestContext{OperationName: "createEvent", RequestID: fmt.Sprintf("c0a8e1f2-3b4d-4e5f-8a9b-%012d", i)},
		})
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("upload %d: %v %d %s", i, err, res.StatusCode, res.Body)
		}
	}
	perUpload := float64(logs.n) / uploads
	t.Logf("ingest function log per stored upload: %.0f bytes in %.1f lines", perUpload, float64(logs.lines)/uploads)
	near(t, "FunctionLogBytesPerUpload", perUpload, FunctionLogBytesPerUpload)
}

type countingWriter struct{ n, lines int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.lines += strings.Count(string(p), "\n")
	return len(p), nil
}
