package httpapi

import (
	"bufio"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
	"github.com/fleetapi/fleetapi/internal/testutil/metricfilter"
)

// lines returns the log lines written since from, each JSON.
func (a *testAPI) lines(from int) [][]byte {
	a.t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(strings.NewReader(a.logs.String()[from:]))
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			a.t.Fatalf("log line is not JSON: %s", sc.Bytes())
		}
		out = append(out, []byte(sc.Text()))
	}
	return out
}

// SamplesIngested is read from the upload function's lines by its metric
// filter (metrics.SamplesIngestedFilterPattern, which the construct gives
// the log group): the pattern matches the line of each upload stored, over
// HTTPS and over MQTT, compressed or not, and no other; the value is the
// samples stored and the dimension FunctionName the function's name, both
// members of the line. A retried upload stores nothing, a refused or
// invalid one nothing: no data point.
func TestSamplesIngestedByTheMetricFilter(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	from := a.logs.Len()
	body := uploadJSON(t, 1, testNow.Add(-time.Hour))
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: body}); r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: body}); r.status != http.StatusOK {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[]}`}); r.status != http.StatusBadRequest {
		t.Fatalf("bad upload: %d %s", r.status, r.raw)
	}
	if err := a.invokeRule(ruleEvent("car-1", string(contract.GzipUpload([]byte(uploadJSON(t, 2, testNow.Add(-time.Hour))))))); err != nil {
		t.Fatalf("upload over MQTT: %v", err)
	}
	if err := a.invokeRule(ruleEvent("car-1", body)); err != nil {
		t.Fatalf("redelivery over MQTT: %v", err)
	}
	refused := ruleEvent("car-1", uploadJSON(t, 3, testNow.Add(-time.Hour)))
	refused.ClientID = "car-2"
	if err := a.invokeRule(refused); err == nil {
		t.Fatal("another vehicle's client was not refused")
	}

	var matched []map[string]any
	lines := a.lines(from)
	for _, line := range lines {
		ok, err := metricfilter.Match(metrics.SamplesIngestedFilterPattern, line)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		var m map[string]any
		_ = json.Unmarshal(line, &m)
		matched = append(matched, m)
		if v, _ := metricfilter.Field("$."+metrics.SamplesIngested, line); v != float64(10) {
			t.Errorf("value %v, want the upload's 10 samples: %s", v, line)
		}
		if v, _ := metricfilter.Field("$."+metrics.FieldFunction, line); v != "FleetApi-test-ingest" {
			t.Errorf("dimension %s = %v, want the function's name: %s", metrics.DimensionFunctionName, v, line)
		}
		if _, embedded := m["_aws"]; embedded {
			t.Errorf("a stored upload's line embeds a metric too: %s", line)
		}
	}
	if len(matched) != 2 || matched[0]["status"] != float64(201) || matched[1]["outcome"] != "stored" {
		t.Errorf("the filter matched %d of %d lines (%v), want the two uploads stored, over HTTPS then MQTT", len(matched), len(lines), matched)
	}
}

// AccessRefused is embedded in the refusal's line, checked against
// CloudWatch's "Specification: Embedded metric format"
// (AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification):
// a root member "_aws" with Timestamp (epoch milliseconds) and
// CloudWatchMetrics, each directive's dimension and metric names naming
// top-level members (dimension values strings, metric values numbers).
// Lambda sends what a function writes to stdout to its log group, where
// CloudWatch Logs extracts such metrics (CloudWatch_Embedded_Metric_Format_Lambda).
func TestAccessRefusedIsAnEmbeddedMetric(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	from := a.logs.Len()
	before := time.Now()
	refused := ruleEvent("car-1", uploadJSON(t, 1, testNow.Add(-time.Hour)))
	refused.ClientID = "car-2"
	if err := a.invokeRule(refused); err == nil {
		t.Fatal("another vehicle's client was not refused")
	}
	var records []map[string]any
	for _, line := range a.lines(from) {
		var m map[string]any
		_ = json.Unmarshal(line, &m)
		if _, ok := m["_aws"]; ok {
			records = append(records, m)
		}
	}
	if len(records) != 1 {
		t.Fatalf("%d log lines carry metrics, want 1 (the refusal):\n%s", len(records), a.logs.String()[from:])
	}
	rec := records[0]
	var meta struct {
		Timestamp         *float64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	raw, _ := json.Marshal(rec["_aws"])
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatalf("_aws: %v", err)
	}
	if meta.Timestamp == nil || math.Abs(*meta.Timestamp-float64(before.UnixMilli())) > 60_000 {
		t.Errorf("_aws.Timestamp %v, want epoch milliseconds of the request", meta.Timestamp)
	}
	if len(meta.CloudWatchMetrics) != 1 {
		t.Fatalf("CloudWatchMetrics %s, want one directive", raw)
	}
	d := meta.CloudWatchMetrics[0]
	if d.Namespace != metrics.Namespace || strings.HasPrefix(d.Namespace, "AWS/") {
		t.Errorf("namespace %q, want %q", d.Namespace, metrics.Namespace)
	}
	if len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 1 || d.Dimensions[0][0] != metrics.DimensionFunctionName {
		t.Errorf("dimensions %v, want [[%s]]", d.Dimensions, metrics.DimensionFunctionName)
	}
	if rec[metrics.DimensionFunctionName] != "FleetApi-test-ingest" {
		t.Errorf("%s = %v, want the function's name", metrics.DimensionFunctionName, rec[metrics.DimensionFunctionName])
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Name != metrics.AccessRefused || d.Metrics[0].Unit != "Count" {
		t.Fatalf("metrics %v, want %s in Count", d.Metrics, metrics.AccessRefused)
	}
	if v, ok := rec[metrics.AccessRefused].(float64); !ok || v != 1 {
		t.Errorf("%s = %#v, want 1", metrics.AccessRefused, rec[metrics.AccessRefused])
	}
}
