package httpapi

import (
	"bufio"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// TestSamplesIngestedIsAnEmbeddedMetric checks the request log line of a
// stored upload against CloudWatch's "Specification: Embedded metric
// format" (AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification):
// a root member "_aws" with Timestamp (epoch milliseconds) and
// CloudWatchMetrics, each directive's dimension and metric names naming
// top-level members (dimension values strings, metric values numbers).
// Lambda sends what a function writes to stdout to its log group, where
// CloudWatch Logs extracts such metrics (CloudWatch_Embedded_Metric_Format_Lambda).
// A retried upload stores nothing, and a refused one nothing: no metric.
func TestSamplesIngestedIsAnEmbeddedMetric(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	body := uploadJSON(t, 1, testNow.Add(-time.Hour))
	a.logs.Reset()
	before := time.Now()
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: body}); r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: body}); r.status != http.StatusOK {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[]}`}); r.status != http.StatusBadRequest {
		t.Fatalf("bad upload: %d %s", r.status, r.raw)
	}

	var records []map[string]any
	lines := bufio.NewScanner(strings.NewReader(a.logs.String()))
	for lines.Scan() {
		var line map[string]any
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, lines.Text())
		}
		if _, ok := line["_aws"]; ok {
			records = append(records, line)
		}
	}
	if len(records) != 1 {
		t.Fatalf("%d log lines carry metrics, want 1 (the stored upload only):\n%s", len(records), a.logs.String())
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
	for _, set := range d.Dimensions {
		for _, dim := range set {
			if v, ok := rec[dim].(string); !ok || v == "" {
				t.Errorf("dimension %s: top-level member %#v, want a non-empty string", dim, rec[dim])
			}
		}
	}
	if rec[metrics.DimensionFunctionName] != "FleetApi-test-ingest" {
		t.Errorf("%s = %v, want the function's name", metrics.DimensionFunctionName, rec[metrics.DimensionFunctionName])
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Name != metrics.SamplesIngested || d.Metrics[0].Unit != "Count" {
		t.Fatalf("metrics %v, want %s in Count", d.Metrics, metrics.SamplesIngested)
	}
	if v, ok := rec[metrics.SamplesIngested].(float64); !ok || v != 10 {
		t.Errorf("%s = %#v, want 10, the samples of the upload", metrics.SamplesIngested, rec[metrics.SamplesIngested])
	}
}
