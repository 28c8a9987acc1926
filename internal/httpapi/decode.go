package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/fleetapi/fleetapi/internal/fleet"
)

var (
	errTooLarge  = errors.New("request body too large")
	errMediaType = errors.New("unsupported media type")
)

// decodeJSON decodes the request body into v strictly: a JSON object of
// exactly v's fields with the right types, and nothing after it.
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
	if len(bytes.TrimSpace(body)) == 0 {
		return &fleet.ValidationError{Field: "body", Message: "is required: send a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &fleet.ValidationError{Field: "body", Message: "must hold one JSON object and nothing after it"}
	}
	return nil
}

func describeJSONError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &syntaxErr):
		return &fleet.ValidationError{Field: "body", Message: fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &fleet.ValidationError{Field: "body", Message: "malformed JSON: unexpected end"}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return &fleet.ValidationError{Field: "body", Message: fmt.Sprintf("must be a JSON object, got %s", typeErr.Value)}
		}
		return &fleet.ValidationError{Field: field, Message: fmt.Sprintf("must be %s, got %s", jsonKind(typeErr.Type.String()), typeErr.Value)}
	case errors.As(err, &timeErr):
		return &fleet.ValidationError{Field: "timestamp", Message: "must be an RFC 3339 date-time such as 2026-11-26T08:00:00.000Z"}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &fleet.ValidationError{Field: strings.Trim(name, `"`), Message: "is not a known field"}
	}
	return &fleet.ValidationError{Field: "body", Message: "is not valid JSON for this operation"}
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
		if !known {
			return nil, &fleet.ValidationError{Field: name, Message: fmt.Sprintf("is not a query parameter of this operation; known: %s", strings.Join(allowed, ", "))}
		}
	}
	return r.event.QueryStringParameters, nil
}

func parseLimit(q map[string]string) (int, error) {
	s, ok := q["limit"]
	if !ok {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, &fleet.ValidationError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d, got %q", MaxLimit, truncate(s))}
	}
	return n, nil
}

func parseTime(q map[string]string, name string, def time.Time) (time.Time, error) {
	s, ok := q[name]
	if !ok {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &fleet.ValidationError{Field: name, Message: fmt.Sprintf("must be an RFC 3339 date-time such as 2026-11-26T08:00:00Z, got %q", truncate(s))}
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
