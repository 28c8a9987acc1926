// Package iampolicy evaluates AWS IAM policies as IAM does, for the parts
// of the policy language this project writes: Allow and Deny statements,
// Action and NotAction, Resource and NotResource with the wildcards '*'
// and '?', Principal in resource-based policies (trust policies among
// them), policy variables with defaults, and the string, ARN, Bool and
// Null condition operators with their ForAllValues/ForAnyValue and
// IfExists forms. No Go library of AWS's evaluation logic is kept up
// (none was found); this one is small and its tests are AWS's own
// documented examples.
//
// The rules, from the IAM User Guide: "Policy evaluation logic" (an
// explicit deny in any policy wins; else an allow in an identity-based or,
// within one account, a resource-based policy allows; else the request is
// implicitly denied), "IAM JSON policy elements: Action" (action names are
// not case sensitive) and ": Resource" (ARNs are; '*' matches any
// characters, '?' one), "IAM policy elements: Variables and tags" (a
// variable with no value makes its element match nothing) and
// "IAM JSON policy elements: Condition operators".
package iampolicy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Document is an IAM policy document.
type Document struct {
	Version   string
	Statement []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid          string
	Effect       string
	Principal    Principal
	NotPrincipal Principal
	Action       Strings
	NotAction    Strings
	Resource     Strings
	NotResource  Strings
	// Condition maps operator → key → values.
	Condition map[string]map[string]Strings
}

// Strings is a policy value that is one string or a list of them.
type Strings []string

// UnmarshalJSON reads a string or a list of strings; a JSON boolean or
// number (as Bool and Numeric conditions may hold) is read as its text.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make(Strings, 0, len(list))
	for _, e := range list {
		switch e := e.(type) {
		case string:
			out = append(out, e)
		case bool, float64:
			out = append(out, fmt.Sprint(e))
		default:
			return fmt.Errorf("want a string or a list of strings, got %s", b)
		}
	}
	*s = out
	return nil
}

// Principal is a statement's Principal: "*", or principals by kind
// ("AWS", "Service", "Federated").
type Principal struct {
	Any   bool
	ByKey map[string]Strings
}

// UnmarshalJSON reads "*" or an object of kinds.
func (p *Principal) UnmarshalJSON(b []byte) error {
	var star string
	if err := json.Unmarshal(b, &star); err == nil {
		if star != "*" {
			return fmt.Errorf("principal %q: want \"*\" or an object", star)
		}
		p.Any = true
		return nil
	}
	return json.Unmarshal(b, &p.ByKey)
}

func (p Principal) empty() bool { return !p.Any && len(p.ByKey) == 0 }

// Parse reads a policy document.
func Parse(data []byte) (Document, error) {
	var raw struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Document{}, fmt.Errorf("policy: %w", err)
	}
	doc := Document{Version: raw.Version}
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		var s Statement
		if err := json.Unmarshal(raw.Statement, &s); err != nil {
			return Document{}, fmt.Errorf("policy statement: %w", err)
		}
		doc.Statement = []Statement{s}
	} else if err := json.Unmarshal(raw.Statement, &doc.Statement); err != nil {
		return Document{}, fmt.Errorf("policy statements: %w", err)
	}
	for i, s := range doc.Statement {
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return Document{}, fmt.Errorf("statement %d: effect %q, want Allow or Deny", i, s.Effect)
		}
	}
	return doc, nil
}

// MustParse is Parse for policies written in code; it panics on an error.
func MustParse(data string) Document {
	d, err := Parse([]byte(data))
	if err != nil {
		panic(err)
	}
	return d
}

// Request is what IAM evaluates: who asks, for which action on which
// resource, with which request context. Context keys are matched without
// regard to case, as IAM matches condition keys.
type Request struct {
	// Principal is the caller's ARN: a role session's
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, a user's, a role's.
	Principal string
	// Service is set, instead of Principal, when an AWS service calls
	// (for a trust policy: "credentials.iot.amazonaws.com").
	Service  string
	Action   string
	Resource string
	Context  map[string][]string
}

func (r Request) value(key string) ([]string, bool) {
	for k, v := range r.Context {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	// IAM puts the principal's ARN in the context of every signed
	// request, the role's for a role session ("AWS global condition
	// context keys": aws:PrincipalArn).
	if strings.EqualFold(key, "aws:PrincipalArn") {
		if arn := principalArn(r.Principal); arn != "" {
			return []string{arn}, true
		}
	}
	return nil, false
}

// principalArn is the aws:PrincipalArn of a caller: an IAM role's or
// user's ARN as it is, a role session's role's, "" for anything else.
func principalArn(caller string) string {
	f := strings.SplitN(caller, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return ""
	}
	switch {
	case f[2] == "iam" && (strings.HasPrefix(f[5], "role/") || strings.HasPrefix(f[5], "user/")):
		return caller
	case f[2] == "sts" && strings.HasPrefix(f[5], "assumed-role/"):
		role, _, ok := strings.Cut(strings.TrimPrefix(f[5], "assumed-role/"), "/")
		if ok && role != "" {
			return "arn:" + f[1] + ":iam::" + f[4] + ":role/" + role
		}
	}
	return ""
}

// Decision is the outcome of an evaluation.
type Decision int

// The three outcomes of "Policy evaluation logic".
const (
	ImplicitDeny Decision = iota
	Allow
	ExplicitDeny
)

func (d Decision) String() string {
	return [...]string{"implicit deny", "allow", "explicit deny"}[d]
}

// match says how one policy treats a request: whether a statement
// denies it, whether one allows it.
func (d Document) match(r Request) (allows, denies bool) {
	for _, s := range d.Statement {
		if !s.applies(r) {
			continue
		}
		if s.Effect == "Deny" {
			denies = true
		} else {
			allows = true
		}
	}
	return allows, denies
}

// Evaluate decides a request of one account under the caller's
// identity-based policies and, optionally, the resource's own policy: an
// explicit deny in either wins; else an allow in either allows.
func Evaluate(r Request, identity []Document, resource *Document) Decision {
	allowed := false
	docs := identity
	if resource != nil {
		docs = append(append([]Document{}, identity...), *resource)
	}
	for _, d := range docs {
		a, deny := d.match(r)
		if deny {
			return ExplicitDeny
		}
		allowed = allowed || a
	}
	if allowed {
		return Allow
	}
	return ImplicitDeny
}

// EvaluateAssumeRole decides an sts:AssumeRole (or sts:TagSession) by a
// principal of the role's account. A role's trust policy must allow the
// caller itself ("Policy evaluation logic": role trust policies are an
// exception to the rule that either policy suffices); when its allowing
// statement names the caller's role or user by ARN, that is enough; when
// it names only the account, the caller's identity-based policy must
// allow too. An explicit deny anywhere wins.
func EvaluateAssumeRole(r Request, identity []Document, trust Document) Decision {
	for _, d := range identity {
		if _, deny := d.match(r); deny {
			return ExplicitDeny
		}
	}
	named, accountOnly := false, false
	for _, s := range trust.Statement {
		if !s.applies(r) {
			continue
		}
		if s.Effect == "Deny" {
			return ExplicitDeny
		}
		if s.namesCaller(r) {
			named = true
		} else {
			accountOnly = true
		}
	}
	switch {
	case named:
		return Allow
	case accountOnly && Evaluate(r, identity, nil) == Allow:
		return Allow
	}
	return ImplicitDeny
}

// applies reports whether a statement matches a request: principal (in a
// resource-based policy), action, resource and every condition.
func (s Statement) applies(r Request) bool {
	if !s.Principal.empty() && !s.Principal.matches(r) {
		return false
	}
	if !s.NotPrincipal.empty() && s.NotPrincipal.matches(r) {
		return false
	}
	switch {
	case len(s.Action) > 0 && !anyMatch(s.Action, r.Action, true, r):
		return false
	case len(s.NotAction) > 0 && anyMatch(s.NotAction, r.Action, true, r):
		return false
	case len(s.Resource) > 0 && !anyMatch(s.Resource, r.Resource, false, r):
		return false
	case len(s.NotResource) > 0 && anyMatch(s.NotResource, r.Resource, false, r):
		return false
	}
	for op, keys := range s.Condition {
		for key, values := range keys {
			if !condition(op, key, values, r) {
				return false
			}
		}
	}
	return true
}

// callerPrincipal is the role or user a request's principal ARN is: an
// assumed role's session is its role.
func callerPrincipal(arn string) (account, roleOrUser string) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 {
		return "", ""
	}
	account = f[4]
	if f[2] == "sts" && strings.HasPrefix(f[5], "assumed-role/") {
		role, _, _ := strings.Cut(strings.TrimPrefix(f[5], "assumed-role/"), "/")
		return account, "arn:" + f[1] + ":iam::" + account + ":role/" + role
	}
	return account, arn
}

func (p Principal) matches(r Request) bool {
	if p.Any {
		return true
	}
	if r.Service != "" {
		for _, s := range p.ByKey["Service"] {
			if s == r.Service {
				return true
			}
		}
		return false
	}
	account, self := callerPrincipal(r.Principal)
	if account == "" {
		return false
	}
	root := "arn:" + strings.SplitN(r.Principal, ":", 3)[1] + ":iam::" + account + ":root"
	for _, a := range p.ByKey["AWS"] {
		if a == "*" || a == account || a == root || a == self || a == r.Principal {
			return true
		}
	}
	return false
}

// namesCaller reports whether a statement's Principal names the caller's
// own role or user, not just its account.
func (s Statement) namesCaller(r Request) bool {
	if r.Service != "" {
		return true
	}
	_, self := callerPrincipal(r.Principal)
	for _, a := range s.Principal.ByKey["AWS"] {
		if a == self || a == r.Principal {
			return true
		}
	}
	return false
}

func anyMatch(patterns []string, s string, fold bool, r Request) bool {
	for _, p := range patterns {
		p, ok := substitute(p, r)
		if !ok {
			continue // a variable with no value: this pattern matches nothing
		}
		if fold {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// substitute replaces the policy variables of s (${key}, ${key, 'default'},
// and the escapes ${*}, ${?}, ${$}) by their values in the request
// context; ok is false when a variable has no value and no default.
// A substituted value is taken literally: its '*' and '?' match themselves.
func substitute(s string, r Request) (string, bool) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(quoteWildcards(s, false))
			return b.String(), true
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			b.WriteString(quoteWildcards(s, false))
			return b.String(), true
		}
		b.WriteString(quoteWildcards(s[:i], false))
		inner := s[i+2 : i+j]
		s = s[i+j+1:]
		switch inner {
		case "*", "?", "$":
			b.WriteString(quoteWildcards(inner, true))
			continue
		}
		key, def, hasDefault := strings.Cut(inner, ",")
		key = strings.TrimSpace(key)
		if v, ok := r.value(key); ok && len(v) == 1 {
			b.WriteString(quoteWildcards(v[0], true))
			continue
		}
		def = strings.TrimSpace(def)
		if hasDefault && len(def) >= 2 && def[0] == '\'' && def[len(def)-1] == '\'' {
			b.WriteString(quoteWildcards(def[1:len(def)-1], true))
			continue
		}
		return "", false
	}
}

// Literal wildcards are written as \x01 and \x02 so that wildcard matches
// them as themselves.
const (
	literalStar  = "\x01"
	literalQuery = "\x02"
)

func quoteWildcards(s string, literal bool) string {
	if !literal {
		return s
	}
	return strings.NewReplacer("*", literalStar, "?", literalQuery).Replace(s)
}

// wildcard matches s against pattern: '*' any characters, '?' one.
func wildcard(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if wildcard(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
		case literalStar[0], literalQuery[0]:
			lit := map[byte]byte{literalStar[0]: '*', literalQuery[0]: '?'}[pattern[0]]
			if len(s) == 0 || s[0] != lit {
				return false
			}
		default:
			if len(s) == 0 || s[0] != pattern[0] {
				return false
			}
		}
		pattern, s = pattern[1:], s[1:]
	}
	return len(s) == 0
}

// condition evaluates one operator on one key: any of the policy's values
// may match; a set operator (ForAllValues, ForAnyValue) compares each of
// the request's values.
func condition(op, key string, values []string, r Request) bool {
	op, ifExists := strings.CutSuffix(op, "IfExists")
	actual, present := r.value(key)
	if op == "Null" {
		want := len(values) == 1 && strings.EqualFold(values[0], "true")
		return want == !present
	}
	set := ""
	if s, rest, ok := strings.Cut(op, ":"); ok {
		set, op = s, rest
	}
	negated := strings.Contains(op, "Not")
	if !present {
		switch {
		case ifExists:
			return true
		case set == "ForAllValues":
			return true // no value fails "for all values"
		case set == "ForAnyValue":
			return false
		}
		return negated
	}
	// test says whether one of the request's values meets the operator:
	// any policy value matches it, or, negated, none does.
	test := func(a string) bool {
		for _, v := range values {
			if v, ok := substitute(v, r); ok && compare(op, a, v) {
				return !negated
			}
		}
		return negated
	}
	switch set {
	case "ForAllValues":
		for _, a := range actual {
			if !test(a) {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, a := range actual {
			if test(a) {
				return true
			}
		}
		return false
	}
	if len(actual) != 1 {
		return false // a single-valued operator on a multivalued key
	}
	return test(actual[0])
}

// compare applies a positive operator to a value and a (substituted)
// policy value; negated operators are handled by the caller.
func compare(op, a, v string) bool {
	switch strings.Replace(op, "Not", "", 1) {
	case "StringEquals":
		return a == unquote(v)
	case "StringEqualsIgnoreCase", "Bool":
		return strings.EqualFold(a, unquote(v))
	case "StringLike", "ArnLike", "ArnEquals":
		// ARN operators compare with wildcards, per ARN segment alike.
		return wildcard(v, a)
	}
	panic(fmt.Sprintf("iampolicy: condition operator %s is not supported", op))
}

// unquote undoes quoteWildcards for exact comparisons.
func unquote(s string) string {
	return strings.NewReplacer(literalStar, "*", literalQuery, "?").Replace(s)
}
