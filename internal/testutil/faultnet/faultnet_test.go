package faultnet

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestHungAcceptsAndNeverAnswers(t *testing.T) {
	c, err := net.Dial("tcp", strings.TrimPrefix(Hung(t), "http://"))
	if err != nil {
		t.Fatalf("Hung refused a connection: %v", err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n > 0 || err == nil {
		t.Errorf("Hung answered: %d bytes, %v", n, err)
	}
}

func TestRefusingRefuses(t *testing.T) {
	if c, err := net.Dial("tcp", strings.TrimPrefix(Refusing(t), "http://")); err == nil {
		c.Close()
		t.Error("Refusing accepted a connection")
	}
}
