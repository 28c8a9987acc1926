package fleetapi

import (
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsbudgets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Budget notifications: at 80 % of the forecast month, and when the actual
// month reaches 100 %.
const (
	budgetForecastPercent = 80
	budgetActualPercent   = 100
)

// budgetMetric is what the budget counts: unblended cost, the usage of the
// tagged resources at the rates they are billed at, before credits,
// refunds and the account's discounts (which belong to the account, not
// to a stage: with credits, net cost would stay at zero and the budget
// would never notify), as make cost estimates it from list prices. A budget
// with FilterExpression and no Metrics is created, but computes no spend
// ("Selected metrics cannot be null"), so it never notifies.
const budgetMetric = "UnblendedCost"

// newBudget defines the monthly cost budget of the resources that carry the
// cost allocation tags of the props, notifying the alarm topic. The budget
// has no fixed name: its notifications can only change by replacement,
// and a replacement with the same name would collide with the budget it
// replaces (budget names are unique in an account), so Budgets names it
// (Budget().Ref() is the name).
func newBudget(scope constructs.Construct, p FleetApiProps, topic awssns.ITopic) awsbudgets.CfnBudget {
	if p.MonthlyBudgetUsd == nil {
		return nil
	}
	tags := *p.BudgetCostTags
	var filters []any
	for _, key := range slices.Sorted(maps.Keys(tags)) {
		filters = append(filters, &awsbudgets.CfnBudget_ExpressionProperty{
			Tags: &awsbudgets.CfnBudget_TagValuesProperty{
				Key: jsii.String(key), Values: jsii.Strings(*tags[key]), MatchOptions: jsii.Strings("EQUALS"),
			},
		})
	}
	var filter any = filters[0]
	if len(filters) > 1 {
		filter = &awsbudgets.CfnBudget_ExpressionProperty{And: filters}
	}
	notify := func(kind string, percent float64) *awsbudgets.CfnBudget_NotificationWithSubscribersProperty {
		return &awsbudgets.CfnBudget_NotificationWithSubscribersProperty{
			Notification: &awsbudgets.CfnBudget_NotificationProperty{
				NotificationType:   jsii.String(kind),
				ComparisonOperator: jsii.String("GREATER_THAN"),
				Threshold:          jsii.Number(percent),
				ThresholdType:      jsii.String("PERCENTAGE"),
			},
			Subscribers: &[]any{&awsbudgets.CfnBudget_SubscriberProperty{
				SubscriptionType: jsii.String("SNS"),
				Address:          topic.TopicArn(),
			}},
		}
	}
	return awsbudgets.NewCfnBudget(scope, jsii.String("Budget"), &awsbudgets.CfnBudgetProps{
		Budget: &awsbudgets.CfnBudget_BudgetDataProperty{
			BudgetType:       jsii.String("COST"),
			Metrics:          jsii.Strings(budgetMetric),
			TimeUnit:         jsii.String("MONTHLY"),
			BudgetLimit:      &awsbudgets.CfnBudget_SpendProperty{Amount: p.MonthlyBudgetUsd, Unit: jsii.String("USD")},
			FilterExpression: filter,
		},
		NotificationsWithSubscribers: &[]any{
			notify("FORECASTED", budgetForecastPercent),
			notify("ACTUAL", budgetActualPercent),
		},
	})
}

// Budget is the stage's cost budget, nil without MonthlyBudgetUsd; its Ref
// is the name Budgets gave it.
func (f *FleetApi) Budget() awsbudgets.CfnBudget { return f.budget }
