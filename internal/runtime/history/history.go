// Package history keeps the fleet's history: every sample the events table
// stored, as Parquet objects of one row per signal of a sample, partitioned
// by the sample's day and hour (UTC), which Athena queries in AWS and an
// embedded engine on a laptop. It is written from the table's stream, so
// the history never holds what the table refused.
package history

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// Row is one signal of one sample. Long rather than a column a signal:
// the schema (and the Glue table's) never changes with the signals a fleet
// sends, which the API leaves open; sorted by vehicle and signal, the
// vid and signal columns are a few bytes a row group, and a query reads
// the value column of the rows its filters keep.
type Row struct {
	// VID is the vehicle; Signal its VSS name (Vehicle.Speed).
	VID    string `parquet:"vid,dict"`
	Signal string `parquet:"signal,dict"`
	// Time is the sample's, UTC to the millisecond, written as a
	// timestamp without time zone (not adjusted to UTC, in Parquet's
	// words): what Athena's and DuckDB's TIMESTAMP are, so that the same
	// SQL truncates to the same day and hour in both.
	Time  time.Time `parquet:"ts,timestamp(millisecond:local),delta"`
	Value float64   `parquet:"value,split"`
	// EID is the stored upload's event ID: rows of one upload share it,
	// and the same upload is the same eid however often it arrives.
	EID string `parquet:"eid,dict"`
	// ReceivedAt is when the API first stored the upload (its arrival).
	ReceivedAt time.Time `parquet:"received_at,timestamp(millisecond:local),delta"`
}

// Partition is the day and hour (UTC) of a sample: the prefix of the
// objects that hold it, day=YYYY-MM-DD/hour=HH, as the Glue table's
// partition projection reads them.
type Partition struct {
	Day  string // YYYY-MM-DD
	Hour int
}

// PartitionOf is the partition of a sample taken at t.
func PartitionOf(t time.Time) Partition {
	t = t.UTC()
	return Partition{Day: t.Format(time.DateOnly), Hour: t.Hour()}
}

// Path is the partition's key prefix below the history's prefix.
func (p Partition) Path() string { return fmt.Sprintf("day=%s/hour=%02d", p.Day, p.Hour) }

// Partitioned flattens events into rows, by partition, each partition's
// rows sorted by vehicle, signal and time (then eid): the order that
// lets a query of one vehicle or one signal skip most row groups.
func Partitioned(events []fleet.Event) map[Partition][]Row {
	out := map[Partition][]Row{}
	for _, e := range events {
		for _, s := range e.Samples {
			p := PartitionOf(s.Timestamp)
			for name, v := range s.Signals {
				out[p] = append(out[p], Row{VID: e.VID, Signal: name, Time: s.Timestamp.UTC(), Value: v, EID: e.EID, ReceivedAt: e.ReceivedAt.UTC()})
			}
		}
	}
	for _, rows := range out {
		slices.SortFunc(rows, compareRows)
	}
	return out
}

func compareRows(a, b Row) int {
	return cmp.Or(cmp.Compare(a.VID, b.VID), cmp.Compare(a.Signal, b.Signal), a.Time.Compare(b.Time), cmp.Compare(a.EID, b.EID))
}

// RowGroupRows is the most rows of one row group: about four vehicles'
// five minutes of driving (12 signals a second), so that the row groups'
// statistics let a query of one vehicle skip the others'.
const RowGroupRows = 16 * 1024

// Encode writes rows, sorted, as one Parquet file (zstd, statistics and
// page index on every column).
func Encode(rows []Row) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		parquet.CreatedBy("fleetapi", "history", ""),
	)
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("history: encode %d rows: %w", len(rows), err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("history: encode %d rows: %w", len(rows), err)
	}
	return buf.Bytes(), nil
}

// Decode reads the rows of a Parquet file Encode wrote.
func Decode(b []byte) ([]Row, error) {
	rows, err := parquet.Read[Row](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("history: decode: %w", err)
	}
	return rows, nil
}
