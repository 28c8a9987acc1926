// Package costmodel holds what the cost estimate knows of the code: the
// sizes and units it measures against dynalite and the handlers, and
// DynamoDB's documented rules for turning items into bytes and units.
package costmodel

import (
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Sizes of items as DynamoDB counts them, after "DynamoDB item sizes and
// formats" (developer guide, CapacityUnitCalculations): the sum of the
// UTF-8 lengths of attribute names and the sizes of values; strings by
// their UTF-8 bytes, binaries by their raw bytes, numbers by one byte per
// two significant digits plus one, null and Boolean one byte, a list or map
// 3 bytes plus its elements, each element 1 byte more.
const (
	// StorageOverheadBytes is added to every item for indexing in the
	// storage DynamoDB bills.
	StorageOverheadBytes = 100
	// WriteUnitBytes is what one write request unit writes; a write of a
	// larger item takes one unit per started kilobyte.
	WriteUnitBytes = 1024
	// ReadUnitBytes is what one read request unit reads strongly
	// consistently (two such reads eventually consistent).
	ReadUnitBytes = 4096
)

// ItemSize returns the size of an item as DynamoDB counts it.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

// WriteUnits returns the write request units a standard write of an item
// of size bytes takes.
func WriteUnits(size int) int { return max(1, (size+WriteUnitBytes-1)/WriteUnitBytes) }

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for name, e := range v.Value {
			n += 1 + len(name) + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS: // the guide gives sets no overhead
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	}
	return 0
}

// numberSize: one byte per two significant digits, plus one; leading and
// trailing zeroes do not count, nor do the sign, the point or an exponent.
func numberSize(s string) int {
	s = strings.TrimPrefix(s, "-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	digits := strings.Trim(strings.ReplaceAll(s, ".", ""), "0")
	if digits == "" {
		return 1 // zero
	}
	return (utf8.RuneCountInString(digits)+1)/2 + 1
}
