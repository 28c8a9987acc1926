package httpapi

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// stricterRules are the rules the functions hold requests to beyond what
// api/swagger.yaml's schemas can say; the spec states each in words. A
// request the spec accepts may be refused for one of these only, and the
// refusal must name it.
var stricterRules = []struct {
	name    string
	matches *regexp.Regexp
}{
	{"a vehicle's year is at most next year", regexp.MustCompile(`^year: must be between 1886 and \d+`)},
	{"known VSS signals are range-checked", regexp.MustCompile(`^samples\[\d+\]\.signals\..+: .* is out of range`)},
	{"other signal names are dot-separated words", regexp.MustCompile(`^samples\[\d+\]\.signals: name ".*" must be dot-separated words`)},
	{"sample timestamps are at most 5 minutes ahead", regexp.MustCompile(`^samples\[\d+\]\.timestamp: .* is more than 5m0s in the future`)},
	{"sample timestamps are within the event retention", regexp.MustCompile(`^samples\[\d+\]\.timestamp: .* is older than the retention`)},
	{"no two samples of an upload share a timestamp", regexp.MustCompile(`^samples: two samples have the timestamp`)},
	{"metadata keys are 1 to 64 characters, no control character", regexp.MustCompile(`^metadata: key ".*" must be 1 to 64 characters`)},
	{"a cursor is one this listing made", regexp.MustCompile(`^cursor: is not a cursor of this listing`)},
	{"from is not after to", regexp.MustCompile(`^from: must not be after to`)},
	{"If-Match is an ETag of the API or *", regexp.MustCompile(`^If-Match: must be the ETag of the vehicle`)},
	{"query parameters are those of the operation", regexp.MustCompile(`^.+: is not a query parameter of this operation`)},
	{"a duration has a part, is longer than zero and at most 3650 days", regexp.MustCompile(`^(silentFor|notSeenFor): must (be an ISO 8601 duration|be longer than zero|be at most 3650 days)`)},
	{"a bbox's longitudes are within ±180, latitudes within ±90, south not north of north", regexp.MustCompile(`^bbox: (longitude .* is outside \[-180, 180\]|latitude .* is outside \[-90, 90\]|south .* is north of north)`)},
}

// genRequest is one generated request and what the spec says of it.
type genRequest struct {
	op       *openapi3.Operation
	method   string
	resource string
	path     map[string]string
	query    map[string]string
	headers  map[string]string
	body     string
	// mutation says how an invalid request was made from a valid one; "" for a valid one.
	mutation string
}

func (r genRequest) String() string {
	return fmt.Sprintf("%s %s path=%v query=%v headers=%v body=%.400s (mutation: %q)", r.method, r.resource, r.path, r.query, r.headers, r.body, r.mutation)
}

// TestHandlersAgreeWithTheSpec generates requests for every operation from
// api/swagger.yaml's schemas: valid ones (boundary lengths in characters,
// non-ASCII text, minimum and maximum values, every enum value) and invalid
// ones by one mutation each (a missing required member, a wrong type, a
// value just out of range, an unknown member, a case-changed name, null, a
// duplicate name). kin-openapi's openapi3filter says what the spec accepts;
// the handlers must never refuse a request the spec accepts for its shape
// (only for a rule of stricterRules), must answer 400 with the JSON error
// to one the spec refuses, and every answer must match the spec.
func TestHandlersAgreeWithTheSpec(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	seed := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 1, testNow.Add(-time.Hour))})
	if seed.status != http.StatusCreated {
		t.Fatalf("seed upload: %d %s", seed.status, seed.raw)
	}
	// Most generated requests name the vehicle and event that exist, so
	// that more of them reach the store.
	g := &generator{rnd: rand.New(rand.NewPCG(20261126, 7)), existing: map[string]string{"vid": "car-1", "eid": seed.body["eid"].(string)}}
	const validPerOp, invalidPerOp = 150, 150
	for _, op := range spec.Operations {
		item := spec.Doc.Paths.Value(op.Path)
		o := item.GetOperation(op.Method)
		var valid, invalid, accepted, byRule, refused int
		rules := map[string]int{}
		for i := range validPerOp + invalidPerOp {
			req := g.request(op.Method, op.Path, item, o, i%4 == 0)
			if i >= validPerOp {
				req = g.mutate(req, item, o)
				if req.mutation == "" {
					continue // nothing of this operation to mutate that way
				}
			}
			specErr := validateAgainstSpec(req, item)
			res := a.do(call{method: req.method, path: fillPath(req.resource, req.path), query: req.query, headers: req.headers, body: req.body})
			msg := ""
			if e, ok := res.body["error"].(map[string]any); ok {
				msg, _ = e["message"].(string)
			}
			switch {
			case specErr == nil:
				valid++
				if res.status >= 500 {
					t.Errorf("%s: a request the spec accepts got %d %s\n  %s", op.ID, res.status, res.raw, req)
				} else if res.status == http.StatusBadRequest {
					name := ""
					for _, r := range stricterRules {
						if r.matches.MatchString(msg) {
							name = r.name
						}
					}
					if name == "" {
						t.Errorf("%s: a request the spec accepts was refused for its shape: %s\n  %s", op.ID, msg, req)
					}
					rules[name]++
					byRule++
				} else if res.status < 300 {
					accepted++
				}
			case res.status == http.StatusRequestEntityTooLarge && len(req.body) > MaxBodyBytes:
				invalid++ // too large is answered before anything else is read
				refused++
			default:
				invalid++
				if res.status != http.StatusBadRequest {
					t.Errorf("%s: a request the spec refuses (%v) got %d %s, want 400\n  %s", op.ID, firstLine(specErr), res.status, res.raw, req)
				} else {
					refused++
				}
			}
		}
		t.Logf("%-13s %3d valid (%d answered 2xx, %d refused by a stricter rule: %v), %3d invalid (%d answered 400 or, too large, 413)",
			op.ID, valid, accepted, byRule, rules, invalid, refused)
		if valid < validPerOp/2 || invalid < 10 {
			t.Errorf("%s: only %d valid and %d invalid requests generated", op.ID, valid, invalid)
		}
	}
}

// validateAgainstSpec validates a request with kin-openapi's openapi3filter,
// formats included. A body with a member name twice is refused: RFC 8259
// leaves its meaning to the reader, and this API's readers refuse it.
func validateAgainstSpec(r genRequest, item *openapi3.PathItem) error {
	if r.body != "" {
		var v any
		if err := json.Unmarshal([]byte(r.body), &v); err != nil {
			return fmt.Errorf("not a single JSON value without duplicate names: %w", err)
		}
	}
	u := &url.URL{Scheme: "https", Host: "api.example", Path: fillPath(r.resource, r.path)}
	q := url.Values{}
	for k, v := range r.query {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	req, _ := http.NewRequest(r.method, u.String(), strings.NewReader(r.body))
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: r.path,
		Route:      &routers.Route{Spec: spec.Doc, Path: r.resource, PathItem: item, Method: r.method, Operation: r.op},
		Options: &openapi3filter.Options{
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()},
		},
	})
}

func fillPath(resource string, params map[string]string) string {
	for k, v := range params {
		resource = strings.ReplaceAll(resource, "{"+k+"}", v)
	}
	return resource
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// generator makes values of schemas, deterministically from its seed.
type generator struct {
	rnd *rand.Rand
	// existing are path parameter values of resources that exist.
	existing map[string]string
	// seq makes every generated timestamp distinct.
	seq int
}

// request makes a valid request of an operation; boundary favours the
// bounds of every length, count and range.
func (g *generator) request(method, resource string, item *openapi3.PathItem, op *openapi3.Operation, boundary bool) genRequest {
	r := genRequest{op: op, method: method, resource: resource, path: map[string]string{}, query: map[string]string{}, headers: map[string]string{}}
	params := append(slices.Clone(item.Parameters), op.Parameters...)
	for _, p := range params {
		param := p.Value
		// A cursor the generator makes is never one of the listing's: send few.
		if !param.Required && (g.rnd.IntN(2) == 0 || param.Name == "cursor" && g.rnd.IntN(4) > 0) {
			continue
		}
		v := g.value(param.Schema.Value, param.Name, boundary)
		s := fmt.Sprint(v)
		switch param.In {
		case "path":
			if v, ok := g.existing[param.Name]; ok && g.rnd.IntN(3) > 0 {
				s = v
			}
			r.path[param.Name] = s
		case "query":
			r.query[param.Name] = s
		case "header":
			r.headers[param.Name] = s
		}
	}
	if from, to := r.query["from"], r.query["to"]; from != "" && to != "" && from > to {
		r.query["from"], r.query["to"] = to, from
	}
	if op.RequestBody != nil {
		media := op.RequestBody.Value.Content.Get("application/json")
		r.body = string(mustJSON(g.value(media.Schema.Value, "body", boundary)))
		r.headers["Content-Type"] = "application/json"
	}
	return r
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		panic(err)
	}
	return b
}

// realistic gives, for a few members, values that also keep the
// functions' stricter rules, so that most valid requests reach the store:
// three in four take one; the others come from the schema alone.
var realistic = map[string]func(g *generator) any{
	"year": func(g *generator) any {
		return int64(fleet.MinVehicleYear + g.rnd.IntN(testNow.Year()+2-fleet.MinVehicleYear))
	},
	"If-Match": func(g *generator) any { return []string{`"1"`, "*", `"2"`}[g.rnd.IntN(3)] },
}

// value makes a valid value of a schema. name says what the value is for,
// to make realistic keys and timestamps.
func (g *generator) value(s *openapi3.Schema, name string, boundary bool) any {
	if f, ok := realistic[name]; ok && g.rnd.IntN(4) > 0 {
		return f(g)
	}
	switch {
	case len(s.Enum) > 0:
		return s.Enum[g.rnd.IntN(len(s.Enum))]
	case s.Type.Is("object"):
		return g.object(s, name, boundary)
	case s.Type.Is("array"):
		n := g.count(s.MinItems, s.MaxItems, boundary, 3)
		out := make([]any, n)
		for i := range out {
			out[i] = g.value(s.Items.Value, name, boundary)
		}
		return out
	case s.Type.Is("integer"):
		lo, hi := 0.0, 1000.0
		if s.Min != nil {
			lo = *s.Min
		}
		if s.Max != nil {
			hi = *s.Max
		}
		switch g.rnd.IntN(3) {
		case 0:
			return int64(lo)
		case 1:
			return int64(hi)
		}
		return int64(lo) + g.rnd.Int64N(int64(hi-lo)+1)
	case s.Type.Is("number"):
		if g.rnd.IntN(300) == 0 {
			return (g.rnd.Float64() - 0.5) * 2e6 // may leave a known signal's range
		}
		return float64(g.rnd.IntN(90_000)) / 1000
	case s.Format == "date-time":
		g.seq++
		t := testNow.Add(-time.Duration(g.seq) * 1500 * time.Millisecond)
		if g.rnd.IntN(2) == 0 {
			return t.Format("2006-01-02T15:04:05.000Z07:00")
		}
		return t.In(time.FixedZone("", 5*3600+30*60)).Format(time.RFC3339Nano)
	case s.Pattern != "":
		return g.fromPattern(s)
	default:
		return g.text(int(s.MinLength), maxLen(s, 40), boundary)
	}
}

func (g *generator) object(s *openapi3.Schema, name string, boundary bool) map[string]any {
	out := map[string]any{}
	for _, prop := range slices.Sorted(maps.Keys(s.Properties)) {
		if slices.Contains(s.Required, prop) || boundary || g.rnd.IntN(2) == 0 {
			out[prop] = g.value(s.Properties[prop].Value, prop, boundary)
		}
	}
	if extra := s.AdditionalProperties.Schema; extra != nil {
		minN := uint64(0)
		if s.MinProps > 0 {
			minN = s.MinProps
		}
		n := g.count(minN, s.MaxProps, boundary, 4)
		for len(out) < n {
			out[g.key(name)] = g.value(extra.Value, name, boundary)
		}
	}
	return out
}

// key makes a member name of a map: a signal (known, or a well-formed VSS
// path), or a metadata key of letters, spaces and non-ASCII text.
func (g *generator) key(name string) string {
	switch name {
	case "signals":
		known := fleet.KnownSignals()
		if g.rnd.IntN(2) == 0 {
			return known[g.rnd.IntN(len(known))].Name
		}
		return fmt.Sprintf("Vehicle.Custom.S%d", g.rnd.IntN(1_000_000))
	default:
		return g.text(1, 64, g.rnd.IntN(4) == 0)
	}
}

// count picks how many items or members: the bounds when boundary, else a
// few; a large maximum is capped for speed unless boundary.
func (g *generator) count(lo uint64, hi *uint64, boundary bool, typical int) int {
	max := uint64(typical)
	if hi != nil {
		max = *hi
	}
	if boundary {
		if g.rnd.IntN(2) == 0 {
			return int(lo)
		}
		return int(max)
	}
	top := min(max, lo+uint64(typical))
	return int(lo) + g.rnd.IntN(int(top-lo)+1)
}

var textRunes = []rune("aZ09 -_.€üßŠ中文😀")

// text makes n characters of letters, digits, spaces, non-ASCII and
// astral-plane characters, n between lo and hi, at a bound when boundary.
func (g *generator) text(lo, hi int, boundary bool) string {
	n := lo + g.rnd.IntN(hi-lo+1)
	if boundary {
		n = []int{lo, hi}[g.rnd.IntN(2)]
	}
	var b strings.Builder
	for range n {
		b.WriteRune(textRunes[g.rnd.IntN(len(textRunes))])
	}
	return b.String()
}

func maxLen(s *openapi3.Schema, def int) int {
	if s.MaxLength != nil {
		return int(*s.MaxLength)
	}
	return def
}

// fromPattern makes a string matching the schema's pattern within its
// length bounds, by walking the pattern's syntax tree.
func (g *generator) fromPattern(s *openapi3.Schema) string {
	re, err := syntax.Parse(s.Pattern, syntax.Perl)
	if err != nil {
		panic(fmt.Sprintf("pattern %q: %v", s.Pattern, err))
	}
	check := regexp.MustCompile(s.Pattern)
	for range 100 {
		var b strings.Builder
		g.emit(&b, re.Simplify())
		out := b.String()
		n := utf8.RuneCountInString(out)
		if check.MatchString(out) && n >= int(s.MinLength) && n <= maxLen(s, 1<<20) {
			return out
		}
	}
	panic(fmt.Sprintf("no string of pattern %q fits the schema's lengths", s.Pattern))
}

func (g *generator) emit(b *strings.Builder, re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		// Pairs of ranges: pick a range, then a rune, favouring the edges.
		i := g.rnd.IntN(len(re.Rune)/2) * 2
		lo, hi := re.Rune[i], re.Rune[i+1]
		switch g.rnd.IntN(4) {
		case 0:
			b.WriteRune(lo)
		case 1:
			b.WriteRune(hi)
		default:
			b.WriteRune(lo + rune(g.rnd.IntN(int(hi-lo)+1)))
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			g.emit(b, sub)
		}
	case syntax.OpAlternate:
		g.emit(b, re.Sub[g.rnd.IntN(len(re.Sub))])
	case syntax.OpCapture:
		g.emit(b, re.Sub[0])
	case syntax.OpQuest:
		if g.rnd.IntN(2) == 0 {
			g.emit(b, re.Sub[0])
		}
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		lo, hi := 0, 8
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 {
				hi = lo + 8
			}
		}
		n := []int{lo, hi, lo + g.rnd.IntN(hi-lo+1)}[g.rnd.IntN(3)]
		for range n {
			g.emit(b, re.Sub[0])
		}
	case syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpEmptyMatch:
	default:
		panic(fmt.Sprintf("pattern operator %v is not generated", re.Op))
	}
}

// mutate breaks a valid request by one change; it returns the request
// unchanged, with no mutation, when the change does not apply.
func (g *generator) mutate(r genRequest, item *openapi3.PathItem, op *openapi3.Operation) genRequest {
	kinds := []string{"parameter"}
	if r.body != "" {
		kinds = append(kinds, "missing", "type", "range", "unknown", "case", "null", "duplicate", "range", "type")
	}
	switch kind := kinds[g.rnd.IntN(len(kinds))]; kind {
	case "parameter":
		return g.mutateParameter(r, item, op)
	case "duplicate":
		// The first member again, with another valid value: JSON text
		// that a lenient decoder reads as its last value.
		var first string
		if dec := jsontext.NewDecoder(strings.NewReader(r.body)); true {
			dec.ReadToken()
			if tok, err := dec.ReadToken(); err == nil {
				first = tok.String()
				v, _ := dec.ReadValue()
				r.body = "{" + string(mustJSON(first)) + ":" + string(v) + "," + r.body[1:]
				r.mutation = "member " + first + " twice"
			}
		}
		return r
	default:
		var body any
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			panic(err)
		}
		media := op.RequestBody.Value.Content.Get("application/json")
		if desc := g.mutateValue(&body, media.Schema.Value, kind, "body"); desc != "" {
			r.body, r.mutation = string(mustJSON(body)), desc
		}
		return r
	}
}

// mutateValue changes one member of v (of schema s) by kind, somewhere in
// the tree, and says what it did; "" when nothing could be changed.
func (g *generator) mutateValue(v *any, s *openapi3.Schema, kind, at string) string {
	switch x := (*v).(type) {
	case map[string]any:
		names := slices.Sorted(maps.Keys(x))
		// Descend into a member half of the time, when there is one to descend into.
		if len(names) > 0 && g.rnd.IntN(2) == 0 {
			name := names[g.rnd.IntN(len(names))]
			sub := s.AdditionalProperties.Schema
			if p, ok := s.Properties[name]; ok {
				sub = p
			}
			if sub != nil {
				child := x[name]
				if desc := g.mutateValue(&child, sub.Value, kind, at+"."+name); desc != "" {
					x[name] = child
					return desc
				}
			}
		}
		switch kind {
		case "missing":
			if len(s.Required) > 0 {
				name := s.Required[g.rnd.IntN(len(s.Required))]
				delete(x, name)
				return "no " + at + "." + name
			}
		case "unknown":
			if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
				x["extra"] = 1
				return "unknown member " + at + ".extra"
			}
		case "case":
			for _, name := range names {
				if _, declared := s.Properties[name]; declared && strings.ToUpper(name) != name {
					x[strings.ToUpper(name)] = x[name]
					delete(x, name)
					return "member " + at + "." + name + " in upper case"
				}
			}
		case "null", "type":
			if len(names) > 0 {
				name := names[g.rnd.IntN(len(names))]
				if kind == "null" {
					x[name] = nil
					return at + "." + name + " null"
				}
				x[name] = wrongType(x[name])
				return at + "." + name + " of the wrong type"
			}
		case "range":
			if s.MaxProps != nil && s.AdditionalProperties.Schema != nil {
				for uint64(len(x)) <= *s.MaxProps {
					x[g.key(at)] = g.value(s.AdditionalProperties.Schema.Value, at, false)
				}
				return at + " with one member too many"
			}
		}
	case []any:
		if len(x) > 0 && g.rnd.IntN(2) == 0 {
			i := g.rnd.IntN(len(x))
			if desc := g.mutateValue(&x[i], s.Items.Value, kind, fmt.Sprintf("%s[%d]", at, i)); desc != "" {
				return desc
			}
		}
		if kind == "range" && s.MaxItems != nil {
			for uint64(len(x)) <= *s.MaxItems {
				x = append(x, g.value(s.Items.Value, at, false))
			}
			*v = x
			return at + " with one item too many"
		}
	case string:
		if kind == "range" && s.MaxLength != nil {
			*v = x + strings.Repeat("é", int(*s.MaxLength)+1-utf8.RuneCountInString(x))
			return at + " one character too long"
		}
	case float64, int64:
		if kind == "range" && s.Max != nil && s.Type.Is("integer") {
			*v = int64(*s.Max) + 1
			return at + " one above its maximum"
		}
		if kind == "range" && s.Min != nil && s.Type.Is("integer") {
			*v = int64(*s.Min) - 1
			return at + " one below its minimum"
		}
	}
	return ""
}

func wrongType(v any) any {
	switch v.(type) {
	case string:
		return 42
	case map[string]any, []any:
		return "text"
	default:
		return "42"
	}
}

// mutateParameter breaks one parameter: a value just out of range, a
// wrong type, one not in the enum or not of the pattern or format.
func (g *generator) mutateParameter(r genRequest, item *openapi3.PathItem, op *openapi3.Operation) genRequest {
	params := append(slices.Clone(item.Parameters), op.Parameters...)
	if len(params) == 0 {
		return r
	}
	p := params[g.rnd.IntN(len(params))].Value
	s := p.Schema.Value
	var bad string
	switch {
	case len(s.Enum) > 0:
		bad = "sideways"
	case s.Type.Is("integer") && s.Max != nil:
		bad = []string{fmt.Sprint(int64(*s.Max) + 1), fmt.Sprint(int64(*s.Min) - 1), "ten"}[g.rnd.IntN(3)]
	case s.Format == "date-time":
		bad = []string{"yesterday", "2026-11-26", testNow.Format(time.RFC3339) + strings.Repeat("0", 30)}[g.rnd.IntN(3)]
	case s.Pattern != "":
		bad = []string{"a b", "x", strings.Repeat("Z", 200)}[g.rnd.IntN(3)]
	case s.MaxLength != nil:
		bad = strings.Repeat("c", int(*s.MaxLength)+1)
	default:
		return r
	}
	r.path, r.query, r.headers = maps.Clone(r.path), maps.Clone(r.query), maps.Clone(r.headers)
	switch p.In {
	case "path":
		r.path[p.Name] = bad
	case "query":
		r.query[p.Name] = bad
	case "header":
		r.headers[p.Name] = bad
	}
	r.mutation = p.In + " parameter " + p.Name + " = " + strings.TrimSpace(bad[:min(len(bad), 40)])
	return r
}
