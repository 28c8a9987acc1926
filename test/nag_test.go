package test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// nagRule matches a finding of cdk-nag's AwsSolutions or Serverless pack.
var nagRule = regexp.MustCompile(`^(AwsSolutions|Serverless)-[A-Za-z0-9]+`)

// TestNagFindings runs cdk-nag's AwsSolutions and Serverless packs on every
// stage: any finding that is not suppressed (with its reason, in the
// construct) fails, naming the rule, the resource's path and the message.
func TestNagFindings(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		var findings []string
		for _, a := range s.annotations {
			if rule := nagRule.FindString(a.Text); rule != "" && a.Level != "aws:cdk:info" {
				msg, _, _ := strings.Cut(a.Text, "\n")
				findings = append(findings, rule+" at "+a.Path+" ("+strings.TrimPrefix(a.Level, "aws:cdk:")+"): "+msg)
			}
		}
		slices.Sort(findings)
		for _, f := range findings {
			t.Error(f)
		}
	})
}
