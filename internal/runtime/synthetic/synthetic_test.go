package synthetic_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"log/slog"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localapi"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/runtime/synthetic"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

// stage is a local stage with its synthetic vehicle provisioned.
func stage(t *testing.T) (*localapi.TestServer, synthetic.Config) {
	t.Helper()
	local := localapi.NewTestServerOn(t, db, localapi.Config{EventRetention: 30 * 24 * time.Hour})
	cfg, err := localapi.NewSyntheticVehicle(context.Background(), local.Registry, local.Vehicles, local.Endpoints(), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Settle = 5 * time.Second
	return local, cfg
}

// logged is one step's log line as CloudWatch reads it.
type logged struct {
	AWS struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	SyntheticVehicle, Step, Error string
	Success                       *float64 `json:"SyntheticVehicleSuccess"`
	Latency                       *float64 `json:"SyntheticVehicleLatency"`
}

// logLines runs Log on report and reads back its lines.
func logLines(t *testing.T, report synthetic.Report) []logged {
	t.Helper()
	var buf bytes.Buffer
	synthetic.Log(slog.New(slog.NewJSONHandler(&buf, nil)), localapi.SyntheticVID, time.Now(), report)
	var out []logged
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l logged
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		d := l.AWS.CloudWatchMetrics
		if len(d) != 1 || d[0].Namespace != metrics.Namespace || len(d[0].Dimensions) != 1 ||
			strings.Join(d[0].Dimensions[0], ",") != "SyntheticVehicle,Step" || len(d[0].Metrics) != 2 || l.Success == nil || l.Latency == nil ||
			l.SyntheticVehicle != localapi.SyntheticVID {
			t.Errorf("log line is no embedded metric record of the step's success and latency: %s", line)
		}
		out = append(out, l)
		t.Logf("%s: %s %v, %v ms %s", l.Step, metrics.SyntheticVehicleSuccess, *l.Success, *l.Latency, l.Error)
	}
	return out
}

// The synthetic vehicle, run against make local's stand-ins, passes every
// step as a vehicle and a fleet reader do, and the function's log lines
// are one metric record per step and one of the run, each a success.
func TestRunPassesEveryStep(t *testing.T) {
	_, cfg := stage(t)
	report := synthetic.Run(context.Background(), cfg)
	if !report.OK() {
		f, _ := report.Failed()
		t.Fatalf("run failed at %s: %v", f.Step, f.Err)
	}
	lines := logLines(t, report)
	if len(lines) != len(metrics.SyntheticSteps()) {
		t.Fatalf("%d log lines, want one per step and the run's (%d)", len(lines), len(metrics.SyntheticSteps()))
	}
	for i, l := range lines {
		if l.Step != metrics.SyntheticSteps()[i] || *l.Success != 1 || *l.Latency < 0 || l.Error != "" {
			t.Errorf("line %d: step %s success %v latency %v error %q, want %s a success", i, l.Step, *l.Success, *l.Latency, l.Error, metrics.SyntheticSteps()[i])
		}
	}
	// Run again: the uploads are new, the vehicle the same.
	if again := synthetic.Run(context.Background(), cfg); !again.OK() {
		f, _ := again.Failed()
		t.Errorf("second run failed at %s: %v", f.Step, f.Err)
	}
}

// Each step's failure is reported as that step's, the run a failure, and
// no later step is run or reported a success: the Run metric the alarm
// reads is 0, the failed step's 0 with its error.
func TestEachStepFailsAsItself(t *testing.T) {
	for _, tt := range []struct {
		step   string
		breaks func(t *testing.T, local *localapi.TestServer, c *synthetic.Config)
		why    string
	}{
		{metrics.StepCredentials, func(t *testing.T, local *localapi.TestServer, c *synthetic.Config) {
			// A certificate the registry never issued.
			other, err := localapi.SyntheticConfig(selfSigned(t, localapi.SyntheticVID), local.Registry.CAPool(), local.Endpoints())
			if err != nil {
				t.Fatal(err)
			}
			c.Chain = other.Chain
		}, "credentials provider"},
		{metrics.StepAssumeRole, func(t *testing.T, local *localapi.TestServer, c *synthetic.Config) {
			c.Chain.VehicleRoleArn = "arn:aws:iam::" + localauth.Account + ":role/fleetapi-local-admins"
		}, "assume the vehicle role"},
		{metrics.StepHTTPSUpload, func(t *testing.T, local *localapi.TestServer, c *synthetic.Config) {
			// The upload names another vehicle than the certificate's: the
			// gateway's policy refuses it.
			c.VID = contract.SyntheticVIDPrefix + "someone-else"
		}, "upload answered 403"},
		{metrics.StepMQTTUpload, func(t *testing.T, local *localapi.TestServer, c *synthetic.Config) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c.MQTTAddr = l.Addr().String()
			l.Close()
		}, "connect to"},
		{metrics.StepReadBack, func(t *testing.T, local *localapi.TestServer, c *synthetic.Config) {
			// The fleet admin may not read events.
			c.Reader = credentials.StaticCredentialsProvider{Value: localauth.AdminKeys}
		}, ": 403"},
	} {
		t.Run(tt.step, func(t *testing.T) {
			local, cfg := stage(t)
			tt.breaks(t, local, &cfg)
			report := synthetic.Run(context.Background(), cfg)
			failed, ok := report.Failed()
			if !ok || failed.Step != tt.step || report.OK() || failed.Err == nil || !strings.Contains(failed.Err.Error(), tt.why) {
				t.Fatalf("failed %v at %s: %v; want %s failed (%q)", ok, failed.Step, failed.Err, tt.step, tt.why)
			}
			lines := logLines(t, report)
			steps := metrics.SyntheticSteps()
			ran := slices.Index(steps, tt.step) + 1
			if len(lines) != ran+1 {
				t.Fatalf("%d log lines, want the %d steps run and the run's", len(lines), ran)
			}
			for i, l := range lines[:ran] {
				if want := i < ran-1; l.Step != steps[i] || (*l.Success == 1) != want {
					t.Errorf("line %d: %s success %v, want %s %v", i, l.Step, *l.Success, steps[i], want)
				}
			}
			if run := lines[ran]; run.Step != metrics.StepRun || *run.Success != 0 || run.Error != "" {
				t.Errorf("the run's line: %s success %v, want Run 0", run.Step, *run.Success)
			}
			if lines[ran-1].Error == "" {
				t.Errorf("the failed step's line says no error")
			}
		})
	}
}

// selfSigned is a certificate no registry issued.
func selfSigned(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		&x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}}, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
