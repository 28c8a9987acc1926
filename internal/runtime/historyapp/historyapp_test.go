package historyapp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/localstream"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/history"
	"github.com/fleetapi/fleetapi/internal/runtime/lambdaapp"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// The binary serves the history writer alone, and says what its
// environment lacks.
func TestBuildNamesWhatIsWrong(t *testing.T) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{contract.EnvServes: contract.ServesTracker}, `FLEETAPI_SERVES "tracker": this binary serves history only`},
		{map[string]string{contract.EnvServes: contract.ServesHistory}, "missing environment variables [HISTORY_BUCKET HISTORY_FAILURE_QUEUE_URL]"},
	} {
		if _, err := Build(func(k string) string { return tt.env[k] }, logger); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.env, err, tt.want)
		}
	}
}

// The history writer, wired from the environment the construct gives it,
// puts a batch's objects into its bucket (a stand-in of S3's endpoint
// here), as Parquet, under the table's prefix and partitions.
func TestHistoryWriterFromItsEnvironment(t *testing.T) {
	type put struct{ path, contentType string }
	var mu sync.Mutex
	var puts []put
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPut || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") || !bytes.HasPrefix(body, []byte("PAR1")) {
			t.Errorf("%s %s (%d bytes), signed %q: want a signed PUT of a Parquet file", r.Method, r.URL.Path, len(body), r.Header.Get("Authorization"))
		}
		puts = append(puts, put{r.URL.Path, r.Header.Get("Content-Type")})
	}))
	defer s3.Close()
	env := map[string]string{
		lambdaapp.EnvRegion: "eu-west-1", lambdaapp.EnvAccessKeyID: "AKIDHISTORY", lambdaapp.EnvSecretAccessKey: "secret", "AWS_ENDPOINT_URL_S3": s3.URL,
		contract.EnvServes:        contract.ServesHistory,
		contract.EnvHistoryBucket: "fleetapi-history", contract.EnvHistoryFailures: "https://sqs.eu-west-1.amazonaws.com/111122223333/failures",
	}
	w, err := Build(func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	invoke := w.Invoke
	// One upload's record, as the events table's stream has it.
	e, err := fleet.NewEvent("car-1", workload.NewDrive(1, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)).Upload(10), "", time.Date(2026, 11, 26, 8, 0, 12, 0, time.UTC), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	item := dynamostore.NewEventCodec().Item(e)
	batch, _ := json.Marshal(events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{EventID: "1", EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{NewImage: localstream.Image(item)}}}})
	if _, err := invoke(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	want := put{"/fleetapi-history/samples/day=2026-11-26/hour=08/" + history.BatchName("1", "1"), history.ParquetContentType}
	if len(puts) != 1 || puts[0] != want {
		t.Errorf("puts %v, want %v", puts, want)
	}
}
