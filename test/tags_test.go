package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
)

// TestCostAllocationTags walks every CloudFormation resource of every stage.
// A resource the CDK can tag must carry each cost allocation tag with the
// stage's value, as CloudFormation will see it in the template.
func TestCostAllocationTags(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		// The design's cost allocation tags: the project, the stage, and
		// the stage's cost center and owner as cdk.json gives them.
		cfg := stageConfig(t, stageName)
		want := map[string]string{
			"Project":    "FleetApi",
			"Stage":      stageName,
			"CostCenter": cfg.CostCenter,
			"Owner":      cfg.Owner,
		}
		// Template resources are matched to their constructs by the
		// aws:cdk:path metadata: some logical IDs are hashed at synthesis.
		cfnByPath := map[string]awscdk.CfnResource{}
		for _, c := range *s.stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
			if *awscdk.CfnResource_IsCfnResource(c) {
				cfnByPath[*c.Node().Path()] = c.(awscdk.CfnResource)
			}
		}
		taggable := 0
		for id, r := range s.resources {
			path, _ := r.Metadata["aws:cdk:path"].(string)
			c, ok := cfnByPath[path]
			if !ok {
				t.Errorf("%s (%s) at %q is not in the construct tree", id, r.Type, path)
				continue
			}
			delete(cfnByPath, path)
			if !*awscdk.TagManager_IsTaggable(c) && !*awscdk.TagManager_IsTaggableV2(c) {
				continue
			}
			taggable++
			got := tagsOf(r.Properties)
			for key, value := range want {
				if got[key] != value {
					t.Errorf("%s (%s): tag %s = %q, want %q", id, r.Type, key, got[key], value)
				}
			}
		}
		for path := range cfnByPath {
			t.Errorf("%s is in the construct tree but not in the template", path)
		}
		if taggable == 0 {
			t.Fatal("no taggable resource found: the walk is broken")
		}
		if tags := s.stack.Tags().TagValues(); (*tags)["Stage"] == nil || *(*tags)["Stage"] != stageName {
			t.Errorf("stack tag Stage = %v, want %s", (*tags)["Stage"], stageName)
		}
	})
}

// tagsOf reads a resource's tags: its Tags property (ResourceTags for
// AWS::Budgets::Budget), either a list of {Key, Value} (most resource
// types) or a map (a few, such as AWS::SSM::Parameter).
func tagsOf(props map[string]any) map[string]string {
	out := map[string]string{}
	prop := props["Tags"]
	if prop == nil {
		prop = props["ResourceTags"]
	}
	switch tags := prop.(type) {
	case []any:
		for _, item := range tags {
			kv, _ := item.(map[string]any)
			key, _ := kv["Key"].(string)
			value, _ := kv["Value"].(string)
			out[key] = value
		}
	case map[string]any:
		for key, v := range tags {
			value, _ := v.(string)
			out[key] = value
		}
	}
	return out
}
