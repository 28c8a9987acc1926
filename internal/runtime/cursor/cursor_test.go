package cursor

import (
	"bytes"
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"
)

func codec(t testing.TB, key string) *Codec {
	t.Helper()
	c, err := New([]byte(strings.Repeat(key, 32)[:32]))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	c := codec(t, "k")
	key := map[string]string{"vid": "car-1", "eid": "0001732612345678-00112233aabbccdd"}
	cur := c.Encode("events|car-1", key)
	got, err := c.Decode("events|car-1", cur)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, key) {
		t.Errorf("got %v, want %v", got, key)
	}
}

func TestRefused(t *testing.T) {
	c := codec(t, "k")
	good := c.Encode("q1", map[string]string{"vid": "car-1"})
	body, sig, _ := strings.Cut(good, ".")
	flipped := []byte(body)
	flipped[3] ^= 1
	tests := map[string]struct{ query, cursor string }{
		"other query":     {"q2", good},
		"other key":       {"q1", codec(t, "x").Encode("q1", map[string]string{"vid": "car-1"})},
		"altered body":    {"q1", string(flipped) + "." + sig},
		"no signature":    {"q1", body},
		"empty":           {"q1", ""},
		"not base64":      {"q1", "%%%.%%%"},
		"too long":        {"q1", strings.Repeat("a", MaxLen+1)},
		"empty key":       {"q1", c.Encode("q1", map[string]string{})},
		"signed non-JSON": {"q1", forge(c, []byte("not json"))},
		"wrong version":   {"q1", forge(c, []byte(`{"v":2,"q":"q1","k":{"vid":"a"}}`))},
	}
	for name, tt := range tests {
		if _, err := c.Decode(tt.query, tt.cursor); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func forge(c *Codec, body []byte) string {
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(c.sign(body))
}

func TestShortKeyRefused(t *testing.T) {
	if _, err := New(bytes.Repeat([]byte{1}, MinKeyLen-1)); err == nil {
		t.Fatal("New accepted a short key")
	}
}

func FuzzDecode(f *testing.F) {
	c := codec(f, "k")
	f.Add("q", c.Encode("q", map[string]string{"vid": "car-1"}))
	f.Add("q", "")
	f.Add("q", "e30.AAAA")
	f.Fuzz(func(t *testing.T, query, cur string) {
		key, err := c.Decode(query, cur)
		if err == nil && len(key) == 0 {
			t.Fatalf("accepted %q with an empty key", cur)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("unexpected error type %v", err)
		}
	})
}
