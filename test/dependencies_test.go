package test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// CloudFormation refuses a template whose resources depend on each other in
// a circle ("Circular dependency between resources"), and the CDK's
// synthesis does not look for one. A resource depends on each resource its
// properties, update policy or DependsOn name with Ref, Fn::GetAtt or
// Fn::Sub (CloudFormation User Guide, "DependsOn attribute": "Resources
// that use Ref or GetAtt ... are created after the referenced resource").
func TestNoCircularDependency(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		var doc struct {
			Resources map[string]map[string]any
		}
		if err := json.Unmarshal(s.template, &doc); err != nil {
			t.Fatal(err)
		}
		edges := map[string][]string{}
		for id, r := range doc.Resources {
			deps := map[string]bool{}
			collectDependencies(r["Properties"], deps)
			collectDependencies(r["UpdatePolicy"], deps)
			switch d := r["DependsOn"].(type) {
			case string:
				deps[d] = true
			case []any:
				for _, x := range d {
					deps[x.(string)] = true
				}
			}
			for d := range deps {
				if _, isResource := doc.Resources[d]; isResource {
					edges[id] = append(edges[id], d)
				}
			}
			slices.Sort(edges[id])
		}
		if cycle := findCycle(edges); cycle != nil {
			t.Errorf("circular dependency: %s", strings.Join(cycle, " → "))
		}
	})
}

var subReference = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

// collectDependencies adds the logical IDs v names with Ref, Fn::GetAtt
// or Fn::Sub.
func collectDependencies(v any, deps map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch k {
			case "Ref":
				if s, ok := x.(string); ok {
					deps[s] = true
				}
			case "Fn::GetAtt":
				if l := asList(x); len(l) > 0 {
					if s, ok := l[0].(string); ok {
						deps[s] = true
					}
				}
			case "Fn::Sub":
				text := x
				if l := asList(x); len(l) > 0 {
					text = l[0]
					collectDependencies(l[1:], deps)
				}
				if s, ok := text.(string); ok {
					for _, m := range subReference.FindAllStringSubmatch(s, -1) {
						deps[m[1]] = true
					}
				}
				continue
			}
			collectDependencies(x, deps)
		}
	case []any:
		for _, x := range v {
			collectDependencies(x, deps)
		}
	}
}

// findCycle returns a circle of the graph, its first node repeated at the
// end, or nil.
func findCycle(edges map[string][]string) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = onPath
		path = append(path, n)
		for _, d := range edges[n] {
			switch state[d] {
			case onPath:
				i := slices.Index(path, d)
				return append(slices.Clone(path[i:]), d)
			case unseen:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	nodes := make([]string, 0, len(edges))
	for n := range edges {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		if state[n] == unseen {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}

// findCycle finds a circle and only a circle.
func TestFindCycle(t *testing.T) {
	if c := findCycle(map[string][]string{"A": {"B"}, "B": {"C"}, "C": {"A"}, "D": {"A"}}); strings.Join(c, " ") != "A B C A" {
		t.Errorf("findCycle of A→B→C→A = %v", c)
	}
	if c := findCycle(map[string][]string{"A": {"B", "C"}, "B": {"C"}, "C": nil}); c != nil {
		t.Errorf("findCycle of a diamond = %v, want none", c)
	}
	deps := map[string]bool{}
	collectDependencies(map[string]any{"X": []any{map[string]any{"Ref": "A"}, map[string]any{"Fn::GetAtt": []any{"B", "Arn"}},
		map[string]any{"Fn::Sub": "arn:${AWS::Partition}:x:${C.Arn}/${D}"}}}, deps)
	var got []string
	for d := range deps {
		got = append(got, d)
	}
	if slices.Sort(got); strings.Join(got, " ") != "A B C D" {
		t.Errorf("dependencies %v", got)
	}
}
