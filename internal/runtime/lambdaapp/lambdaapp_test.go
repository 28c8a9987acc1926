package lambdaapp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

func TestReadEnv(t *testing.T) {
	full := map[string]string{
		contract.EnvRoutes:        "listEvents GET /vehicles/{vid}/events fleet-read;getEvent GET /vehicles/{vid}/events/{eid} vehicle,fleet-read",
		contract.EnvVehiclesTable: "FleetApi-prod-Vehicles-1", contract.EnvEventsTable: "FleetApi-prod-Events-1",
		contract.EnvEventRetentionDays: "365", contract.EnvCursorKeySecret: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:k",
		contract.EnvVehicleRole: "arn:aws:iam::111122223333:role/vehicles",
		contract.EnvPrincipals:  "arn:aws:iam::111122223333:role/reader=listEvents,getEvent",
	}
	env, err := ReadEnv(func(k string) string { return full[k] })
	if err != nil {
		t.Fatal(err)
	}
	if env.Tables.Vehicles != full[contract.EnvVehiclesTable] || env.Tables.Events != full[contract.EnvEventsTable] ||
		contract.FormatRoutes(env.Routes) != full[contract.EnvRoutes] || env.EventRetention != 365*24*time.Hour || env.CursorSecret != full[contract.EnvCursorKeySecret] {
		t.Errorf("ReadEnv = %+v", env)
	}
	// The shortest retention, one day, is a retention.
	oneDay := func(k string) string {
		if k == contract.EnvEventRetentionDays {
			return "1"
		}
		return full[k]
	}
	if env, err := ReadEnv(oneDay); err != nil || env.EventRetention != 24*time.Hour {
		t.Errorf("one day of retention: %+v, %v", env, err)
	}
	// A history's retention lets uploads carry older samples; it must be
	// a number of days.
	withHistory := func(v string) func(string) string {
		return func(k string) string {
			if k == contract.EnvHistoryRetentionDays {
				return v
			}
			return full[k]
		}
	}
	if env, err := ReadEnv(withHistory("365")); err != nil || env.HistoryRetention != 365*24*time.Hour {
		t.Errorf("a year of history: %+v, %v", env.HistoryRetention, err)
	}
	if _, err := ReadEnv(withHistory("a year")); err == nil || !strings.Contains(err.Error(), contract.EnvHistoryRetentionDays) {
		t.Errorf("history retention %q: %v, want an error naming the variable", "a year", err)
	}
	// The callers read from the environment are the ones checked.
	if _, err := env.Callers.Check(env.Routes[0], "arn:aws:sts::111122223333:assumed-role/reader/s", "car-1"); err != nil {
		t.Errorf("the reader granted listEvents: %v", err)
	}
	if _, err := env.Callers.Check(env.Routes[1], "arn:aws:sts::111122223333:assumed-role/vehicles/car-2", "car-1"); err == nil {
		t.Error("vehicle car-2 may read car-1's event")
	}
	// No other principal is none.
	noOthers := func(k string) string {
		if k == contract.EnvPrincipals {
			return ""
		}
		return full[k]
	}
	if _, err := ReadEnv(noOthers); err != nil {
		t.Errorf("no principals: %v", err)
	}
	for _, tt := range []struct {
		unset, set, value, want string
	}{
		{unset: contract.EnvRoutes, want: contract.EnvRoutes},
		{set: contract.EnvRoutes, value: "deleteVehicle DELETE /vehicles/{vid} fleet-admin", want: `unknown operation "deleteVehicle"`},
		{set: contract.EnvRoutes, value: "getEvent", want: `route "getEvent" is not "operationId METHOD /path class,class"`},
		{unset: contract.EnvVehicleRole, want: contract.EnvVehicleRole},
		{set: contract.EnvVehicleRole, value: "vehicles", want: `vehicle role "vehicles" is not an IAM role ARN`},
		{set: contract.EnvPrincipals, value: "arn:aws:iam::111122223333:role/r=dropAll", want: contract.EnvPrincipals + `: principal "arn:aws:iam::111122223333:role/r": unknown operation "dropAll"`},
		{set: contract.EnvPrincipals, value: "arn:aws:iam::111122223333:root=getEvent", want: "not an IAM role or user ARN"},
		{unset: contract.EnvVehiclesTable, want: contract.EnvVehiclesTable},
		{unset: contract.EnvEventsTable, want: contract.EnvEventsTable},
		{unset: contract.EnvEventRetentionDays, want: contract.EnvEventRetentionDays + " must be a positive whole number"},
		{set: contract.EnvEventRetentionDays, value: "0", want: `got "0"`},
		{set: contract.EnvEventRetentionDays, value: "ten", want: `got "ten"`},
	} {
		getenv := func(k string) string {
			if k == tt.unset {
				return ""
			}
			if k == tt.set {
				return tt.value
			}
			return full[k]
		}
		if _, err := ReadEnv(getenv); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("unset %q / %s=%q: got %v, want %q", tt.unset, tt.set, tt.value, err, tt.want)
		}
	}
}

type fakeSecrets struct {
	value *string
	err   error
	asked string
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.asked = *in.SecretId
	return &secretsmanager.GetSecretValueOutput{SecretString: f.value}, f.err
}

func TestCursorKey(t *testing.T) {
	v := strings.Repeat("k", 64)
	sm := &fakeSecrets{value: &v}
	key, err := cursorKey(context.Background(), sm, "arn:secret")
	if err != nil || string(key) != v || sm.asked != "arn:secret" {
		t.Errorf("cursorKey = %q, %v (asked %q)", key, err, sm.asked)
	}
	empty := ""
	if _, err := cursorKey(context.Background(), &fakeSecrets{value: &empty}, "s"); err == nil {
		t.Error("an empty secret was accepted")
	}
	if _, err := cursorKey(context.Background(), &fakeSecrets{err: errors.New("AccessDenied")}, "s"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("a failed read: got %v", err)
	}
}

// A function's SDK configuration is what Lambda puts in its environment
// (Lambda developer guide, "Defined runtime environment variables"):
// AWS_REGION and the execution role's AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
func TestAWSConfigFromLambdasEnvironment(t *testing.T) {
	env := map[string]string{
		"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
	}
	cfg, err := AWSConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "eu-central-1" || creds.AccessKeyID != "ASIAEXAMPLE" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Errorf("config %q, credentials %+v, %v", cfg.Region, creds, err)
	}
	for _, name := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		_, err := AWSConfig(func(k string) string {
			if k == name {
				return ""
			}
			return env[k]
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
}

// The SDK's endpoint variables: the service's own before the global one.
func TestEndpoint(t *testing.T) {
	env := map[string]string{"AWS_ENDPOINT_URL": "http://global", "AWS_ENDPOINT_URL_DYNAMODB": "http://dynamodb"}
	getenv := func(k string) string { return env[k] }
	if got := Endpoint(getenv, "DYNAMODB"); got == nil || *got != "http://dynamodb" {
		t.Errorf("DYNAMODB: %v", got)
	}
	if got := Endpoint(getenv, "SECRETS_MANAGER"); got == nil || *got != "http://global" {
		t.Errorf("SECRETS_MANAGER: %v", got)
	}
	if got := Endpoint(func(string) string { return "" }, "DYNAMODB"); got != nil {
		t.Errorf("none set: %v", *got)
	}
}
