package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

var (
	errTooLarge  = errors.New("request body too large")
	errMediaType = errors.New("unsupported media type")
)

// decodeJSON decodes the request body into v strictly, as the spec reads
// it: one JSON object whose member names match v's exactly (case and all),
// no unknown member, no member twice, no null (no schema of the API is
// nullable), values of the right types, and nothing after it. The
// functions never trust that the gateway validated the body.
func (r *request) decodeJSON(v any) error {
	if ct := r.header("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return fmt.Errorf("%w: Content-Type must be application/json, got %q", errMediaType, ct)
		}
	}
	body, err := r.body()
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

// decodeStrict decodes a body into v as decodeJSON says, whichever way it
// came (a request's body, an MQTT message).
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &fleet.ValidationError{Field: "body", Message: "is required: send a JSON object"}
	}
	// A null literal can only be where the bytes "null" are.
	if bytes.Contains(body, []byte("null")) {
		if err := refuseNull(body); err != nil {
			return err
		}
	}
	// json v2 matches names case-sensitively and refuses duplicate names,
	// invalid UTF-8 and trailing data by default.
	if err := json.Unmarshal(body, v, json.RejectUnknownMembers(true), unmarshalers); err != nil {
		return describeJSONError(err, body)
	}
	return nil
}

// MaxTimestampLen bounds an RFC 3339 timestamp, as the spec's Timestamp
// schema does: nanoseconds and an offset take 35 characters.
const MaxTimestampLen = 35

// errTimestamp is the one message of a bad timestamp.
var errTimestamp = fmt.Errorf("must be an RFC 3339 date-time of at most %d characters, such as 2026-11-26T08:00:00.000Z", MaxTimestampLen)

// unmarshalers decode what the defaults do not decode as the spec reads it,
// or not as cheaply.
var unmarshalers = json.WithUnmarshalers(json.JoinUnmarshalers(
	json.UnmarshalFromFunc(decodeTimestamp),
	json.UnmarshalFromFunc(decodeSignals(fleet.KnownSignals())),
))

// decodeSignals decodes a sample's signals, the one map of numbers of the
// API, directly: a known signal's name is the package's own string (ten
// samples of ten signals would otherwise allocate a hundred copies of the
// same names), values parse as the default would. The decoder still
// refuses duplicate names and invalid UTF-8.
func decodeSignals(known []fleet.SignalSpec) func(*jsontext.Decoder, *map[string]float64) error {
	names := make(map[string]string, len(known))
	for _, s := range known {
		names[s.Name] = s.Name
	}
	return func(dec *jsontext.Decoder, m *map[string]float64) error {
		if dec.PeekKind() != '{' {
			return errors.ErrUnsupported // the default names the wrong kind
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		out := make(map[string]float64, len(known))
		for dec.PeekKind() != '}' {
			quoted, err := dec.ReadValue()
			if err != nil {
				return err
			}
			raw, err := unquote(quoted)
			if err != nil {
				return err
			}
			name, ok := names[string(raw)] // a known name: no copy
			if !ok {
				name = string(raw)
			}
			if kind := dec.PeekKind(); kind != '0' {
				if _, err := dec.ReadValue(); err != nil {
					return err
				}
				return &fleet.ValidationError{Field: fieldOf(dec.StackPointer()), Message: "must be a number, got " + kindName(kind)}
			}
			number, err := dec.ReadValue()
			if err != nil {
				return err
			}
			v, err := strconv.ParseFloat(string(number), 64)
			if err != nil {
				return &fleet.ValidationError{Field: fieldOf(dec.StackPointer()), Message: "must be a number a double holds, got " + truncate(string(number))}
			}
			out[name] = v
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		*m = out
		return nil
	}
}

// decodeTimestamp decodes every time.Time of a request as the spec's
// Timestamp: an RFC 3339 string of at most MaxTimestampLen characters.
func decodeTimestamp(dec *jsontext.Decoder, t *time.Time) error {
	if dec.PeekKind() != '"' {
		return errors.ErrUnsupported // the default unmarshaler names the wrong kind
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	raw, err := unquote(v)
	if err != nil {
		return err
	}
	parsed, err := parseTimestampBytes(raw)
	if err != nil {
		return err
	}
	*t = parsed
	return nil
}

// unquote returns the contents of a JSON string: its own bytes when it
// has no escape (no copy), else unescaped.
func unquote(quoted []byte) ([]byte, error) {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return quoted[1 : len(quoted)-1], nil
	}
	return jsontext.AppendUnquote(nil, quoted)
}

// parseTimestampBytes parses an RFC 3339 date-time (the spec's Timestamp)
// without copying it to a string: time.Time's UnmarshalText reads RFC 3339
// strictly, as the spec's format says.
func parseTimestampBytes(b []byte) (time.Time, error) {
	var t time.Time
	if len(b) > MaxTimestampLen || t.UnmarshalText(b) != nil {
		return time.Time{}, errTimestamp
	}
	return t, nil
}

// parseTimestamp parses a timestamp of a query as parseTimestampBytes does.
func parseTimestamp(s string) (time.Time, error) { return parseTimestampBytes([]byte(s)) }

// refuseNull reports the first null of a JSON text, by where it is.
func refuseNull(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return describeJSONError(err, body)
		}
		if tok.Kind() == 'n' {
			return &fleet.ValidationError{Field: fieldOf(dec.StackPointer()), Message: "must not be null"}
		}
	}
}

// describeJSONError names what is wrong with a body, by the error's
// values (its kind, pointer and offset), never its text.
func describeJSONError(err error, body []byte) error {
	var invalid *fleet.ValidationError
	if errors.As(err, &invalid) { // from an unmarshaler of this package
		return invalid
	}
	var syntaxErr *jsontext.SyntacticError
	var semErr *json.SemanticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syntaxErr):
		return &fleet.ValidationError{Field: fieldOf(syntaxErr.JSONPointer), Message: "appears twice: each member may be given once"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &fleet.ValidationError{Field: "body", Message: "malformed JSON: unexpected end"}
	// Valid JSON before the offset of the error: the error is what follows.
	case errors.As(err, &syntaxErr) && syntaxErr.ByteOffset > 0 && syntaxErr.ByteOffset <= int64(len(body)) && jsontext.Value(body[:syntaxErr.ByteOffset]).IsValid():
		return &fleet.ValidationError{Field: "body", Message: "must hold one JSON object and nothing after it"}
	case errors.As(err, &syntaxErr):
		return &fleet.ValidationError{Field: "body", Message: fmt.Sprintf("malformed JSON at byte %d", syntaxErr.ByteOffset)}
	case errors.Is(err, json.ErrUnknownName) && errors.As(err, &semErr):
		return &fleet.ValidationError{Field: fieldOf(semErr.JSONPointer), Message: "is not a known field"}
	case errors.As(err, &semErr):
		field := fieldOf(semErr.JSONPointer)
		if errors.Is(err, errTimestamp) || semErr.GoType == reflect.TypeFor[time.Time]() && semErr.JSONKind == '"' {
			return &fleet.ValidationError{Field: field, Message: errTimestamp.Error()}
		}
		if semErr.GoType == nil || semErr.JSONKind == 0 {
			return &fleet.ValidationError{Field: field, Message: "is not valid JSON for this operation"}
		}
		want := jsonKind(semErr.GoType.String())
		if field == "body" {
			return &fleet.ValidationError{Field: "body", Message: fmt.Sprintf("must be a JSON object, got %s", kindName(semErr.JSONKind))}
		}
		if semErr.JSONKind == '0' && (want == "a whole number") {
			return &fleet.ValidationError{Field: field, Message: fmt.Sprintf("must be a whole number, got %s", truncate(string(semErr.JSONValue)))}
		}
		return &fleet.ValidationError{Field: field, Message: fmt.Sprintf("must be %s, got %s", want, kindName(semErr.JSONKind))}
	}
	return &fleet.ValidationError{Field: "body", Message: "is not valid JSON for this operation"}
}

// fieldOf names the member a JSON pointer points at, as error messages
// name fields: /samples/3/signals/Vehicle.Speed → samples[3].signals.Vehicle.Speed.
func fieldOf(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

// kindName names a JSON kind as messages say it.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	case '[':
		return "array"
	case '{':
		return "object"
	case 'n':
		return "null"
	default:
		return k.String()
	}
}

func jsonKind(goType string) string {
	switch {
	case goType == "string", goType == "time.Time":
		return "a string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	default:
		return "an object"
	}
}

// query reads the query string, refusing parameters not in allowed.
func (r *request) query(allowed ...string) (map[string]string, error) {
	for name := range r.event.QueryStringParameters {
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known && len(allowed) == 0 {
			return nil, &fleet.ValidationError{Field: name, Message: "is not a query parameter of this operation, which takes none"}
		}
		if !known {
			return nil, &fleet.ValidationError{Field: name, Message: fmt.Sprintf("is not a query parameter of this operation; known: %s", strings.Join(allowed, ", "))}
		}
	}
	return r.event.QueryStringParameters, nil
}

func parseLimit(q map[string]string) (int, error) {
	s, ok := q["limit"]
	if !ok {
		return fleet.DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > fleet.MaxLimit {
		return 0, &fleet.ValidationError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d, got %q", fleet.MaxLimit, truncate(s))}
	}
	return n, nil
}

func parseTime(q map[string]string, name string, def time.Time) (time.Time, error) {
	s, ok := q[name]
	if !ok {
		return def, nil
	}
	t, err := parseTimestamp(s)
	if err != nil {
		return time.Time{}, &fleet.ValidationError{Field: name, Message: fmt.Sprintf("%v, got %q", err, truncate(s))}
	}
	return t, nil
}

func (r *request) pathParam(name string) string { return r.event.PathParameters[name] }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
