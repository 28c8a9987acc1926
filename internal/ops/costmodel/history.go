package costmodel

import (
	"errors"
	"fmt"
	"math"
)

// The history as the cost model takes it.
const (
	// HistoryBytesPerSample is a sample of the talk's workload (ten
	// signals) in the history's Parquet objects, a batch of uploads of
	// several vehicles each (held by TestMeasuredHistory).
	HistoryBytesPerSample = 33.4
	// historyRowsPerSample: the history keeps a row per signal.
	historyRowsPerSample = 10
	// historyBatchLogBytes is the writer's log line per batch.
	historyBatchLogBytes = 330
	// historyBatchMs is a batch's time besides its rows: its decoding and
	// its puts, a round trip to S3 each.
	historyBatchMs = 150
	// transitionMinBytes: S3 moves no object under 128 KB to another
	// class (the bucket's TransitionDefaultMinimumObjectSize).
	transitionMinBytes = 128 << 10
	// athenaMinQueryBytes: Athena bills at least 10 MB a query.
	athenaMinQueryBytes = 10e6
)

// History is the fleet's history as the template deploys it: the writer,
// its stream mapping, the bucket's lifecycle and the workgroup's limit.
type History struct {
	Function
	// BatchingWindowSeconds and BatchSize are its stream mapping's.
	BatchingWindowSeconds, BatchSize int
	// BucketLogicalID is the history bucket; RetentionDays its objects'
	// expiration; ToIADays and ToGlacierIRDays its transitions (0: none).
	BucketLogicalID                      string
	RetentionDays, ToIADays, ToGlacierIR int
	// ScanLimitBytes is the workgroup's cutoff per query.
	ScanLimitBytes float64
}

// readLifecycle reads the history bucket's lifecycle rule: its
// expiration and its transitions to Standard-IA and Glacier Instant
// Retrieval.
func (h *History) readLifecycle(p map[string]any) error {
	rules, _ := dig(p, "LifecycleConfiguration", "Rules").([]any)
	for _, r := range rules {
		r, _ := r.(map[string]any)
		if r["Status"] != "Enabled" {
			continue
		}
		if _, ok := r["ExpirationInDays"]; ok {
			days, err := intProp(r, "ExpirationInDays", 0)
			if err != nil {
				return err
			}
			h.RetentionDays = days
		}
		transitions, _ := r["Transitions"].([]any)
		for _, t := range transitions {
			t, _ := t.(map[string]any)
			days, err := intProp(t, "TransitionInDays", 0)
			if err != nil {
				return err
			}
			switch t["StorageClass"] {
			case "STANDARD_IA":
				h.ToIADays = days
			case "GLACIER_IR":
				h.ToGlacierIR = days
			default:
				return fmt.Errorf("a transition to %v: the cost model prices STANDARD_IA and GLACIER_IR", t["StorageClass"])
			}
		}
	}
	if h.RetentionDays == 0 {
		return errors.New("the history bucket expires nothing: the cost model prices a history of a set retention")
	}
	return nil
}

// HistoryFigures are the history's work a month at a fleet size.
type HistoryFigures struct {
	// Samples and Rows written a month; GB their Parquet.
	Samples, Rows, GB float64
	// Batches the writer runs (a batch a shard and window while uploads
	// arrive), Objects it puts (a batch's hours), ObjectBytes their mean.
	Batches, Objects, ObjectBytes float64
	// Queries a month and TB they scan.
	Queries, ScannedTB float64
}

// HistoryFigures computes the history's figures a month at vehicles.
func (m Model) HistoryFigures(vehicles int) HistoryFigures {
	h, u := m.Stack.History, m.Usage
	if h == nil {
		return HistoryFigures{}
	}
	var f HistoryFigures
	v := float64(vehicles)
	f.Samples = v * u.UploadsPerDay() * float64(u.SamplesPerUpload) * u.DaysPerMonth
	f.Rows = f.Samples * historyRowsPerSample
	f.GB = f.Samples * HistoryBytesPerSample / 1e9
	shards := m.State(vehicles).Shards
	if shards == 0 {
		shards = minStreamShards
	}
	window := float64(max(h.BatchingWindowSeconds, 1))
	// A batch a shard and window, never more than there are uploads; a
	// batch's samples span about window/3600 hours more than one.
	uploads := v * u.UploadsPerDay() * u.DaysPerMonth
	f.Batches = math.Min(shards*u.DaysPerMonth*86400/window, uploads)
	f.Objects = f.Batches * (1 + window/3600)
	if f.Objects > 0 {
		f.ObjectBytes = f.GB * 1e9 / f.Objects
	}
	f.Queries = u.HistoryQueriesPerDay * u.DaysPerMonth
	f.ScannedTB = f.Queries * math.Max(athenaMinQueryBytes, u.HistoryScanMBPerQuery*1e6) / 1e12
	return f
}

// history writes what keeping the history costs: its storage by class
// through the bucket's lifecycle, the writer's puts and the transitions,
// the writer's invocations, durations and log lines, and the queries of a
// stated mix with the retrievals of the older classes they read. Lambda's
// reads of the stream are free; the Glue table is within the Data
// Catalog's free tier.
func (b *bill) history() {
	h, u := b.Stack.History, b.Usage
	if h == nil {
		return
	}
	f := b.HistoryFigures(int(b.vehicles))
	b.e.History = f
	perDay := f.GB / u.DaysPerMonth
	// Each class holds the days between its transition and the next.
	retention := h.RetentionDays
	stdDays, iaDays, girDays := retention, 0, 0
	if h.ToIADays > 0 && h.ToIADays < retention {
		stdDays = h.ToIADays
		iaDays = retention - h.ToIADays
	}
	if h.ToGlacierIR > 0 && h.ToGlacierIR < retention {
		if iaDays > 0 {
			iaDays = h.ToGlacierIR - h.ToIADays
		} else {
			stdDays = h.ToGlacierIR
		}
		girDays = retention - h.ToGlacierIR
	}
	small := f.ObjectBytes < transitionMinBytes
	if small {
		// Objects under 128 KB stay in Standard.
		stdDays, iaDays, girDays = retention, 0, 0
	}
	b.addClassStored("Standard", PriceS3Standard, perDay, 0, stdDays)
	if iaDays > 0 {
		b.addClassStored("Standard-IA", PriceS3StandardIA, perDay, stdDays, iaDays)
		b.add(ServiceHistory, "history: transitions to Standard-IA", PriceS3TransitionsIA, f.Objects)
	}
	if girDays > 0 {
		b.addClassStored("Glacier Instant Retrieval", PriceS3GlacierIR, perDay, stdDays+iaDays, girDays)
		b.add(ServiceHistory, "history: transitions to Glacier Instant Retrieval", PriceS3TransitionsGlacierIR, f.Objects)
	}
	b.add(ServiceHistory, fmt.Sprintf("history: objects put (%s batches, %.0f KB each on average)", group(int64(f.Batches)), f.ObjectBytes/1e3), PriceS3Puts, f.Objects)
	b.add(ServiceHistory, fmt.Sprintf("Athena: %s queries scanning %.0f MB each (at least 10 MB)", group(int64(f.Queries)), math.Max(10, u.HistoryScanMBPerQuery)), PriceAthenaScanned, f.ScannedTB)
	if old := u.HistoryOldScanShare; old > 0 && (iaDays > 0 || girDays > 0) {
		// The older classes' share of the scans, retrieved at Glacier
		// Instant Retrieval's price (the dearer of the two).
		b.add(ServiceHistory, fmt.Sprintf("history: retrievals of the older classes (%.0f %% of the bytes scanned)", old*100), PriceS3GlacierIRRetrieval, f.ScannedTB*1e3*old)
	}
	b.add(ServiceLambda, fmt.Sprintf("history writer: %s batches (requests)", group(int64(f.Batches))), PriceLambdaRequests, f.Batches)
	price := PriceLambdaArm64
	if h.Architecture == "x86_64" {
		price = PriceLambdaX8664
	}
	ms := f.Batches*historyBatchMs + f.Rows/1000*u.HistoryWriterMsPerKiloRow
	b.add(ServiceLambda, fmt.Sprintf("history writer: %d MB %s, %.2f ms a thousand rows", h.MemoryMiB, h.Architecture, u.HistoryWriterMsPerKiloRow),
		price, ms/1000*float64(h.MemoryMiB)/1024)
	b.logBytes += f.Batches * historyBatchLogBytes
	if !h.QuietPlatform {
		b.logBytes += f.Batches * float64(PlatformLogBytes(h.MemoryMiB, h.Tracing))
	}
}

// addClassStored writes a line of the history held in one storage class:
// the objects from fromDay to fromDay+days old. Month 1 holds half a
// month of data, in Standard alone.
func (b *bill) addClassStored(class, price string, perDay float64, fromDay, days int) {
	p, month := b.Prices.Prices[price], b.Usage.DaysPerMonth
	steady := perDay * float64(days)
	month1 := 0.0
	if fromDay == 0 {
		month1 = perDay * math.Min(float64(days), month) / 2
	}
	b.e.Lines = append(b.e.Lines, Line{Service: ServiceHistory, Item: fmt.Sprintf("history stored in S3 %s (days %d to %d)", class, fromDay, fromDay+days),
		Quantity: steady, Unit: p.Unit, Month1: p.Cost(month1), Steady: p.Cost(steady), price: price, freeQuantity: steady})
}
