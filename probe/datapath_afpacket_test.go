//go:build linux

package probe

import "testing"

// TestStackSeen: the same packet (stamp and bytes) seen on a second
// interface is dropped; a network duplicate (its own stamp) and the same
// packet on the same interface are not; it does not allocate.
func TestStackSeen(t *testing.T) {
	var s stackSeen
	a := []byte{0x45, 0, 0, 46, 1, 2, 3}
	b := []byte{0x45, 0, 0, 46, 1, 2, 4}
	if s.again(10, 2, a) || !s.again(10, 3, a) || s.again(11, 3, a) || s.again(10, 3, b) || s.again(12, 2, a) || s.again(12, 2, a) {
		t.Fatal("wrong verdicts")
	}
	i := int64(100)
	if n := testing.AllocsPerRun(1000, func() { i++; s.again(i, 2, a); s.again(i, 3, a) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
