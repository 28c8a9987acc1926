package lambdaapp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/contract"
	"github.com/fleetapi/fleetapi/internal/faultnet"
)

// Under the Lambda runtime interface emulator (pinned in tools/go.mod),
// the function's one binary, built as for Lambda but for this machine,
// is invoked with DynamoDB behind a socket that accepts and never answers:
// a network partition. Lambda gives the invocation its deadline
// (Lambda-Runtime-Deadline-Ms, which aws-lambda-go turns into the
// context's deadline); the function must answer 503 with Retry-After
// before it, not hang until Lambda kills it at its timeout.
func TestHungDynamoDBUnderTheRuntimeEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	dir := t.TempDir()
	bootstrap, rie := filepath.Join(dir, "bootstrap"), filepath.Join(dir, "aws-lambda-rie")
	goBuild(t, "../..", "-o", bootstrap, "./lambdas/fleetapi")
	goBuild(t, "../../tools", "-o", rie, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")

	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	routes := spec.RoutesOf("ingest")
	const timeoutSecs = 3
	runtimeAPI, invokeAddr := faultnet.FreeAddr(t), faultnet.FreeAddr(t)
	cmd := exec.Command(rie, "--runtime-api-address", runtimeAPI, "--runtime-interface-emulator-address", invokeAddr, bootstrap)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", timeoutSecs),
		"AWS_LAMBDA_FUNCTION_NAME=fleetapi-ingest",
		"AWS_REGION=eu-west-1",
		// Dummy keys: requests are signed, but only to the hung socket.
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		// The SDK's service-specific endpoint variable.
		"AWS_ENDPOINT_URL_DYNAMODB=" + faultnet.Hung(t),
		contract.EnvRoutes + "=" + contract.FormatRoutes(routes),
		contract.EnvVehiclesTable + "=vehicles", contract.EnvEventsTable + "=vehicleEvents",
		contract.EnvEventRetentionDays + "=30",
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group: the emulator and the function it starts are
	// stopped together, by PID.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", out.String())
		}
	})
	waitListening(t, invokeAddr)

	body, _ := json.Marshal(map[string]any{"samples": []map[string]any{{"timestamp": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "signals": map[string]float64{"Vehicle.Speed": 50}}}})
	event, _ := json.Marshal(events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Resource: "/vehicles/{vid}/events", Path: "/vehicles/car-1/events",
		PathParameters: map[string]string{"vid": "car-1"}, Headers: map[string]string{"Content-Type": "application/json"},
		Body: string(body), RequestContext: events.APIGatewayProxyRequestContext{OperationName: "createEvent", RequestID: "r1"},
	})
	start := time.Now()
	res, err := (&http.Client{Timeout: 30 * time.Second}).Post("http://"+invokeAddr+"/2015-03-31/functions/function/invocations", "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	payload, _ := io.ReadAll(res.Body)
	took := time.Since(start)
	var answer events.APIGatewayProxyResponse
	if err := json.Unmarshal(payload, &answer); err != nil || answer.StatusCode != http.StatusServiceUnavailable || answer.Headers["Retry-After"] == "" {
		t.Fatalf("invocation answered %s (%v), want an API Gateway proxy response 503 with Retry-After", payload, err)
	}
	if !strings.Contains(answer.Body, `"ServiceUnavailable"`) {
		t.Errorf("body %s, want the JSON error ServiceUnavailable", answer.Body)
	}
	if took >= timeoutSecs*time.Second {
		t.Errorf("answered after %v, at or past the function's timeout of %d s", took, timeoutSecs)
	}
	t.Logf("hung DynamoDB under the emulator: %d after %v of a %d s timeout (including the cold start)", answer.StatusCode, took.Round(time.Millisecond), timeoutSecs)
}

func goBuild(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("the emulator did not listen on %s", addr)
}
