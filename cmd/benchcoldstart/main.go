// Command benchcoldstart measures the functions' cold starts under the
// Lambda runtime interface emulator against a local DynamoDB, beside a
// hello-world baseline (make bench-coldstart). Binaries are built for this
// machine, the way the functions are built for Lambda otherwise.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/bench/coldstart"
	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/construct/gobuild"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/ops/costmodel"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchcoldstart:", err)
		os.Exit(1)
	}
}

const (
	vid         = "WBY1Z21000V123456"
	cursorValue = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchcoldstart", flag.ContinueOnError)
	starts := fs.Int("starts", 20, "fresh starts of each function")
	warm := fs.Int("warm", 20, "warm invocations after each start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *starts < 1 || *warm < 1 {
		return fmt.Errorf("-starts %d -warm %d: both must be 1 or more", *starts, *warm)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "benchcoldstart")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The binaries: the functions' one bootstrap and the baseline, built
	// with the functions' flags for this machine; the emulator.
	bins := map[string]string{}
	for name, pkg := range map[string]string{"fleetapi": gobuild.Package, "baseline": "lambdas/baseline"} {
		bins[name] = filepath.Join(dir, name, "bootstrap")
		if err := gobuild.BuildHere(".", pkg, bins[name]); err != nil {
			return err
		}
	}
	rie := filepath.Join(dir, "aws-lambda-rie")
	if err := gobuild.BuildEmulator("tools", rie); err != nil {
		return err
	}

	db, err := dynalite.Start(ctx, dynalite.Options{Instant: true})
	if err != nil {
		return err
	}
	defer db.Stop()
	tables := dynamostore.Tables{Vehicles: "vehicles", Events: "vehicleEvents", State: "vehicleState"}
	if err := seed(ctx, db, tables); err != nil {
		return err
	}
	target, _ := url.Parse(db.Endpoint)
	dynamo, err := coldstart.NewCounter("DynamoDB", httputil.NewSingleHostReverseProxy(target))
	if err != nil {
		return err
	}
	defer dynamo.Close()
	secrets, err := coldstart.NewCounter("Secrets Manager", coldstart.Secrets(cursorValue))
	if err != nil {
		return err
	}
	defer secrets.Close()

	spec, err := api.Load()
	if err != nil {
		return err
	}
	common := []string{
		"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1",
		// Dummy credentials: the local endpoints check signatures' shape only.
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_SESSION_TOKEN=local",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_DYNAMODB=" + dynamo.URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + secrets.URL,
	}
	function := func(name string) []string {
		return append(append([]string{}, common...),
			"AWS_LAMBDA_FUNCTION_NAME=FleetApi-bench-"+name,
			contract.EnvRoutes+"="+contract.FormatRoutes(spec.RoutesOf(name)),
			contract.EnvVehiclesTable+"="+tables.Vehicles, contract.EnvEventsTable+"="+tables.Events, contract.EnvStateTable+"="+tables.State,
			contract.EnvEventRetentionDays+"=30", contract.EnvCursorKeySecret+"=arn:aws:secretsmanager:eu-west-1:111122223333:secret:cursor-key",
			contract.EnvVehicleRole+"="+vehicleRole,
			contract.EnvPrincipals+"="+contract.FormatPrincipals(map[string][]string{readerRole: spec.IDs()}))
	}
	chosen, err := benchedOperations(spec)
	if err != nil {
		return err
	}
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	uploads := 0
	// The baseline answers any request; it is sent a read.
	read := chosen[slices.IndexFunc(chosen, func(b benched) bool { return !b.Upload })]
	targets := []coldstart.Target{
		{Name: "baseline (hello world + DynamoDB client)", Bootstrap: bins["baseline"], Env: append(common, "AWS_LAMBDA_FUNCTION_NAME=baseline"),
			Event: func(int) []byte { return proxyEvent(read, "") }, WantStatus: 200,
			Probe: proxyEvent(read, ""), ProbeStatus: 200},
	}
	for _, op := range chosen {
		body := func() string { return "" }
		if op.Upload {
			body = func() string {
				// A new upload each time, after the last.
				uploads++
				drive := workload.NewDrive(uint64(uploads), base.Add(time.Duration(uploads)*workload.SamplesPerUpload*time.Second))
				b, _ := json.Marshal(drive.Upload(workload.SamplesPerUpload))
				return string(b)
			}
		}
		name := op.Function + ": " + op.ID
		if op.Paginated {
			name += " (a page with a next cursor)"
		}
		targets = append(targets, coldstart.Target{Name: name, Bootstrap: bins["fleetapi"], Env: function(op.Function), WantStatus: op.status,
			// Refused before any call (unsigned): what the function sees
			// during init is all a counting start sees.
			Probe: proxyEventFor("-", "", op.Operation, ""), ProbeStatus: 403,
			Event: func(int) []byte { return proxyEvent(op, body()) }})
	}
	runner := &coldstart.Runner{Emulator: rie, Endpoints: []*coldstart.Counter{dynamo, secrets}, Timeout: 10}
	calls := make([]map[string]int, len(targets))
	for i, t := range targets {
		if calls[i], err = runner.InitCalls(ctx, t); err != nil {
			return err
		}
	}
	results := make([][]coldstart.Start, len(targets))
	// Interleaved, so that a change in the machine's load falls on all.
	for range *starts {
		for i, t := range targets {
			s, err := runner.Run(ctx, t, *warm)
			if err != nil {
				return err
			}
			results[i] = append(results[i], s)
		}
	}
	return report(stdout, targets, results, calls, bins, *starts, *warm)
}

func report(w io.Writer, targets []coldstart.Target, results [][]coldstart.Start, calls []map[string]int, bins map[string]string, starts, warm int) error {
	baseline := 0.0
	fmt.Fprintf(w, "%d fresh starts of each, %d warm invocations after each; times in ms (median / p99); calls during init counted on one more start whose first request makes none\n\n", starts, warm)
	fmt.Fprintln(w, "| function | init | init ÷ baseline | first invoke | warm invoke | max RSS MiB | calls during init |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | --- |")
	for i, t := range targets {
		var inits, firsts, warms, rss []float64
		for _, s := range results[i] {
			inits = append(inits, s.InitMs)
			firsts = append(firsts, ms(s.First))
			for _, d := range s.Warm {
				warms = append(warms, ms(d))
			}
			rss = append(rss, float64(s.MaxRSSKiB)/1024)
		}
		init := coldstart.Summarize(inits)
		if i == 0 {
			baseline = init.Median
		}
		var callText []string
		for _, name := range []string{"DynamoDB", "Secrets Manager"} {
			callText = append(callText, fmt.Sprintf("%s %d", name, calls[i][name]))
		}
		fmt.Fprintf(w, "| %s | %s | %.2f | %s | %s | %.1f | %s |\n", t.Name, pair(init), init.Median/baseline,
			pair(coldstart.Summarize(firsts)), pair(coldstart.Summarize(warms)), coldstart.Summarize(rss).Median, strings.Join(callText, ", "))
	}
	fmt.Fprintln(w)
	for _, name := range []string{"fleetapi", "baseline"} {
		st, err := os.Stat(bins[name])
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s bootstrap (this machine's architecture): %d bytes\n", name, st.Size())
	}
	return nil
}

func pair(s coldstart.Summary) string { return fmt.Sprintf("%.2f / %.2f", s.Median, s.P99) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The callers of the benchmark: the vehicle itself for what a vehicle may
// call, a reader granted every operation for the rest.
const (
	vehicleRole = "arn:aws:iam::111122223333:role/vehicles"
	readerRole  = "arn:aws:iam::111122223333:role/reader"
)

// benched is an operation a target calls, with the status it answers.
type benched struct {
	api.Operation
	// Upload marks an operation whose body is an upload of samples (the
	// workload's); no other body is known to the benchmark.
	Upload bool
	status int
}

// benchedOperations chooses, for each function of the spec, the operation
// it serves most at the default workload (the cost model's request mix):
// the cold start most of its callers meet.
func benchedOperations(spec *api.Spec) ([]benched, error) {
	usage := costmodel.DefaultUsage()
	var out []benched
	for _, fn := range spec.Functions() {
		var best benched
		most := -1.0
		for _, op := range spec.OperationsOf(fn) {
			n, err := costmodel.RequestsPerMonth(usage, op.ID, 1000)
			if err != nil {
				return nil, err
			}
			if n > most {
				best, most = benched{Operation: op}, n
			}
		}
		path := spec.Doc.Paths.Find(best.Path)
		for _, p := range path.Parameters {
			if p.Value != nil && p.Value.In == "path" && p.Value.Name != api.VehicleParam {
				return nil, fmt.Errorf("%s: the benchmark knows only the path parameter %s, not %s", best.ID, api.VehicleParam, p.Value.Name)
			}
		}
		best.status = 200
		if body := path.GetOperation(best.Method).RequestBody; body != nil {
			if ref := body.Value.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/Upload" {
				return nil, fmt.Errorf("%s: the benchmark knows no request body of %s, only uploads", best.ID, ref)
			}
			best.Upload, best.status = true, 201
		}
		out = append(out, best)
	}
	return out, nil
}

func proxyEvent(op benched, body string) []byte {
	caller := "arn:aws:sts::111122223333:assumed-role/reader/bench"
	if slices.Contains(op.Callers, contract.CallerVehicle) {
		caller = "arn:aws:sts::111122223333:assumed-role/vehicles/" + vid
	}
	return proxyEventFor(vid, caller, op.Operation, body)
}

func proxyEventFor(vid, caller string, op api.Operation, body string) []byte {
	path := strings.ReplaceAll(op.Path, "{"+api.VehicleParam+"}", vid)
	ev, _ := json.Marshal(events.APIGatewayProxyRequest{
		HTTPMethod: op.Method, Resource: op.Path, Path: path, Body: body,
		PathParameters: map[string]string{api.VehicleParam: vid}, Headers: map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{OperationName: op.ID, RequestID: "bench",
			Identity: events.APIGatewayRequestIdentity{UserArn: caller}},
	})
	return ev
}

// seed creates the tables, the vehicle, and more events than a page holds.
func seed(ctx context.Context, db *dynalite.Server, tables dynamostore.Tables) error {
	client := db.Client()
	if err := dynalite.CreateTables(ctx, client, dynalite.Tables(tables)); err != nil {
		return err
	}
	store, err := dynamostore.New(client, tables, []byte(cursorValue))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if _, err := store.CreateVehicle(ctx, fleet.NewVehicle{VID: vid, VehicleFields: fleet.VehicleFields{Make: "BMW", Model: "i3", Year: 2017}}, now); err != nil {
		return err
	}
	drive := workload.NewDrive(42, now.Add(-2*time.Hour))
	for range 30 {
		e, err := fleet.NewEvent(vid, drive.Upload(workload.SamplesPerUpload), "", now, 30*24*time.Hour)
		if err != nil {
			return err
		}
		if _, err := store.PutEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
