package test

import (
	"encoding/json"
	"testing"

	"github.com/fleetapi/fleetapi/internal/app/stage"
)

// settings is a stage of cdk.json as these tests read it, on their own:
// the values the template must show, an oracle apart from the app's
// decoding (stage.Decode and fleetapi.Settings).
type settings struct {
	RemovalPolicy             string             `json:"removalPolicy"`
	DeletionProtection        bool               `json:"deletionProtection"`
	PointInTimeRecovery       bool               `json:"pointInTimeRecovery"`
	LogRetentionDays          int                `json:"logRetentionDays"`
	EventRetentionDays        int                `json:"eventRetentionDays"`
	EventsTableClass          string             `json:"eventsTableClass"`
	ApiThrottleRateLimit      float64            `json:"apiThrottleRateLimit"`
	ApiThrottleBurstLimit     int                `json:"apiThrottleBurstLimit"`
	ApiTraceSamplePercent     float64            `json:"apiTraceSamplePercent"`
	LambdaMemoryMiB           int                `json:"lambdaMemoryMiB"`
	LambdaTimeoutSeconds      int                `json:"lambdaTimeoutSeconds"`
	LambdaDeployment          string             `json:"lambdaDeployment"`
	LambdaReservedConcurrency int                `json:"lambdaReservedConcurrency"`
	TableMaxReadRequestUnits  int                `json:"tableMaxReadRequestUnits"`
	TableMaxWriteRequestUnits int                `json:"tableMaxWriteRequestUnits"`
	AlarmThresholds           thresholdSettings  `json:"alarmThresholds"`
	AlarmSeverities           map[string]string  `json:"alarmSeverities"`
	ServiceLevelObjectives    objectivesSettings `json:"serviceLevelObjectives"`
	MonthlyBudgetUsd          float64            `json:"monthlyBudgetUsd"`
	ApiGatewayCloudWatchRole  bool               `json:"apiGatewayCloudWatchRole"`
	VehicleCredentials        bool               `json:"vehicleCredentials"`
	MqttUploads               bool               `json:"mqttUploads"`
	SyntheticVehicle          bool               `json:"syntheticVehicle"`
	StateBatchingWindowSecs   int                `json:"stateBatchingWindowSeconds"`
	SilentAfterMinutes        int                `json:"silentAfterMinutes"`
	NotSeenAfterDays          int                `json:"notSeenAfterDays"`
	History                   bool               `json:"history"`
	HistoryRetentionDays      int                `json:"historyRetentionDays"`
	HistoryScanLimitGB        float64            `json:"historyScanLimitGB"`
}

type thresholdSettings struct {
	PeriodMinutes              *int     `json:"periodMinutes"`
	EvaluationPeriods          *int     `json:"evaluationPeriods"`
	DatapointsToAlarm          *int     `json:"datapointsToAlarm"`
	FunctionErrors             *int     `json:"functionErrors"`
	FunctionThrottles          *int     `json:"functionThrottles"`
	FunctionDurationP99Percent *float64 `json:"functionDurationP99Percent"`
	FunctionConcurrencyPercent *float64 `json:"functionConcurrencyPercent"`
	Api5xxErrors               *int     `json:"api5xxErrors"`
	ApiLatencyP99Ms            *int     `json:"apiLatencyP99Ms"`
	Api4xxRatePercent          *float64 `json:"api4xxRatePercent"`
	TableThrottledRequests     *int     `json:"tableThrottledRequests"`
	TableSystemErrors          *int     `json:"tableSystemErrors"`
	AccessRefused              *int     `json:"accessRefused"`
	StateLagSeconds            *int     `json:"stateLagSeconds"`
	SilentVehicles             *int     `json:"silentVehicles"`
	HistoryLagSeconds          *int     `json:"historyLagSeconds"`
}

type objectivesSettings struct {
	Uploads objectiveSettings `json:"uploads"`
	Reads   objectiveSettings `json:"reads"`
}

type objectiveSettings struct {
	AvailabilityPercent *float64 `json:"availabilityPercent"`
	LatencyPercent      *float64 `json:"latencyPercent"`
	LatencyMs           *int     `json:"latencyMs"`
}

// stageSettings reads a stage of the app's cdk.json.
func stageSettings(t *testing.T, stageName string) settings {
	t.Helper()
	table, _ := cdkContext[stage.ContextKeyStages].(map[string]any)
	raw, err := json.Marshal(table[stageName])
	if err != nil {
		t.Fatal(err)
	}
	var s settings
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("stage %s of cdk.json: %v", stageName, err)
	}
	return s
}
