package costmodel

import (
	"strings"
	"testing"
)

// Counted by hand: a platform.start line of 142 bytes and a report line of
// 236 with a three-digit memory size; the tracing member adds 150, and a
// four-digit memory size one more.
func TestPlatformLogBytes(t *testing.T) {
	for _, tt := range []struct {
		memory  int
		tracing bool
		want    int
	}{{128, false, 378}, {128, true, 528}, {1024, false, 379}} {
		if got := PlatformLogBytes(tt.memory, tt.tracing); got != tt.want {
			t.Errorf("PlatformLogBytes(%d, %v) = %d, want %d", tt.memory, tt.tracing, got, tt.want)
		}
	}
}

func TestAccessLogBytes(t *testing.T) {
	// {"id":" 7, a request ID 36, "} 2, the newline 1.
	if got, err := AccessLogBytes(`{"id":"$context.requestId"}`); err != nil || got != 46 {
		t.Errorf("AccessLogBytes = %d, %v; want 46", got, err)
	}
	// "POST 201" 8 + newline; a variable followed by a dot ends before it.
	if got, err := AccessLogBytes(`$context.httpMethod $context.status.`); err != nil || got != 10 {
		t.Errorf("AccessLogBytes = %d, %v; want 10", got, err)
	}
	_, err := AccessLogBytes(`{"w":"$context.waf.error"}`)
	if err == nil || !strings.Contains(err.Error(), "$context.waf.error") {
		t.Errorf("an unknown variable: %v, want an error naming it", err)
	}
}

// Every variable of the access log format the construct writes has a size.
func TestStagesAccessLogFormatsAreKnown(t *testing.T) {
	for _, stage := range []string{"dev", "staging", "prod"} {
		s, err := LoadStack("../../../test/testdata/FleetApi-" + stage + ".template.json")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := AccessLogBytes(s.AccessLogFormat); err != nil {
			t.Errorf("%s: %v", stage, err)
		}
	}
}
