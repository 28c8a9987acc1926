package test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// TestFunctions checks each function's runtime settings against the stage table.
func TestFunctions(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		logGroups := s.resourcesOfType("AWS::Logs::LogGroup")
		for id, fn := range s.apiFunctions() {
			p := fn.Properties
			checks := map[string][2]any{
				"Runtime":      {p["Runtime"], "provided.al2023"},
				"Architecture": {fmt.Sprint(p["Architectures"]), "[arm64]"},
				"Handler":      {p["Handler"], "bootstrap"},
				"MemorySize":   {p["MemorySize"], float64(cfg.LambdaMemoryMiB)},
				"Timeout":      {p["Timeout"], float64(cfg.LambdaTimeoutSeconds)},
				"Tracing":      {fmt.Sprint(p["TracingConfig"]), "map[Mode:Active]"},
			}
			// The upload's function traces what the gateway sampled and
			// logs no platform lines: it serves most invocations, most of
			// them the upload rule's.
			if id == ingestFunctionID {
				checks["Tracing"] = [2]any{fmt.Sprint(p["TracingConfig"]), "map[Mode:PassThrough]"}
				checks["SystemLogLevel"] = [2]any{dig(p, "LoggingConfig", "SystemLogLevel"), "WARN"}
			} else {
				checks["SystemLogLevel"] = [2]any{dig(p, "LoggingConfig", "SystemLogLevel"), "INFO"}
			}
			if cfg.LambdaReservedConcurrency > 0 {
				checks["ReservedConcurrentExecutions"] = [2]any{p["ReservedConcurrentExecutions"], float64(cfg.LambdaReservedConcurrency)}
			} else if _, set := p["ReservedConcurrentExecutions"]; set {
				t.Errorf("%s: ReservedConcurrentExecutions set, want unreserved", id)
			}
			for name, c := range checks {
				if c[0] != c[1] {
					t.Errorf("%s: %s = %v, want %v", id, name, c[0], c[1])
				}
			}
			vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			if vars["EVENT_RETENTION_DAYS"] != strconv.Itoa(cfg.EventRetentionDays) {
				t.Errorf("%s: EVENT_RETENTION_DAYS = %v, want %d", id, vars["EVENT_RETENTION_DAYS"], cfg.EventRetentionDays)
			}
			if resourceName(vars[contract.EnvVehiclesTable]) != vehiclesTableID || resourceName(vars[contract.EnvEventsTable]) != eventsTableID {
				t.Errorf("%s: table variables %v", id, vars)
			}
			logging, _ := p["LoggingConfig"].(map[string]any)
			lg, ok := logGroups[resourceName(logging["LogGroup"])]
			if !ok {
				t.Errorf("%s: logs to %v, not to a log group of the stack", id, logging["LogGroup"])
				continue
			}
			if lg.Properties["RetentionInDays"] != float64(cfg.LogRetentionDays) {
				t.Errorf("%s: log retention %v, want %d", id, lg.Properties["RetentionInDays"], cfg.LogRetentionDays)
			}
		}
	})
}
