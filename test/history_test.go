package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	apihistory "github.com/fleetapi/fleetapi/api/history"
)

// TestHistory checks every stage's history: the writer mapped to the
// events table's stream (INSERTs only, batches retried whole until 23
// hours old, then its failure queue), the bucket (encrypted, TLS only,
// versioned, public access blocked; to Standard-IA at 30 days, Glacier
// Instant Retrieval at 90, expired at the stage's history retention),
// the Glue table of api/history with its partitions projected from the
// objects' keys (Athena User Guide, "Supported types for partition
// projection": date and integer types), the workgroup (enforced, results
// encrypted, the stage's scan limit) and its ten example queries.
func TestHistory(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		if !cfg.History {
			t.Skip("no history")
		}
		if cfg.HistoryRetentionDays < cfg.EventRetentionDays {
			t.Errorf("history kept %d days, less than the hot window's %d", cfg.HistoryRetentionDays, cfg.EventRetentionDays)
		}
		writer := s.idOfPath(t, "Fleet/HistoryWriterFunction/Resource")
		bucket := s.idOfPath(t, "Fleet/HistoryBucket/Resource")
		queue := s.idOfPath(t, "Fleet/HistoryFailures/Resource")
		mapping := s.resources[s.idOfPath(t, "Fleet/HistoryStream")].Properties
		for key, want := range map[string]string{
			"FunctionName":                   "map[Ref:" + s.idOfPath(t, "Fleet/HistoryWriterLive/Resource") + "]",
			"EventSourceArn":                 "map[Fn::GetAtt:[" + eventsTableID + " StreamArn]]",
			"StartingPosition":               "TRIM_HORIZON",
			"MaximumBatchingWindowInSeconds": "300",
			"BatchSize":                      "10000",
			"BisectBatchOnFunctionError":     "false",
			"MaximumRetryAttempts":           "-1",
			"MaximumRecordAgeInSeconds":      "82800",
			"FilterCriteria":                 `map[Filters:[map[Pattern:{"eventName":["INSERT"]}]]]`,
			"DestinationConfig":              "map[OnFailure:map[Destination:map[Fn::GetAtt:[" + queue + " Arn]]]]",
		} {
			if got := fmt.Sprint(mapping[key]); got != want {
				t.Errorf("stream mapping %s = %s, want %s", key, got, want)
			}
		}
		if _, partial := mapping["FunctionResponseTypes"]; partial {
			t.Error("the writer's mapping reads partial batch responses: a retry from a record would write objects of other names")
		}
		fn := s.resources[writer].Properties
		vars, _ := json.Marshal(dig(fn, "Environment", "Variables"))
		for _, want := range []string{`"FLEETAPI_SERVES":"history"`, `"HISTORY_BUCKET":{"Ref":"` + bucket + `"}`, `"HISTORY_FAILURE_QUEUE_URL":{"Ref":"` + queue + `"}`} {
			if !strings.Contains(string(vars), want) {
				t.Errorf("the writer's environment %s lacks %s", vars, want)
			}
		}

		b := s.resources[bucket].Properties
		enc, _ := json.Marshal(b["BucketEncryption"])
		versioning, _ := json.Marshal(b["VersioningConfiguration"])
		block, _ := json.Marshal(b["PublicAccessBlockConfiguration"])
		if !strings.Contains(string(enc), `"SSEAlgorithm":"AES256"`) || string(versioning) != `{"Status":"Enabled"}` || strings.Count(string(block), "true") != 4 {
			t.Errorf("bucket: encryption %s, versioning %s, public access %s", enc, versioning, block)
		}
		if s.resources[bucket].DeletionPolicy != "Retain" {
			t.Errorf("bucket deletion policy %q, want Retain", s.resources[bucket].DeletionPolicy)
		}
		rules, _ := json.Marshal(dig(b, "LifecycleConfiguration", "Rules"))
		for _, want := range []string{
			`"ExpirationInDays":` + strconv.Itoa(cfg.HistoryRetentionDays),
			`{"StorageClass":"STANDARD_IA","TransitionInDays":30}`, `{"StorageClass":"GLACIER_IR","TransitionInDays":90}`,
			`"NoncurrentVersionExpiration":{"NoncurrentDays":30}`,
		} {
			if !strings.Contains(string(rules), want) {
				t.Errorf("bucket lifecycle %s lacks %s", rules, want)
			}
		}
		if !tlsOnly(s, bucket) {
			t.Error("the bucket's policy does not deny requests without TLS")
		}

		table := s.resources[s.idOfPath(t, "Fleet/HistoryTable")].Properties
		input := table["TableInput"].(map[string]any)
		var cols, keys []string
		for _, c := range dig(input, "StorageDescriptor", "Columns").([]any) {
			cols = append(cols, fmt.Sprint(c.(map[string]any)["Name"], " ", c.(map[string]any)["Type"]))
		}
		for _, c := range input["PartitionKeys"].([]any) {
			keys = append(keys, fmt.Sprint(c.(map[string]any)["Name"], " ", c.(map[string]any)["Type"]))
		}
		var wantCols, wantKeys []string
		for _, c := range apihistory.Columns {
			wantCols = append(wantCols, c.Name+" "+c.Type)
		}
		for _, c := range apihistory.PartitionKeys {
			wantKeys = append(wantKeys, c.Name+" "+c.Type)
		}
		if !slices.Equal(cols, wantCols) || !slices.Equal(keys, wantKeys) || input["Name"] != apihistory.Table {
			t.Errorf("table %v: columns %v, partitions %v; want api/history's %v, %v", input["Name"], cols, keys, wantCols, wantKeys)
		}
		params := input["Parameters"].(map[string]any)
		for key, want := range map[string]string{
			"projection.enabled": "true", "projection.day.type": "date", "projection.day.format": "yyyy-MM-dd",
			"projection.day.range": "NOW-" + strconv.Itoa(cfg.HistoryRetentionDays) + "DAYS,NOW", "projection.day.interval.unit": "DAYS",
			"projection.hour.type": "integer", "projection.hour.range": "0,23", "projection.hour.digits": "2",
		} {
			if got := fmt.Sprint(params[key]); got != want {
				t.Errorf("table parameter %s = %s, want %s", key, got, want)
			}
		}
		template, _ := json.Marshal(params["storage.location.template"])
		if !strings.Contains(string(template), `"Ref":"`+bucket+`"`) || !strings.Contains(string(template), `/samples/day=${day}/hour=${hour}/`) {
			t.Errorf("storage.location.template %s, want the bucket's samples/day=${day}/hour=${hour}/", template)
		}
		serde, _ := json.Marshal(dig(input, "StorageDescriptor", "SerdeInfo"))
		if !strings.Contains(string(serde), "ParquetHiveSerDe") {
			t.Errorf("serde %s, want Parquet's", serde)
		}

		wg := s.resources[s.idOfPath(t, "Fleet/HistoryWorkGroup")].Properties
		conf := wg["WorkGroupConfiguration"].(map[string]any)
		results, _ := json.Marshal(conf["ResultConfiguration"])
		if conf["EnforceWorkGroupConfiguration"] != true || conf["BytesScannedCutoffPerQuery"] != cfg.HistoryScanLimitGB*1e9 ||
			!strings.Contains(string(results), `"EncryptionOption":"SSE_S3"`) || !strings.Contains(string(results), s.idOfPath(t, "Fleet/HistoryResults/Resource")) {
			t.Errorf("workgroup configuration %v, results %s", conf, results)
		}
		queries, err := apihistory.Queries()
		if err != nil {
			t.Fatal(err)
		}
		named := s.resourcesOfType("AWS::Athena::NamedQuery")
		if len(named) != len(queries) {
			t.Errorf("%d named queries, want the %d of api/history", len(named), len(queries))
		}
		for _, q := range named {
			if q.Properties["Database"] != "fleetapi_"+stageName+"_fleet" {
				t.Errorf("named query %v on database %v", q.Properties["Name"], q.Properties["Database"])
			}
		}
	})
}

// tlsOnly reports whether the bucket's policy denies every request
// without TLS (aws:SecureTransport false).
func tlsOnly(s *synthesis, bucket string) bool {
	for _, p := range s.resourcesOfType("AWS::S3::BucketPolicy") {
		doc, _ := json.Marshal(p.Properties)
		if strings.Contains(string(doc), `"Bucket":{"Ref":"`+bucket+`"}`) && strings.Contains(string(doc), `"aws:SecureTransport":"false"`) && strings.Contains(string(doc), `"Effect":"Deny"`) {
			return true
		}
	}
	return false
}
