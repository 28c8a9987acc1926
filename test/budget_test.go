package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/budgets/types"
)

// budgetAsAPI reads an AWS::Budgets::Budget's properties as the Budgets
// API's CreateBudget input (its Budget and NotificationsWithSubscribers,
// whose members CloudFormation names alike), and checks what Budgets
// requires of a COST budget filtered by FilterExpression: a metric
// (without one the budget is created but computes no spend: "Selected
// metrics cannot be null", hashicorp/terraform-provider-aws#46866), the
// enums' known values, at most five notifications with one SNS
// subscriber each.
func budgetAsAPI(props map[string]any) (types.Budget, []types.NotificationWithSubscribers, error) {
	var b types.Budget
	var n []types.NotificationWithSubscribers
	data, _ := props["Budget"].(map[string]any)
	// The API's amount is a decimal string; CloudFormation's a number.
	if limit, ok := data["BudgetLimit"].(map[string]any); ok {
		limit["Amount"] = fmt.Sprint(limit["Amount"])
	}
	raw, err := json.Marshal(data)
	if err == nil {
		err = json.Unmarshal(raw, &b)
	}
	if err != nil {
		return b, nil, fmt.Errorf("Budget: %w", err)
	}
	// The topic's ARN is a Ref until CloudFormation resolves it.
	if raw, err = json.Marshal(resolved(props["NotificationsWithSubscribers"])); err == nil {
		err = json.Unmarshal(raw, &n)
	}
	if err != nil {
		return b, nil, fmt.Errorf("NotificationsWithSubscribers: %w", err)
	}
	known := func(what string, v string, values []string) error {
		if !slices.Contains(values, v) {
			return fmt.Errorf("%s %q: Budgets knows %s", what, v, strings.Join(values, ", "))
		}
		return nil
	}
	var errs []error
	errs = append(errs, known("BudgetType", string(b.BudgetType), enum(b.BudgetType.Values())), known("TimeUnit", string(b.TimeUnit), enum(b.TimeUnit.Values())))
	if b.BudgetType == types.BudgetTypeCost && b.FilterExpression != nil && len(b.Metrics) != 1 {
		errs = append(errs, fmt.Errorf("a COST budget with FilterExpression needs one of Metrics (%s), has %v", strings.Join(enum(types.Metric("").Values()), ", "), b.Metrics))
	}
	for _, m := range b.Metrics {
		errs = append(errs, known("Metrics", string(m), enum(m.Values())))
	}
	if b.BudgetLimit == nil || b.BudgetLimit.Amount == nil || b.BudgetLimit.Unit == nil {
		errs = append(errs, fmt.Errorf("a COST budget needs BudgetLimit's Amount and Unit"))
	}
	var tags func(e *types.Expression) []string
	tags = func(e *types.Expression) []string {
		if e == nil {
			return nil
		}
		var out []string
		if e.Tags != nil {
			for _, o := range e.Tags.MatchOptions {
				errs = append(errs, known("MatchOptions", string(o), enum(o.Values())))
			}
			out = append(out, *e.Tags.Key)
		}
		for i := range e.And {
			out = append(out, tags(&e.And[i])...)
		}
		return out
	}
	if keys := tags(b.FilterExpression); len(keys) == 0 {
		errs = append(errs, fmt.Errorf("FilterExpression selects no cost allocation tag"))
	}
	if len(n) > 5 {
		errs = append(errs, fmt.Errorf("%d notifications, Budgets allows five", len(n)))
	}
	for _, x := range n {
		errs = append(errs, known("NotificationType", string(x.Notification.NotificationType), enum(x.Notification.NotificationType.Values())),
			known("ThresholdType", string(x.Notification.ThresholdType), enum(x.Notification.ThresholdType.Values())),
			known("ComparisonOperator", string(x.Notification.ComparisonOperator), enum(x.Notification.ComparisonOperator.Values())))
		sns := 0
		for _, s := range x.Subscribers {
			errs = append(errs, known("SubscriptionType", string(s.SubscriptionType), enum(s.SubscriptionType.Values())))
			if s.SubscriptionType == types.SubscriptionTypeSns {
				sns++
			}
		}
		if sns > 1 {
			errs = append(errs, fmt.Errorf("a notification with %d SNS subscribers, Budgets allows one", sns))
		}
	}
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	if len(msgs) > 0 {
		return b, n, fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return b, n, nil
}

// resolved replaces the intrinsic functions in a template value by a
// string naming them, as CloudFormation replaces them by their value.
func resolved(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k := range v {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return fmt.Sprintf("(%s %v)", k, v[k])
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			out[k] = resolved(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = resolved(x)
		}
		return out
	}
	return v
}

func enum[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// Every stage's budget is what the Budgets API accepts and computes, and
// without Metrics it would not be.
func TestBudgetIsWhatBudgetsComputes(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		for id, r := range s.resourcesOfType("AWS::Budgets::Budget") {
			b, n, err := budgetAsAPI(r.Properties)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				continue
			}
			if b.BudgetName != nil {
				t.Errorf("%s: fixed name %q: a replacement (a changed notification) would collide with it", id, *b.BudgetName)
			}
			t.Logf("%s: %s %s budget of %s %s on %v, %d notifications", id, b.TimeUnit, b.BudgetType, *b.BudgetLimit.Amount, *b.BudgetLimit.Unit, b.Metrics, len(n))

			// The control: the same budget without Metrics fails the check.
			var without map[string]any
			raw, _ := json.Marshal(r.Properties)
			_ = json.Unmarshal(raw, &without)
			delete(without["Budget"].(map[string]any), "Metrics")
			if _, _, err := budgetAsAPI(without); err == nil || !strings.Contains(err.Error(), "needs one of Metrics") {
				t.Errorf("%s without Metrics: %v", id, err)
			}
		}
	})
}
