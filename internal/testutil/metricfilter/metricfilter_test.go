package metricfilter

import "testing"

func TestMatch(t *testing.T) {
	line := []byte(`{"level":"INFO","function":"fn-1","SamplesIngested":10,"request":{"status":201}}`)
	for pattern, want := range map[string]bool{
		`{ $.SamplesIngested > 0 }`:                           true,
		`{ $.SamplesIngested > 10 }`:                          false,
		`{ $.SamplesIngested >= 10 }`:                         true,
		`{ ($.SamplesIngested > 0) && ($.function = *) }`:     true,
		`{ ($.SamplesIngested > 0) && ($.missing = *) }`:      false,
		`{ ($.missing > 0) || ($.function = "fn-*") }`:        true,
		`{ $.function = fn-2 }`:                               false,
		`{ $.function != "fn-2" }`:                            true,
		`{ $.request.status = 201 }`:                          true,
		`{ $.level = "INFO" && $.request.status >= 500 }`:     false,
		`{ ($.level = "ERROR") || ($.request.status = 201) }`: true,
		`{ $.function > 0 }`:                                  false,
	} {
		got, err := Match(pattern, line)
		if err != nil || got != want {
			t.Errorf("Match(%s) = %v, %v; want %v", pattern, got, err, want)
		}
	}
	for _, bad := range []string{`$.a = 1`, `{ a = 1 }`, `{ $.level > "INFO" }`} {
		if _, err := Match(bad, line); err == nil {
			t.Errorf("Match(%s): no error", bad)
		}
	}
	if v, ok := Field("$.SamplesIngested", line); !ok || v != float64(10) {
		t.Errorf("Field = %v, %v", v, ok)
	}
	if _, ok := Field("$.request.missing", line); ok {
		t.Error("Field of a missing member found it")
	}
}
