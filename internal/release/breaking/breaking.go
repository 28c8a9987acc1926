// Package breaking finds, in what `cdk diff` prints of a stack against an
// earlier template, the stateful resources a deploy would delete, orphan
// (remove from the stack, keeping the data where no one looks) or replace:
// data a consumer would lose. The update behaviour is cdk diff's own (its
// copy of CloudFormation's resource specification), not a list of ours.
package breaking

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// StatefulTypes are the resource types whose replacement loses data or
// breaks what holds a reference to them.
var StatefulTypes = []string{"AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::KMS::Key", "AWS::SecretsManager::Secret", "AWS::SNS::Topic"}

// Impacts cdk diff prints after a resource it would not update in place.
const (
	Destroy    = "destroy"
	Orphan     = "orphan"
	Replace    = "replace"
	MayReplace = "may be replaced"
)

// Change is a stateful resource a deploy would lose.
type Change struct {
	Stack, Type, Path, LogicalID, Impact string
	// Properties are those cdk diff says require (or may cause) the
	// replacement.
	Properties []string
}

func (c Change) String() string {
	why := map[string]string{Destroy: "would be deleted", Orphan: "would leave the stack (its logical ID is gone: a rename makes a new, empty one)",
		Replace: "would be replaced", MayReplace: "may be replaced"}[c.Impact]
	s := fmt.Sprintf("%s: %s %s (%s) %s", c.Stack, c.Type, c.LogicalID, c.Path, why)
	if len(c.Properties) > 0 {
		s += ": " + strings.Join(c.Properties, ", ")
	}
	return s
}

var (
	// [-] AWS::DynamoDB::Table Fleet/Vehicles FleetVehiclesED93DD14 orphan
	resourceLine = regexp.MustCompile(`^\[([-~+])\] (AWS::\S+) (\S+) (\S+)(?: (destroy|orphan|replace|may be replaced))?\s*$`)
	// └─ [~] KeySchema (requires replacement)
	propertyLine = regexp.MustCompile(`^ [└├]─ \[[-~+]\] (\S+) \((requires replacement|may cause replacement)\)`)
)

// Parse reads the changes of stateful resources from cdk diff's output of
// one stack.
func Parse(stack, output string) []Change {
	var out []Change
	var current *Change
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		line := sc.Text()
		if m := resourceLine.FindStringSubmatch(line); m != nil {
			current = nil
			if m[5] == "" || !slices.Contains(StatefulTypes, m[2]) {
				continue
			}
			out = append(out, Change{Stack: stack, Type: m[2], Path: m[3], LogicalID: m[4], Impact: m[5]})
			current = &out[len(out)-1]
			continue
		}
		if m := propertyLine.FindStringSubmatch(line); m != nil && current != nil {
			current.Properties = append(current.Properties, m[1]+" "+m[2])
		}
	}
	return out
}

// Ack acknowledges a change a release means: the stack, the resource's
// logical ID, and why its loss is accepted.
type Ack struct {
	Stack     string `yaml:"stack"`
	LogicalID string `yaml:"logicalId"`
	Reason    string `yaml:"reason"`
}

// LoadAcks reads the acknowledgements file; a missing file is none.
func LoadAcks(path string) ([]Ack, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		Acknowledged []Ack `yaml:"acknowledged"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, a := range doc.Acknowledged {
		if a.Stack == "" || a.LogicalID == "" || strings.TrimSpace(a.Reason) == "" {
			return nil, fmt.Errorf("%s: acknowledgement %d needs stack, logicalId and a reason", path, i+1)
		}
	}
	return doc.Acknowledged, nil
}

// Unacknowledged returns the changes no acknowledgement names.
func Unacknowledged(changes []Change, acks []Ack) []Change {
	var out []Change
	for _, c := range changes {
		if !slices.ContainsFunc(acks, func(a Ack) bool { return a.Stack == c.Stack && a.LogicalID == c.LogicalID }) {
			out = append(out, c)
		}
	}
	return out
}

// Diff runs `cdk diff` of a stack of the cloud assembly in assembly (the
// new template) against the template file base (the old) and returns what
// it printed. cdk is the CLI's path.
func Diff(cdk, assembly, stack, base string) (string, error) {
	cmd := exec.Command(cdk, "--no-notices", "diff", "--app", assembly, "--template", base, stack)
	cmd.Env = append(os.Environ(), "FORCE_COLOR=0", "CDK_DISABLE_VERSION_CHECK=true", "CDK_DISABLE_CLI_TELEMETRY=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cdk diff %s against %s: %w\n%s", stack, base, err, out)
	}
	return string(out), nil
}
