// Package lambdalog makes the functions' logger: one JSON object a line on
// what Lambda sends to the function's log group.
package lambdalog

import (
	"io"
	"log/slog"

	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// New returns the logger of function functionName writing to w: JSON
// lines with their level, message and the function's name
// (metrics.FieldFunction, the dimension of the metrics read from its
// lines), and no time of their own: CloudWatch Logs stamps each event with
// the time the function wrote it, and at one line an upload 45 bytes of
// time were a tenth of the stage's log volume.
func New(w io.Writer, functionName string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: dropTime})).With(metrics.FieldFunction, functionName)
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
