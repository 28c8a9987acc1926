package metricmath

import "testing"

func TestEvaluate(t *testing.T) {
	queries := []Query{
		{ID: "a"}, {ID: "b"},
		{ID: "sum", Expression: "a + b"},
		{ID: "filled", Expression: "FILL(a, 0) + FILL(b, 0)"},
		{ID: "ratio", Expression: "IF(filled > 0, 100 * FILL(a, 0) / filled, -1)", ReturnData: true},
	}
	for _, tt := range []struct {
		name    string
		metrics map[string]Value
		want    Value
	}{
		{"both", map[string]Value{"a": Point(1), "b": Point(3)}, Point(25)},
		{"one missing", map[string]Value{"b": Point(4)}, Point(0)},
		{"none", nil, Point(-1)},
	} {
		got, err := Evaluate(queries, tt.metrics)
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	// Without FILL a sum over a sparse metric loses the timestamp.
	queries[2].ReturnData, queries[4].ReturnData = true, false
	if got, err := Evaluate(queries, map[string]Value{"b": Point(4)}); err != nil || !got.Missing {
		t.Errorf("a + b with a missing: %+v, %v", got, err)
	}
	if _, err := Evaluate([]Query{{ID: "x", Expression: "SEARCH('x')", ReturnData: true}}, nil); err == nil {
		t.Error("an unsupported function evaluated")
	}
}
