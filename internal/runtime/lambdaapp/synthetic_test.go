package lambdaapp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/synthetic"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/awsstandin"
)

const (
	testVID    = contract.SyntheticVIDPrefix + "FleetApi-dev-Fleet"
	testPolicy = "FleetApi-dev-Fleet-Certificates"
	testSecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:FleetApiSyntheticVehicle-AbCdEf"
)

// answers records what the custom resource answers CloudFormation (the
// PUT to the request's pre-signed URL).
type answers struct {
	*httptest.Server
	got []map[string]any
}

func newAnswers(t *testing.T) *answers {
	a := &answers{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Method != http.MethodPut || json.NewDecoder(r.Body).Decode(&body) != nil {
			t.Errorf("the custom resource answered %s, not a JSON PUT", r.Method)
		}
		a.got = append(a.got, body)
	}))
	t.Cleanup(a.Close)
	return a
}

// The synthetic vehicle's custom resource, as Lambda runs it (the
// function's environment, the SDK's IoT Core, Secrets Manager and
// DynamoDB clients, cfn.LambdaWrap's answer to CloudFormation) against
// the stand-in's IoT Core and Secrets Manager and dynalite: its key is
// made in the function and goes into the secret alone; the certificate
// IoT Core signs for its request is the vehicle's thing's and has the
// certificate policy; the vehicle is registered; an update with the same
// properties keeps it; a delete leaves nothing of it in IoT Core.
func TestSyntheticVehicleProvider(t *testing.T) {
	ctx := context.Background()
	aws := awsstandin.Start(awsstandin.State{IoTPolicies: []string{testPolicy}})
	defer aws.Close()
	db, err := dynalite.Start(ctx, dynalite.Options{Instant: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	tables := dynalite.NewTables(t, db.Client())
	env := map[string]string{
		EnvRegion: "eu-west-1", EnvAccessKeyID: "AKIDPROVIDER", EnvSecretAccessKey: "secret",
		"AWS_ENDPOINT_URL_IOT": aws.URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws.URL, "AWS_ENDPOINT_URL_DYNAMODB": db.Endpoint,
		contract.EnvServes: contract.ServesSyntheticVehicleProvider, contract.EnvVehiclesTable: tables.Vehicles, contract.EnvEventsTable: tables.Events,
	}
	h, err := handler(func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	invoke := h.(cfn.CustomResourceLambdaFunction)
	answered := newAnswers(t)
	props := map[string]any{synthetic.PropVID: testVID, synthetic.PropSecretArn: testSecret, synthetic.PropPolicyName: testPolicy, "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:p"}
	request := func(typ cfn.RequestType, physical string, old map[string]any) map[string]any {
		t.Helper()
		n := len(answered.got)
		if _, err := invoke(ctx, cfn.Event{RequestType: typ, RequestID: "req-" + string(typ), ResponseURL: answered.URL, StackID: "arn:aws:cloudformation:eu-west-1:123456789012:stack/FleetApi-dev/1",
			LogicalResourceID: "FleetSyntheticVehicle", PhysicalResourceID: physical, ResourceProperties: props, OldResourceProperties: old}); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if len(answered.got) != n+1 {
			t.Fatalf("%s: %d answers to CloudFormation, want 1", typ, len(answered.got)-n)
		}
		a := answered.got[n]
		raw, _ := json.Marshal(a)
		if strings.Contains(string(raw), "PRIVATE KEY") {
			t.Errorf("%s: the answer to CloudFormation holds the private key", typ)
		}
		return a
	}

	created := request(cfn.RequestCreate, "", nil)
	certs := aws.Certificates()
	if created["Status"] != "SUCCESS" || len(certs) != 1 {
		t.Fatalf("create answered %v; %d certificates", created, len(certs))
	}
	var cert awsstandin.Certificate
	for _, c := range certs {
		cert = c
	}
	data, _ := created["Data"].(map[string]any)
	if created["PhysicalResourceId"] != cert.ID || data[synthetic.AttrCertificateID] != cert.ID || cert.Status != "ACTIVE" || cert.Request.Subject.CommonName != testVID ||
		!strings.HasSuffix(data[synthetic.AttrCredentialsEndpoint].(string), ".credentials.iot.eu-west-1.amazonaws.com") || !strings.HasSuffix(data[synthetic.AttrDataEndpoint].(string), "-ats.iot.eu-west-1.amazonaws.com") {
		t.Errorf("create answered %v for certificate %s (%s, CN %s)", created, cert.ID, cert.Status, cert.Request.Subject.CommonName)
	}
	if things := aws.Things(); !slices.Equal(things[testVID], []string{cert.Arn}) || !slices.Equal(aws.PoliciesOf(cert.Arn), []string{testPolicy}) {
		t.Errorf("thing principals %v, certificate policies %v; want the certificate on thing %s with policy %s", things, aws.PoliciesOf(cert.Arn), testVID, testPolicy)
	}
	// The secret holds the certificate IoT Core issued and the key of the
	// request it was issued for.
	var secret synthetic.Secret
	if err := json.Unmarshal([]byte(aws.Secret(testSecret)), &secret); err != nil || secret.CertificatePEM != cert.PEM || secret.CertificateID != cert.ID {
		t.Fatalf("secret %q: %v", aws.Secret(testSecret), err)
	}
	block, _ := pem.Decode([]byte(secret.PrivateKeyPEM))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil || !key.(*ecdsa.PrivateKey).PublicKey.Equal(cert.Request.PublicKey) {
		t.Errorf("the secret's key is not the certificate request's: %v", err)
	}
	store, _ := dynamostore.New(db.Client(), dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events}, nil)
	if v, err := store.GetVehicle(ctx, testVID); err != nil || v.Model != "synthetic vehicle" {
		t.Errorf("the synthetic vehicle registered: %+v, %v", v, err)
	}

	// The same properties: the same certificate, the same attributes.
	updated := request(cfn.RequestUpdate, cert.ID, props)
	if updated["Status"] != "SUCCESS" || updated["PhysicalResourceId"] != cert.ID || len(aws.Certificates()) != 1 ||
		updated["Data"].(map[string]any)[synthetic.AttrDataEndpoint] != data[synthetic.AttrDataEndpoint] {
		t.Errorf("update answered %v; %d certificates", updated, len(aws.Certificates()))
	}

	deleted := request(cfn.RequestDelete, cert.ID, nil)
	if deleted["Status"] != "SUCCESS" || len(aws.Certificates()) != 0 || len(aws.Things()) != 0 {
		t.Errorf("delete answered %v; left certificates %v, things %v", deleted, aws.Certificates(), aws.Things())
	}
	calls := aws.Calls()
	if u, d := slices.Index(calls, "iot.UpdateCertificate"), slices.Index(calls, "iot.DeleteCertificate"); u < 0 || d < u {
		t.Errorf("calls %v: the certificate must be deactivated before it is deleted", calls)
	}

	// A delete after a create that failed before it made a certificate
	// (its physical ID the request's) calls nothing.
	n := len(aws.Calls())
	if a := request(cfn.RequestDelete, "req-Create", nil); a["Status"] != "SUCCESS" || len(aws.Calls()) != n {
		t.Errorf("delete of a failed create answered %v after calls %v", a, aws.Calls()[n:])
	}

	// A create that fails (no such policy) says why and leaves no
	// certificate behind.
	props[synthetic.PropPolicyName] = "no-such-policy"
	failed := request(cfn.RequestCreate, "", nil)
	if reason, _ := failed["Reason"].(string); failed["Status"] != "FAILED" || !strings.Contains(reason, "attach policy no-such-policy") || len(aws.Certificates()) != 0 {
		t.Errorf("create with an unknown policy answered %v; certificates left %v", failed, aws.Certificates())
	}
}

// What a function serves is named: a value it does not know, or a
// synthetic vehicle without its environment, fails its cold start saying
// which.
func TestServesNamesWhatIsWrong(t *testing.T) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{contract.EnvServes: "canary"}, `FLEETAPI_SERVES "canary": allowed are unset (the operations of FLEETAPI_ROUTES), synthetic-vehicle, synthetic-vehicle-provider and tracker`},
		{map[string]string{contract.EnvServes: contract.ServesHistory}, "the history writer is a binary of its own (lambdas/history)"},
		{map[string]string{contract.EnvServes: contract.ServesTracker, contract.EnvVehiclesTable: "v"}, "missing environment variables [VEHICLE_EVENTS_TABLE VEHICLE_STATE_TABLE]"},
		{map[string]string{contract.EnvServes: contract.ServesTracker, contract.EnvVehiclesTable: "v", contract.EnvEventsTable: "e", contract.EnvStateTable: "s",
			contract.EnvSilentAfter: "10m", contract.EnvNotSeenAfter: "604800"}, `FLEETAPI_SILENT_AFTER_SECONDS must be a positive whole number of seconds, got "10m"`},
		{map[string]string{contract.EnvServes: contract.ServesSyntheticVehicle, contract.EnvSyntheticVID: testVID}, "missing environment variables [AWS_REGION FLEETAPI_API_URL"},
		{map[string]string{contract.EnvServes: contract.ServesSyntheticVehicle, contract.EnvSyntheticVID: "car-1", contract.EnvSyntheticSecret: testSecret,
			contract.EnvAPIURL: "https://x", contract.EnvCredentialsEndpoint: "c", contract.EnvDataEndpoint: "d", contract.EnvRoleAlias: "r",
			contract.EnvVehicleRole: "arn:aws:iam::1:role/v", contract.EnvUploadTopic: "t", EnvRegion: "eu-west-1"}, `FLEETAPI_SYNTHETIC_VID "car-1": a synthetic vehicle's vid begins with fleetapi-synthetic-`},
		{map[string]string{contract.EnvServes: contract.ServesSyntheticVehicleProvider, EnvRegion: "eu-west-1", EnvAccessKeyID: "a", EnvSecretAccessKey: "s"}, "both table names are required"},
	} {
		if _, err := handler(func(k string) string { return tt.env[k] }, logger); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.env, err, tt.want)
		}
	}
}

// emptySecret is a secret the custom resource has not filled yet.
type emptySecret struct{}

func (emptySecret) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{}, nil
}

// A synthetic vehicle whose secret holds no certificate fails its first
// step, saying why, and the run: never a success.
func TestSyntheticVehicleWithoutCertificate(t *testing.T) {
	h := NewSyntheticHandler(SyntheticEnv{VID: testVID}, emptySecret{}, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	report := h.run(context.Background())
	failed, ok := report.Failed()
	if !ok || failed.Step != "Credentials" || !strings.Contains(failed.Err.Error(), "holds no certificate and key") || report.OK() {
		t.Errorf("report %+v, want Credentials failed: no certificate", report)
	}
}

// The tracker, wired from the environment the construct gives it, counts
// the fleet on its schedule's event: a log line of the figures' embedded
// metrics, named after its function.
func TestTrackerFromItsEnvironment(t *testing.T) {
	ctx := context.Background()
	db, err := dynalite.Start(ctx, dynalite.Options{Instant: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	tables := dynalite.NewTables(t, db.Client())
	env := map[string]string{
		EnvRegion: "eu-west-1", EnvAccessKeyID: "AKIDTRACKER", EnvSecretAccessKey: "secret", "AWS_ENDPOINT_URL_DYNAMODB": db.Endpoint,
		"AWS_LAMBDA_FUNCTION_NAME": "FleetApi-dev-TrackerFunction1273CF74-abc",
		contract.EnvServes:         contract.ServesTracker, contract.EnvVehiclesTable: tables.Vehicles, contract.EnvEventsTable: tables.Events,
		contract.EnvStateTable: tables.State, contract.EnvSilentAfter: "600", contract.EnvNotSeenAfter: "604800",
	}
	var logs bytes.Buffer
	h, err := handler(func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	invoke := h.(func(context.Context, json.RawMessage) (any, error))
	if _, err := invoke(ctx, json.RawMessage(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"msg":"fleet figures"`) || !strings.Contains(logs.String(), `"FunctionName":"FleetApi-dev-TrackerFunction1273CF74-abc"`) {
		t.Errorf("the count's log: %s", logs.String())
	}
}
