// Package cursor turns DynamoDB's LastEvaluatedKey into opaque pagination
// cursors that are bound to the query they continue and signed, so that a
// forged, altered or foreign cursor is refused instead of reaching DynamoDB.
package cursor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// MaxLen bounds an encoded cursor; longer input is refused unread.
const MaxLen = 1024

// MinKeyLen is the shortest signing key accepted.
const MinKeyLen = 32

const version = 1

// ErrInvalid is returned for any cursor that is malformed, altered, signed
// with another key, or made for another query.
var ErrInvalid = errors.New("invalid cursor")

// Codec signs and checks cursors with one key.
type Codec struct {
	key []byte
}

// New returns a Codec that signs with key, at least MinKeyLen bytes.
func New(key []byte) (*Codec, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("cursor key must be at least 32 bytes")
	}
	return &Codec{key: append([]byte(nil), key...)}, nil
}

type payload struct {
	V int               `json:"v"`
	Q string            `json:"q"`
	K map[string]string `json:"k"`
}

// Encode returns the cursor continuing query after key (the string
// attributes of DynamoDB's LastEvaluatedKey).
func (c *Codec) Encode(query string, key map[string]string) string {
	body, _ := json.Marshal(payload{V: version, Q: query, K: key}) // cannot fail: strings only
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(c.sign(body))
}

// Decode checks a cursor made by Encode for the same query and returns its key.
func (c *Codec) Decode(query, cursor string) (map[string]string, error) {
	if len(cursor) > MaxLen {
		return nil, ErrInvalid
	}
	bodyB64, sigB64, ok := strings.Cut(cursor, ".")
	if !ok {
		return nil, ErrInvalid
	}
	body, err := base64.RawURLEncoding.DecodeString(bodyB64)
	if err != nil {
		return nil, ErrInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigB64)
	if err != nil || !hmac.Equal(sig, c.sign(body)) {
		return nil, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil || p.V != version || p.Q != query || len(p.K) == 0 {
		return nil, ErrInvalid
	}
	return p.K, nil
}

func (c *Codec) sign(body []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(body)
	return m.Sum(nil)[:16]
}
