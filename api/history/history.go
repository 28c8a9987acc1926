// Package history is the contract of the fleet's history, as the spec is
// the API's: the table's columns and partition keys (the Glue table the
// construct defines, the view the local engine reads) and the example
// queries, each a file of queries/ run unchanged by Athena in a stage and by
// DuckDB on a laptop.
package history

import (
	"embed"
	"fmt"
	"path"
	"strings"
)

// Table is the history's table: one row per signal of a sample.
const Table = "samples"

// Column is a column of the table, with its type as Glue (Hive DDL) names
// it.
type Column struct {
	Name, Type, Comment string
}

// Columns are the table's columns, in the order of the Parquet files.
var Columns = []Column{
	{"vid", "string", "the vehicle"},
	{"signal", "string", "the signal's VSS name, such as Vehicle.Speed"},
	{"ts", "timestamp", "when the sample was taken, UTC"},
	{"value", "double", "the signal's value"},
	{"eid", "string", "the stored upload that carried the sample"},
	{"received_at", "timestamp", "when the API first stored that upload, UTC"},
}

// PartitionKeys are the table's partitions: the sample's UTC day and
// hour, the objects' key prefix day=YYYY-MM-DD/hour=HH.
var PartitionKeys = []Column{
	{"day", "string", "the sample's UTC day, YYYY-MM-DD"},
	{"hour", "int", "the sample's UTC hour, 0 to 23"},
}

// Query is an example query of the history.
type Query struct {
	// Name is its file's, without the number and extension
	// (daily-distance).
	Name string
	// Description is its first line's comment.
	Description string
	SQL         string
}

//go:embed queries/*.sql
var queries embed.FS

// Queries returns the example queries, in the order of their files.
func Queries() ([]Query, error) {
	entries, err := queries.ReadDir("queries")
	if err != nil {
		return nil, fmt.Errorf("history queries: %w", err)
	}
	var out []Query
	for _, e := range entries {
		b, err := queries.ReadFile(path.Join("queries", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("history queries: %w", err)
		}
		first, rest, _ := strings.Cut(string(b), "\n")
		desc, ok := strings.CutPrefix(first, "-- ")
		if !ok || strings.TrimSpace(rest) == "" {
			return nil, fmt.Errorf("history query %s: want a first line of \"-- description\" and SQL after it", e.Name())
		}
		_, name, _ := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "-")
		out = append(out, Query{Name: name, Description: desc, SQL: strings.TrimSpace(rest)})
	}
	return out, nil
}
