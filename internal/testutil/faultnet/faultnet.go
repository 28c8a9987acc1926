// Package faultnet gives tests the endpoints a dependency has when the
// network fails: one that accepts connections and never answers (a
// partition), one where nothing listens (connections refused), and the free
// addresses the latter are made of.
package faultnet

import (
	"net"
	"sync"
	"testing"
)

// Hung returns the URL of an endpoint on 127.0.0.1 that accepts
// connections and never answers; it closes when the test ends.
func Hung(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// Refusing returns the URL of an address on 127.0.0.1 where nothing
// listens: every connection is refused.
func Refusing(tb testing.TB) string {
	tb.Helper()
	return "http://" + FreeAddr(tb)
}

// FreeAddr returns an address on 127.0.0.1 where nothing listens now: one
// to refuse connections at, or to start a server on.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
