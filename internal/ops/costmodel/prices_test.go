package costmodel

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The repository's price table is complete, sourced and dated.
func TestRepositoryPriceFile(t *testing.T) {
	p, err := LoadPrices("../../../cost/prices-us-east-1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Region != "us-east-1" {
		t.Errorf("region %q", p.Region)
	}
	for name, pr := range p.Prices {
		if !strings.HasPrefix(pr.Source, "https://aws.amazon.com/") {
			t.Errorf("%s: source %q is not an AWS pricing page", name, pr.Source)
		}
	}
}

// Hand-computed: API Gateway's REST tiers at 400 million requests are
// 333 million at $3.50 and 67 million at $2.80 a million.
func TestTieredCost(t *testing.T) {
	p := Price{Per: 1e6, Tiers: []Tier{{UpTo: 333e6, USD: 3.5}, {UpTo: 1e9, USD: 2.8}, {UpTo: 20e9, USD: 2.38}, {USD: 1.51}}}
	for q, want := range map[float64]float64{
		0:     0,
		1e6:   3.5,
		333e6: 1165.5,
		400e6: 1165.5 + 67*2.8,
		21e9:  1165.5 + 667*2.8 + 19000*2.38 + 1000*1.51,
	} {
		if got := p.Cost(q); math.Abs(got-want) > 1e-6 {
			t.Errorf("Cost(%g) = %v, want %v", q, got, want)
		}
	}
	flat := Price{Per: 10000, USD: 0.05, Free: 20000}
	if got := flat.Cost(50000); math.Abs(got-0.25) > 1e-9 {
		t.Errorf("flat Cost = %v, want 0.25", got)
	}
	if got := flat.FreeValue(50000); math.Abs(got-0.10) > 1e-9 {
		t.Errorf("FreeValue = %v, want 0.10 (20,000 free)", got)
	}
}

// testPrices writes a price file whose every price is flat: usd per unit
// as given (others 0), no free tier unless given, and loads it.
func testPrices(t *testing.T, usd map[string]float64, free map[string]float64) *Prices {
	t.Helper()
	var b strings.Builder
	b.WriteString("region: test-1\nprices:\n")
	for _, name := range RequiredPrices {
		fmt.Fprintf(&b, "  %s: {unit: units, per: 1, usd: %g, free: %g, source: https://aws.amazon.com/pricing/, recorded: 2026-11-26}\n", name, usd[name], free[name])
	}
	p, err := ParsePrices([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPriceFileErrors(t *testing.T) {
	good, err := os.ReadFile("../../../cost/prices-us-east-1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, edit, old, want string }{
		{"missing price", "", "  kmsKeys:", "missing prices: [kmsKeys]"},
		{"no source", "    source: \n", "    source: https://aws.amazon.com/kms/pricing/\n", "price kmsKeys: no source page"},
		{"bad date", "    recorded: 26/11/2026\n", "    recorded: 2026-11-26\n", "recorded must be a date YYYY-MM-DD, got \"26/11/2026\""},
		{"unknown field", "    unit: keys\n    cost: 1\n", "    unit: keys  # customer managed, a month\n", "field cost not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := string(good)
			if tt.name == "missing price" {
				i := strings.Index(data, tt.old)
				j := strings.Index(data[i+1:], "\n  k") // the next price
				data = data[:i] + data[i+1+j+1:]
			} else {
				if !strings.Contains(data, tt.old) {
					t.Fatalf("the price file no longer holds %q", tt.old)
				}
				data = strings.Replace(data, tt.old, tt.edit, 1)
			}
			_, err := ParsePrices([]byte(data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	_, err = LoadPrices(filepath.Join(t.TempDir(), "prices.yaml"))
	if err == nil || !strings.Contains(err.Error(), "prices.yaml") {
		t.Errorf("a missing price file: %v, want an error naming it", err)
	}
}
