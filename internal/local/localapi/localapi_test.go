package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/accesslog"
	"github.com/fleetapi/fleetapi/internal/testutil/logbuf"
	"github.com/fleetapi/fleetapi/internal/testutil/specresponse"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

// client drives the local API over HTTP as a deployed stage's client
// would: every request signed with SigV4 (the fleet admin's keys unless
// said otherwise), every answer checked against the spec.
type client struct {
	t     *testing.T
	base  string
	spec  *specresponse.Checker
	logs  *logbuf.Buffer
	local *TestServer
	creds aws.Credentials
}

func newClient(t *testing.T) *client {
	t.Helper()
	logs := &logbuf.Buffer{}
	local := NewTestServerOn(t, db, Config{EventRetention: 30 * 24 * time.Hour, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	spec, err := specresponse.New(local.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: local.URL, spec: spec, logs: logs, local: local, creds: localauth.AdminKeys}
}

// as returns the client signing with other credentials.
func (c *client) as(creds aws.Credentials) *client {
	d := *c
	d.creds = creds
	return &d
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (c *client) do(method, path, body string, sign bool, mutate func(*http.Request)) answer {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if sign {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), c.creds, req, hex.EncodeToString(sum[:]), "execute-api", localauth.Region, time.Now()); err != nil {
			c.t.Fatal(err)
		}
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		c.t.Fatalf("%s %s: %d, body not JSON: %q", method, path, resp.StatusCode, raw)
	}
	if resp.Header.Get("x-amzn-RequestId") == "" {
		c.t.Errorf("%s %s: no x-amzn-RequestId", method, path)
	}
	c.checkSpec(req, resp.StatusCode, resp.Header, raw)
	return a
}

// checkSpec validates an answer against the spec's response for its
// operation and status (an unknown route is the gateway's).
func (c *client) checkSpec(req *http.Request, status int, header http.Header, body []byte) {
	c.t.Helper()
	if _, err := c.spec.Check(req, status, header, body); err != nil {
		c.t.Errorf("%s %s → %d does not match the spec: %v\n%s", req.Method, req.URL.Path, status, err, body)
	}
}

func wantCode(t *testing.T, a answer, status int, code string) {
	t.Helper()
	got, _ := a.body["error"].(map[string]any)["code"].(string)
	if a.status != status || got != code {
		t.Errorf("got %d %v, want %d %s", a.status, a.body, status, code)
	}
}

// TestLocalAPIOverHTTP drives every operation over HTTP, signed, and the
// gateway's refusals: unsigned, badly signed, a body the schema refuses,
// an unknown path.
func TestLocalAPIOverHTTP(t *testing.T) {
	c := newClient(t)
	car := `{"vid":"car-1","make":"BMW","model":"i3","year":2017}`
	wantCode(t, c.do("POST", "/vehicles", car, false, nil), 403, "Forbidden")
	wantCode(t, c.do("POST", "/vehicles", car, true, func(r *http.Request) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Signature=", "Signature=00", 1))
	}), 403, "Forbidden")
	wantCode(t, c.do("POST", "/vehicles", car, true, func(r *http.Request) { r.Header.Set("X-Amz-Date", "20200101T000000Z") }), 403, "Forbidden")
	wantCode(t, c.do("POST", "/vehicles", `{"vid":"car-1","make":"BMW"}`, true, nil), 400, "BadRequest")
	wantCode(t, c.do("GET", "/nowhere", "", true, nil), 403, "Forbidden")

	if a := c.do("POST", "/vehicles", car, true, nil); a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	if a := c.do("GET", "/vehicles/car-1", "", true, nil); a.status != 200 || a.header.Get("ETag") != `"1"` {
		t.Errorf("get: %d %v", a.status, a.body)
	}
	if a := c.do("PUT", "/vehicles/car-1", `{"make":"BMW","model":"i3s","year":2018}`, true, nil); a.status != 200 || a.body["version"] != 2.0 {
		t.Errorf("update: %d %v", a.status, a.body)
	}
	if a := c.do("GET", "/vehicles?limit=5", "", true, nil); a.status != 200 || len(a.body["vehicles"].([]any)) != 1 {
		t.Errorf("list: %d %v", a.status, a.body)
	}
	vehicle := c.as(c.vehicle("car-1"))
	eid := vehicle.upload(t, "car-1", 1)
	reader := c.as(localauth.ReaderKeys)
	if a := reader.do("GET", "/vehicles/car-1/events?order=desc", "", true, nil); a.status != 200 || len(a.body["events"].([]any)) != 1 {
		t.Errorf("list events: %d %v", a.status, a.body)
	}
	if a := vehicle.do("GET", "/vehicles/car-1/events/"+eid, "", true, nil); a.status != 200 || len(a.body["samples"].([]any)) != 10 {
		t.Errorf("get event: %d %v", a.status, a.body)
	}
	// The API reference beside it.
	if resp, err := http.Get(c.base + "/docs/swagger.yaml"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/docs/swagger.yaml: %v %v", resp, err)
	}
	// A function refusal comes through as the function answers it.
	wantCode(t, reader.do("GET", "/vehicles/car-1/events?limit=0", "", true, nil), 400, "BadRequest")
	// One JSON access log line per request, like the stage's.
	if n := strings.Count(c.logs.String(), `"msg":"access"`); n != 13 {
		t.Errorf("%d access log lines for 13 requests", n)
	}
	// Each with the stage's fields (package accesslog, the format the
	// construct deploys), every value a string as API Gateway writes it.
	refused := 0
	for line := range strings.Lines(c.logs.String()) {
		var entry struct {
			Msg string         `json:"msg"`
			Log map[string]any `json:"log"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Msg != "access" {
			continue
		}
		if len(entry.Log) != len(accesslog.Fields) {
			t.Errorf("access line of %d fields, the stage's has %d: %v", len(entry.Log), len(accesslog.Fields), entry.Log)
		}
		for _, f := range accesslog.Fields {
			if _, ok := entry.Log[f.Name].(string); !ok {
				t.Errorf("access line field %s = %v, want a string", f.Name, entry.Log[f.Name])
			}
		}
		if entry.Log["status"] == "400" && entry.Log["resourcePath"] == "/vehicles/{vid}/events" && entry.Log["callerArn"] == localauth.ReaderUser {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d access lines of the reader's refused listing, want 1", refused)
	}
}

// vehicle registers a certificate for vid and returns the credentials it
// gets: the local credentials provider over mutual TLS, then STS's
// AssumeRole into the vehicle role as vid.
// upload stores ten samples of drive seed as vehicle vid and returns the
// event's eid.
func (c *client) upload(t *testing.T, vid string, seed uint64) string {
	t.Helper()
	up, err := json.Marshal(workload.NewDrive(seed, time.Now().Add(-time.Hour)).Upload(10))
	if err != nil {
		t.Fatal(err)
	}
	a := c.do("POST", "/vehicles/"+vid+"/events", string(up), true, nil)
	if a.status != 201 {
		t.Fatalf("upload: %d %v", a.status, a.body)
	}
	return a.body["eid"].(string)
}

func (c *client) vehicle(vid string) aws.Credentials {
	c.t.Helper()
	cert, _ := c.local.Provision(c.t, vid)
	certCreds := credentialsFor(c.t, c.local, cert, vid)
	return assumeVehicleRole(c.t, c.local, certCreds, vid, vid)
}
