// Command historysql runs SQL over make local's history with the engine
// that stands in for Athena (make history-sql): an example query of
// api/history by name, or any read-only SELECT of the table samples.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	apihistory "github.com/fleetapi/fleetapi/api/history"
	"github.com/fleetapi/fleetapi/internal/local/localathena"
)

func main() {
	dir := flag.String("history", ".local/history", "directory of make local's history")
	name := flag.String("query", "", "an example query of api/history/queries, by name (daily-distance); none lists them")
	sql := flag.String("sql", "", "a read-only SELECT of the table samples, instead of -query")
	limit := flag.Int64("limit", localathena.DefaultScanLimit, "most bytes a query may read, as a stage's workgroup cutoff")
	flag.Parse()
	if err := run(*dir, *name, *sql, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "historysql:", err)
		os.Exit(1)
	}
}

func run(dir, name, sql string, limit int64) error {
	queries, err := apihistory.Queries()
	if err != nil {
		return err
	}
	if sql == "" && name == "" {
		fmt.Println("example queries (QUERY=NAME), or SQL=\"SELECT ... FROM samples\":")
		for _, q := range queries {
			fmt.Printf("  %-24s %s\n", q.Name, q.Description)
		}
		return nil
	}
	if sql == "" {
		for _, q := range queries {
			if q.Name == name {
				sql = q.SQL
			}
		}
		if sql == "" {
			names := make([]string, len(queries))
			for i, q := range queries {
				names[i] = q.Name
			}
			return fmt.Errorf("no example query %q: the queries are %s", name, strings.Join(names, ", "))
		}
	}
	res, err := localathena.Query(context.Background(), dir, sql, limit)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(res.Columns, "\t"))
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = fmt.Sprint(v)
			if v == nil {
				cells[i] = "NULL"
			}
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d rows, %d bytes scanned\n", len(res.Rows), res.BytesScanned)
	return nil
}
