// Package metricmath evaluates, for tests, the CloudWatch metric math of an
// alarm's Metrics as a template writes them, at one timestamp: numbers,
// + - * /, comparisons, parentheses, FILL(x, value) and IF(cond, a, b),
// the subset the construct writes. A metric without a data point at the
// timestamp is missing; arithmetic on a missing value is missing (so a sum
// over sparse metrics loses the timestamp unless every term is FILLed),
// FILL turns it into its value, IF of a missing condition is missing.
//
// CloudWatch's syntax for these is Go's, so go/parser reads it.
package metricmath

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
)

// Query is one entry of an alarm's Metrics: an expression or a metric.
type Query struct {
	ID         string
	Expression string
	ReturnData bool
}

// Value is a data point or its absence.
type Value struct {
	V       float64
	Missing bool
}

// Point is a present data point.
func Point(v float64) Value { return Value{V: v} }

// Missing is the absence of a data point.
var Missing = Value{Missing: true}

// Queries reads the Metrics of an AWS::CloudWatch::Alarm's properties.
func Queries(props map[string]any) ([]Query, error) {
	raw, ok := props["Metrics"].([]any)
	if !ok {
		return nil, errors.New("the alarm has no Metrics")
	}
	var out []Query
	for _, m := range raw {
		m, _ := m.(map[string]any)
		id, _ := m["Id"].(string)
		expr, _ := m["Expression"].(string)
		ret, ok := m["ReturnData"].(bool)
		if !ok {
			ret = true // CloudWatch's default
		}
		out = append(out, Query{ID: id, Expression: expr, ReturnData: ret})
	}
	return out, nil
}

// Evaluate returns the value of the query that returns data, given the
// value of every metric (a query without an expression) by its ID; an ID
// absent from metrics is a metric without a data point.
func Evaluate(queries []Query, metrics map[string]Value) (Value, error) {
	byID := map[string]Query{}
	var result *Query
	for i, q := range queries {
		byID[q.ID] = q
		if q.ReturnData {
			if result != nil {
				return Value{}, fmt.Errorf("queries %s and %s both return data", result.ID, q.ID)
			}
			result = &queries[i]
		}
	}
	if result == nil {
		return Value{}, errors.New("no query returns data")
	}
	e := evaluator{byID: byID, metrics: metrics, done: map[string]Value{}}
	return e.query(result.ID, 0)
}

type evaluator struct {
	byID    map[string]Query
	metrics map[string]Value
	done    map[string]Value
}

func (e *evaluator) query(id string, depth int) (Value, error) {
	if v, ok := e.done[id]; ok {
		return v, nil
	}
	q, ok := e.byID[id]
	if !ok {
		return Value{}, fmt.Errorf("unknown id %q", id)
	}
	if depth > len(e.byID) {
		return Value{}, fmt.Errorf("%s refers to itself", id)
	}
	var v Value
	if q.Expression == "" {
		v, ok = e.metrics[id]
		if !ok {
			v = Missing
		}
	} else {
		x, err := parser.ParseExpr(q.Expression)
		if err != nil {
			return Value{}, fmt.Errorf("%s: %q: %w", id, q.Expression, err)
		}
		if v, err = e.eval(x, depth); err != nil {
			return Value{}, fmt.Errorf("%s: %w", id, err)
		}
	}
	e.done[id] = v
	return v, nil
}

func (e *evaluator) eval(x ast.Expr, depth int) (Value, error) {
	switch x := x.(type) {
	case *ast.BasicLit:
		f, err := strconv.ParseFloat(x.Value, 64)
		return Point(f), err
	case *ast.Ident:
		return e.query(x.Name, depth+1)
	case *ast.ParenExpr:
		return e.eval(x.X, depth)
	case *ast.UnaryExpr:
		v, err := e.eval(x.X, depth)
		if err != nil || v.Missing || x.Op != token.SUB {
			if err == nil && x.Op != token.SUB {
				err = fmt.Errorf("operator %s", x.Op)
			}
			return v, err
		}
		return Point(-v.V), nil
	case *ast.BinaryExpr:
		a, err := e.eval(x.X, depth)
		if err != nil {
			return Value{}, err
		}
		b, err := e.eval(x.Y, depth)
		if err != nil {
			return Value{}, err
		}
		if a.Missing || b.Missing {
			return Missing, nil
		}
		return binary(x.Op, a.V, b.V)
	case *ast.CallExpr:
		fn, _ := x.Fun.(*ast.Ident)
		if fn == nil {
			return Value{}, errors.New("a call of something other than a function")
		}
		args := make([]Value, len(x.Args))
		for i, a := range x.Args {
			v, err := e.eval(a, depth)
			if err != nil {
				return Value{}, err
			}
			args[i] = v
		}
		switch {
		case fn.Name == "FILL" && len(args) == 2:
			if args[0].Missing {
				return args[1], nil
			}
			return args[0], nil
		case fn.Name == "IF" && len(args) == 3:
			if args[0].Missing {
				return Missing, nil
			}
			if args[0].V != 0 {
				return args[1], nil
			}
			return args[2], nil
		}
		return Value{}, fmt.Errorf("function %s with %d arguments is not supported", fn.Name, len(args))
	}
	return Value{}, fmt.Errorf("unsupported expression %T", x)
}

func binary(op token.Token, a, b float64) (Value, error) {
	truth := func(ok bool) Value {
		if ok {
			return Point(1)
		}
		return Point(0)
	}
	switch op {
	case token.ADD:
		return Point(a + b), nil
	case token.SUB:
		return Point(a - b), nil
	case token.MUL:
		return Point(a * b), nil
	case token.QUO:
		if b == 0 {
			return Missing, nil // no number: the construct guards its divisions with IF
		}
		return Point(a / b), nil
	case token.GTR:
		return truth(a > b), nil
	case token.GEQ:
		return truth(a >= b), nil
	case token.LSS:
		return truth(a < b), nil
	case token.LEQ:
		return truth(a <= b), nil
	}
	return Value{}, fmt.Errorf("operator %s is not supported", op)
}
