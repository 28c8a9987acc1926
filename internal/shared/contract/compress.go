package contract

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// An upload over MQTT is the REST API's body, JSON, or that body
// compressed with gzip (RFC 1952). IoT Core meters the rule and its Lambda
// action in 5 KB increments of what they carry, and the rule hands the
// function the payload base64 (a third larger): a 10-sample upload is a
// 4.9 KB message and a 6.6 KB event, two increments, which gzip makes one.
// The function tells the two apart by the first bytes: gzip's magic number
// is 1f 8b (RFC 1952, 2.3.1), and a JSON text (RFC 8259) begins with
// whitespace or a value, never with 0x1f. The rule's SQL is the same for
// both: "the Lambda rule action can receive binary data, if it's base64
// encoded and in a JSON payload", SELECT encode(*, 'base64') (AWS IoT Core
// Developer Guide, "Working with binary payloads").

// IsGzip reports whether payload begins with gzip's magic number.
func IsGzip(payload []byte) bool {
	return len(payload) >= 2 && payload[0] == 0x1f && payload[1] == 0x8b
}

// GzipUpload returns body compressed as a vehicle publishes it: gzip at
// its default level, with no name and no modification time in its header,
// so that the same body always makes the same bytes.
func GzipUpload(body []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	// Writes to a bytes.Buffer do not fail.
	_, _ = zw.Write(body)
	_ = zw.Close()
	return buf.Bytes()
}

// ErrInflatedTooLarge says a compressed payload inflates past the limit
// an upload body has.
var ErrInflatedTooLarge = errors.New("inflates past the limit")

// InflateUpload returns the body a compressed payload holds, at most limit
// bytes: it reads no further than limit+1 bytes of output, so that a small
// payload that inflates to gigabytes costs no more than a large one. A
// payload that is not whole, valid gzip (its checksum and length checked,
// nothing after its members) is an error.
func InflateUpload(payload []byte, limit int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("not valid gzip: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("not valid gzip: %w", err)
	}
	if len(body) > limit {
		return nil, fmt.Errorf("%w of %d bytes", ErrInflatedTooLarge, limit)
	}
	return body, nil
}
