package lambdalog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

func TestLinesCarryTheFunctionAndNoTime(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "FleetApi-prod-IngestFunction")
	log.Info("upload stored", "durationMs", 3, slog.Group("request", "time", time.Unix(0, 0)))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if _, ok := line["time"]; ok {
		t.Errorf("the line has a time of its own: %s", buf.Bytes())
	}
	if line["function"] != "FleetApi-prod-IngestFunction" || line["level"] != "INFO" || line["msg"] != "upload stored" {
		t.Errorf("line %s: want the function, the level and the message", buf.Bytes())
	}
	// A time an attribute carries in a group is kept.
	if g, _ := line["request"].(map[string]any); g["time"] == nil {
		t.Errorf("the group's time was dropped: %s", buf.Bytes())
	}
}
