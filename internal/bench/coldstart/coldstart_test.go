package coldstart

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want Summary
	}{
		{[]float64{3, 1, 2}, Summary{Median: 2, P99: 3}},
		{[]float64{4, 1, 3, 2}, Summary{Median: 2.5, P99: 4}},
		{nil, Summary{}},
	} {
		if got := Summarize(tt.in); got != tt.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	// 100 values 1..100: the 99th percentile by nearest rank is 99.
	var hundred []float64
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, float64(i))
	}
	if got := Summarize(hundred); got.P99 != 99 || got.Median != 50.5 {
		t.Errorf("Summarize(1..100) = %+v", got)
	}
}

func TestCounter(t *testing.T) {
	c, err := NewCounter("secrets", Secrets("k"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := time.Now()
	req, _ := http.NewRequest("POST", c.URL, strings.NewReader(`{"SecretId":"arn:aws:secretsmanager:eu-west-1:1:secret:x"}`))
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GetSecretValue answered %d", res.StatusCode)
	}
	if n := c.Between(before, time.Now()); n != 1 {
		t.Errorf("counted %d requests, want 1", n)
	}
	if n := c.Between(time.Now(), time.Now().Add(time.Hour)); n != 0 {
		t.Errorf("counted %d requests after they came, want 0", n)
	}
	rec := httptest.NewRecorder()
	Secrets("k").ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != 400 {
		t.Errorf("a request without GetSecretValue's target answered %d, want 400", rec.Code)
	}
}
