package accesslog

import (
	"encoding/json"
	"strings"
	"testing"
)

// The format is a JSON object once API Gateway substitutes its variables
// (each quoted), with a member per field.
func TestFormatIsJSONOnceSubstituted(t *testing.T) {
	substituted := Format()
	for _, f := range Fields {
		substituted = strings.Replace(substituted, `"`+f.Variable+`"`, `"x"`, 1)
	}
	var line map[string]string
	if err := json.Unmarshal([]byte(substituted), &line); err != nil {
		t.Fatalf("the substituted format %s is not JSON: %v", substituted, err)
	}
	if len(line) != len(Fields) {
		t.Errorf("%d members, want %d (a name twice?)", len(line), len(Fields))
	}
}

// A rendered line has every field, each a string; one without a value is
// "-" as API Gateway writes it; values are escaped.
func TestLine(t *testing.T) {
	var line map[string]any
	raw := Line(map[string]string{"$context.status": "403", "$context.identity.userAgent": `a "quoted" agent`})
	if err := json.Unmarshal(raw, &line); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if len(line) != len(Fields) {
		t.Errorf("%d members, want %d", len(line), len(Fields))
	}
	if line["status"] != "403" || line["userAgent"] != `a "quoted" agent` || line["xrayTraceId"] != Missing {
		t.Errorf("line %s", raw)
	}
}
