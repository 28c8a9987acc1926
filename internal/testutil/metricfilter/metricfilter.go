// Package metricfilter evaluates, for tests, a CloudWatch Logs metric
// filter on JSON log lines, as "Filter pattern syntax for metric filters"
// (Amazon CloudWatch Logs User Guide, JSON log events) describes it: a
// pattern { expr } where expr is a comparison of a JSON field, $.a.b, with
// a number (= != < > <= >=), a string (= !=, quoted or bare, * a wildcard
// for any characters), or * alone (the field exists), or such
// comparisons in parentheses joined by && and ||. A field the pattern
// does not reach never matches. The subset the construct writes; anything
// else is an error, not a guess.
package metricfilter

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Match reports whether pattern matches the JSON log line.
func Match(pattern string, line []byte) (bool, error) {
	var doc any
	if err := json.Unmarshal(line, &doc); err != nil {
		return false, fmt.Errorf("metricfilter: the line is not JSON: %w", err)
	}
	p := strings.TrimSpace(pattern)
	if !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") {
		return false, fmt.Errorf("metricfilter: %q is not a JSON pattern { … }", pattern)
	}
	return eval(strings.TrimSpace(p[1:len(p)-1]), doc)
}

// Field returns the value of a selector, $.a.b, in the JSON line, and
// whether the line has it.
func Field(selector string, line []byte) (any, bool) {
	var doc any
	if json.Unmarshal(line, &doc) != nil {
		return nil, false
	}
	return lookup(selector, doc)
}

func lookup(selector string, doc any) (any, bool) {
	path, ok := strings.CutPrefix(selector, "$.")
	if !ok {
		return nil, false
	}
	v := doc
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// eval evaluates (a) && (b) || (c) …, left to right with && binding
// tighter, or one comparison.
func eval(expr string, doc any) (bool, error) {
	if terms := split(expr, "||"); len(terms) > 1 {
		for _, t := range terms {
			ok, err := eval(t, doc)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	if terms := split(expr, "&&"); len(terms) > 1 {
		for _, t := range terms {
			ok, err := eval(t, doc)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}
	if strings.HasPrefix(expr, "(") && strings.HasSuffix(expr, ")") {
		return eval(strings.TrimSpace(expr[1:len(expr)-1]), doc)
	}
	return compare(expr, doc)
}

// split cuts expr at op outside parentheses and quotes.
func split(expr, op string) []string {
	var out []string
	depth, quoted, last := 0, false, 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(expr[i:], op):
			out = append(out, strings.TrimSpace(expr[last:i]))
			i += len(op) - 1
			last = i + 1
		}
	}
	return append(out, strings.TrimSpace(expr[last:]))
}

var comparison = regexp.MustCompile(`^(\$\.[A-Za-z0-9_.]+)\s*(=|!=|<=|>=|<|>)\s*(.+)$`)

func compare(expr string, doc any) (bool, error) {
	m := comparison.FindStringSubmatch(expr)
	if m == nil {
		return false, fmt.Errorf("metricfilter: %q is not a comparison of a field", expr)
	}
	v, ok := lookup(m[1], doc)
	if !ok {
		return false, nil
	}
	op, want := m[2], strings.TrimSpace(m[3])
	if n, err := strconv.ParseFloat(want, 64); err == nil {
		got, isNumber := v.(float64)
		if !isNumber {
			return false, nil
		}
		switch op {
		case "=":
			return got == n, nil
		case "!=":
			return got != n, nil
		case "<":
			return got < n, nil
		case ">":
			return got > n, nil
		case "<=":
			return got <= n, nil
		default:
			return got >= n, nil
		}
	}
	if op != "=" && op != "!=" {
		return false, fmt.Errorf("metricfilter: %q compares a string with %s", expr, op)
	}
	if unq, err := strconv.Unquote(want); err == nil {
		want = unq
	}
	var got string
	switch v := v.(type) {
	case string:
		got = v
	case float64, bool:
		got = fmt.Sprint(v)
	default:
		return false, nil
	}
	re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(want), `\*`, ".*") + "$")
	return re.MatchString(got) == (op == "="), nil
}
