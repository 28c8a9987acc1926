package httpapi

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// How decoding errors name fields and quote values.
func TestDecodeErrorNames(t *testing.T) {
	for ptr, want := range map[jsontext.Pointer]string{
		"": "body", "/make": "make", "/samples/3/timestamp": "samples[3].timestamp",
		"/0": "0", "/0/x": "0.x", "/metadata/12": "metadata[12]",
	} {
		if got := fieldOf(ptr); got != want {
			t.Errorf("fieldOf(%q) = %q, want %q", ptr, got, want)
		}
	}
	at := strings.Repeat("x", 64)
	if truncate(at) != at || truncate(at+"y") != at+"..." {
		t.Errorf("truncate quotes 64 bytes whole and cuts beyond: %q, %q", truncate(at), truncate(at+"y"))
	}
	// A semantic error without a Go type (none the decoder makes today)
	// is answered with a generic message, never a panic.
	for _, e := range []*json.SemanticError{{JSONKind: '"'}, {GoType: reflect.TypeFor[int]()}} {
		var ve *fleet.ValidationError
		if err := describeJSONError(e, nil); !errors.As(err, &ve) || ve.Message != "is not valid JSON for this operation" {
			t.Errorf("describeJSONError(%+v) = %v", e, err)
		}
	}
}
