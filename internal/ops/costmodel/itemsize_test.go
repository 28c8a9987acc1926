package costmodel

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Hand-computed after the developer guide's rules.
func TestItemSize(t *testing.T) {
	for _, tt := range []struct {
		name string
		item map[string]types.AttributeValue
		want int
	}{
		// "vid" 3 + "car-1" 5
		{"string", map[string]types.AttributeValue{"vid": &types.AttributeValueMemberS{Value: "car-1"}}, 8},
		// "é" is 2 bytes in UTF-8: "n" 1 + 2
		{"UTF-8 string", map[string]types.AttributeValue{"n": &types.AttributeValueMemberS{Value: "é"}}, 3},
		// "exp" 3 + 1795691178000: 10 significant digits after the trailing
		// zeroes → 5 bytes + 1
		{"number", map[string]types.AttributeValue{"exp": &types.AttributeValueMemberN{Value: "1795691178000"}}, 9},
		// "x" 1 + -0.00123: digits 123 → 2 bytes + 1
		{"small negative number", map[string]types.AttributeValue{"x": &types.AttributeValueMemberN{Value: "-0.00123"}}, 4},
		// "b" 1 + 538 raw bytes (what is sent is base64, what counts is raw)
		{"binary", map[string]types.AttributeValue{"b": &types.AttributeValueMemberB{Value: make([]byte, 538)}}, 539},
		// "ok" 2 + 1; "no" 2 + 1
		{"bool and null", map[string]types.AttributeValue{"ok": &types.AttributeValueMemberBOOL{Value: true}, "no": &types.AttributeValueMemberNULL{Value: true}}, 6},
		// "m" 1 + 3 + ("k" 1 + 1 + "v" 1) ; "l" 1 + 3 + (1 + "ab" 2)
		{"map and list", map[string]types.AttributeValue{
			"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}},
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}},
		}, 14},
	} {
		if got := ItemSize(tt.item); got != tt.want {
			t.Errorf("%s: ItemSize = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestWriteUnits(t *testing.T) {
	for size, want := range map[int]int{0: 1, 1: 1, 1024: 1, 1025: 2, 4096: 4, 400 * 1024: 400} {
		if got := WriteUnits(size); got != want {
			t.Errorf("WriteUnits(%d) = %d, want %d", size, got, want)
		}
	}
}
