package fleetapi

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// The props are declared once each, in a table per props struct
// (propsDeclared, thresholdsDeclared, objectiveDeclared): the name errors
// of Go code give it, the key a settings object gives it (a stage of
// cdk.json, see Settings), its default, its rule and how a settings value
// becomes it. withDefaults, validate, Settings and the docs' tests all
// read these tables; a prop without a row has no default and no rule.

// prop declares one field of the props struct S.
type prop[S any] struct {
	// name is the prop's JSON name, as PropError names it: memorySize.
	name string
	// key is its name in a settings object, "" when a settings object
	// does not set it; optional keys may be left out of one.
	key      string
	optional bool
	// setDefault sets the field to its default when it is unset.
	setDefault func(*S)
	// check is the prop's rule, on props with their defaults: nil or a
	// *PropError naming it.
	check func(*S) error
	// set sets the field from a settings value (as encoding/json decodes
	// into an any); its error says what is allowed.
	set func(*S, any) error
	// keyOf names a member of a nested prop by its key: the rest of a
	// prop's path (period) becomes the rest of the setting's
	// (periodMinutes); nil for a prop that is not nested.
	keyOf func(rest string) string
	// docDefault is the default as the field's doc comment writes it
	// ("256", "awscdk.Duration_Days(jsii.Number(90))"), "" when it is
	// not one value; a test holds the doc to it.
	docDefault string
}

// withDefaults returns a copy of s with every unset field at its default.
func withDefaults[S any](decl []prop[S], s *S) S {
	var out S
	if s != nil {
		out = *s
	}
	for _, p := range decl {
		if p.setDefault != nil {
			p.setDefault(&out)
		}
	}
	return out
}

// checkAll runs the rules in declaration order: the first error.
func checkAll[S any](decl []prop[S], s *S) error {
	for _, p := range decl {
		if p.check == nil {
			continue
		}
		if err := p.check(s); err != nil {
			return err
		}
	}
	return nil
}

// bounds is the rule of a number: from min to max, whole or not; allowed
// says so in words, AWS's reason included.
type bounds struct {
	min, max float64
	// aboveMin and belowMax exclude min and max themselves.
	aboveMin, belowMax bool
	whole              bool
	allowed            string
}

// check returns a *PropError naming name when v is out of bounds; an unset
// or unresolved value passes.
func (b bounds) check(name string, v *float64) error {
	if v == nil || unresolved(*v) {
		return nil
	}
	n := *v
	if n < b.min || b.aboveMin && n == b.min || n > b.max || b.belowMax && n == b.max || b.whole && n != math.Trunc(n) {
		return &PropError{name, n, b.allowed}
	}
	return nil
}

// settingValueError is a settings value of the wrong type or form:
// Setting.Set names its key.
type settingValueError struct {
	value   any
	allowed string
}

func (e *settingValueError) Error() string { return e.allowed }

func settingNumber(v any) (float64, error) {
	n, ok := v.(float64)
	if !ok {
		return 0, &settingValueError{v, "must be a number"}
	}
	return n, nil
}

func settingBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, &settingValueError{v, "must be true or false"}
	}
	return b, nil
}

func settingObject(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &settingValueError{v, "must be an object"}
	}
	return m, nil
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// setIfUnset is a setDefault: field takes def() while it is unset.
func setIfUnset[S any, T comparable](field func(*S) *T, def func() T) func(*S) {
	return func(s *S) {
		var unset T
		if *field(s) == unset {
			*field(s) = def()
		}
	}
}

// setNumber is a set of a prop given as a number, made a T by of.
func setNumber[S, T any](field func(*S) *T, of func(*float64) T) func(*S, any) error {
	return func(s *S, v any) error {
		n, err := settingNumber(v)
		if err != nil {
			return err
		}
		*field(s) = of(jsii.Number(n))
		return nil
	}
}

// numberProp declares a *float64 prop: its default (nil: none) and bounds.
func numberProp[S any](name, key string, field func(*S) **float64, def *float64, b bounds) prop[S] {
	p := prop[S]{name: name, key: key,
		check: func(s *S) error { return b.check(name, *field(s)) },
		set:   setNumber(field, func(n *float64) *float64 { return n }),
	}
	if def != nil {
		p.setDefault = setIfUnset(field, func() *float64 { return jsii.Number(*def) })
		p.docDefault = formatNumber(*def)
	}
	return p
}

// flagProp declares a *bool prop with its default.
func flagProp[S any](name, key string, field func(*S) **bool, def bool) prop[S] {
	return prop[S]{name: name, key: key,
		setDefault: setIfUnset(field, func() *bool { return jsii.Bool(def) }),
		set: func(s *S, v any) error {
			b, err := settingBool(v)
			if err != nil {
				return err
			}
			*field(s) = jsii.Bool(b)
			return nil
		},
		docDefault: strconv.FormatBool(def),
	}
}

// timeUnit is a unit a duration prop is bounded in, and a settings
// object gives it in.
type timeUnit struct {
	name    string // as the CDK's constructors name it: Days
	seconds float64
	of      func(*float64) awscdk.Duration
}

var (
	inSeconds = timeUnit{"Seconds", 1, awscdk.Duration_Seconds}
	inMinutes = timeUnit{"Minutes", 60, awscdk.Duration_Minutes}
	inHours   = timeUnit{"Hours", 3600, awscdk.Duration_Hours}
	inDays    = timeUnit{"Days", 86_400, awscdk.Duration_Days}
)

// in is a duration in the unit, unresolved when the duration is.
func (u timeUnit) in(d awscdk.Duration) *float64 {
	ms := *d.ToMilliseconds(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
	if unresolved(ms) {
		return jsii.Number(ms)
	}
	return jsii.Number(ms / 1000 / u.seconds)
}

// durationProp declares an awscdk.Duration prop, bounded in unit, given in
// the settings as a number of unit (the key says which); def is its
// default in that unit (nil: none).
func durationProp[S any](name, key string, unit, defUnit timeUnit, field func(*S) *awscdk.Duration, def *float64, b bounds) prop[S] {
	p := prop[S]{name: name, key: key,
		check: func(s *S) error {
			if *field(s) == nil {
				return nil
			}
			return b.check(name, unit.in(*field(s)))
		},
		set: setNumber(field, unit.of),
	}
	if def != nil {
		p.setDefault = setIfUnset(field, func() awscdk.Duration { return defUnit.of(def) })
		p.docDefault = fmt.Sprintf("awscdk.Duration_%s(jsii.Number(%s))", defUnit.name, formatNumber(*def))
	}
	return p
}

// word is a value of an enum as a settings object writes it.
type word[T ~string] struct {
	word  string
	value T
}

// wordProp declares an enum prop: its default, its allowed values (the
// CDK's; "" is unset, and allowed) and the words a settings object names
// them by. goDefault is the default as Go code writes it.
func wordProp[S any, T ~string](name, key string, field func(*S) *T, def T, goDefault string, allowed []T, why string, words ...word[T]) prop[S] {
	var said []string
	for _, w := range words {
		said = append(said, strconv.Quote(w.word))
	}
	return prop[S]{name: name, key: key,
		setDefault: setIfUnset(field, func() T { return def }),
		check: func(s *S) error {
			if v := *field(s); v != "" && !slices.Contains(allowed, v) {
				return &PropError{name, v, fmt.Sprintf("allowed values are %v%s", allowed, why)}
			}
			return nil
		},
		set: func(s *S, v any) error {
			str, _ := v.(string)
			i := slices.IndexFunc(words, func(w word[T]) bool { return w.word == str })
			if i < 0 {
				return &settingValueError{v, "allowed values are " + strings.Join(said, ", ")}
			}
			*field(s) = words[i].value
			return nil
		},
		docDefault: goDefault,
	}
}

// nested declares a prop that is itself a props struct C, set from an
// object whose members are C's settings, checked by C's rules with the
// parent's name before theirs (alarmThresholds.period).
func nested[S, C any](name, key string, field func(*S) **C, decl []prop[C], cross func(*C) error) prop[S] {
	return prop[S]{name: name, key: key,
		check: func(s *S) error {
			c := withDefaults(decl, *field(s))
			err := checkAll(decl, &c)
			if err == nil && cross != nil {
				err = cross(&c)
			}
			return prefixed(name, err)
		},
		set: func(s *S, v any) error {
			if *field(s) == nil {
				*field(s) = new(C)
			}
			return setObject(key, decl, *field(s), v)
		},
		keyOf: func(rest string) string { return keyOf(decl, rest) },
	}
}

// setObject sets the props of c from the members of an object, the
// setting at path.
func setObject[C any](path string, decl []prop[C], c *C, v any) error {
	m, err := settingObject(v)
	if err != nil {
		return err
	}
	for _, member := range slices.Sorted(maps.Keys(m)) {
		i := slices.IndexFunc(decl, func(p prop[C]) bool { return p.key == member })
		if i < 0 {
			return &unknownSettingError{path, member, settingKeys(decl)}
		}
		if err := setting(decl[i], c, m[member]); err != nil {
			return prefixed(path, err)
		}
	}
	return nil
}

// keyOf is the setting's path of a prop's path (alarmThresholds.period:
// alarmThresholds.periodMinutes), "" when a settings object does not set
// the prop.
func keyOf[S any](decl []prop[S], path string) string {
	name, rest, nestedPath := strings.Cut(path, ".")
	i := slices.IndexFunc(decl, func(p prop[S]) bool { return p.name == name })
	if i < 0 || decl[i].key == "" {
		return ""
	}
	if !nestedPath {
		return decl[i].key
	}
	if decl[i].keyOf == nil {
		return ""
	}
	if r := decl[i].keyOf(rest); r != "" {
		return decl[i].key + "." + r
	}
	return ""
}

// setting sets one prop from its settings value: an error names its key.
func setting[S any](p prop[S], s *S, v any) error {
	err := p.set(s, v)
	if e, ok := err.(*settingValueError); ok {
		return &PropError{p.key, settingText(e.value), e.allowed}
	}
	return err
}

// settingText writes a settings value as JSON writes it: strings quoted.
func settingText(v any) any {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	case map[string]any:
		return "(an object)"
	case []any:
		return "(a list)"
	}
	return v
}

// unknownSettingError is a member a settings object does not know.
type unknownSettingError struct {
	parent, name string
	known        []string
}

func (e *unknownSettingError) Error() string {
	parent := ""
	if e.parent != "" {
		parent = e.parent + ": "
	}
	return fmt.Sprintf("%sunknown setting %q: known settings are %s", parent, e.name, strings.Join(e.known, ", "))
}

// prefixed names a *PropError within its parent; an unknown setting
// names its whole path already.
func prefixed(parent string, err error) error {
	if e, ok := err.(*PropError); ok {
		return &PropError{parent + "." + e.Prop, e.Value, e.Allowed}
	}
	if e, ok := err.(*unknownSettingError); ok && !strings.HasPrefix(e.parent, parent) {
		return &unknownSettingError{parent + "." + e.parent, e.name, e.known}
	}
	return err
}

// settingKeys lists the keys of the props a settings object sets.
func settingKeys[S any](decl []prop[S]) []string {
	var keys []string
	for _, p := range decl {
		if p.key != "" {
			keys = append(keys, p.key)
		}
	}
	return keys
}

func unresolved(v float64) bool { return *awscdk.Token_IsUnresolved(v) }
