//go:build linux

package lab

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Window says when a drop rule was in force. The rule took effect at an
// instant in [Inserted, InsertedBy] and stopped at an instant in
// [Deleted, DeletedBy]: the bounds are clock readings taken just before the
// nft command started and just after it returned.
type Window struct {
	Inserted, InsertedBy time.Time
	Deleted, DeletedBy   time.Time
}

// DropRule is an nftables table in the target namespace that drops echo
// requests to a set of addresses. Remove is safe for concurrent use.
type DropRule struct {
	l     *Lab
	table string
	// Inserted and InsertedBy bound the instant the rule took effect.
	Inserted, InsertedBy time.Time

	once sync.Once
	win  Window
	err  error
}

// AddDrop installs a rule in the target namespace that drops every ICMP or
// ICMPv6 echo request to addrs (prerouting hook, so the kernel never sees
// them). Each rule is a table of its own; rules for overlapping addresses may
// coexist. The rule is removed in cleanup if Remove was not called.
func (l *Lab) AddDrop(addrs []netip.Addr) *DropRule {
	l.t.Helper()
	r := &DropRule{l: l, table: fmt.Sprintf("icmplab_drop_%d", l.nftSeq.Add(1))}
	script := dropScript(r.table, addrs)
	var err error
	r.Inserted = time.Now()
	err = l.nft(script)
	r.InsertedBy = time.Now()
	if err != nil {
		l.t.Fatalf("lab: add drop rule: %v", err)
	}
	l.t.Cleanup(func() { r.Remove() })
	return r
}

// Remove deletes the rule and returns when it was in force. Later calls
// return the same Window. A failure is reported with t.Errorf.
func (r *DropRule) Remove() Window {
	r.once.Do(func() {
		r.win.Inserted, r.win.InsertedBy = r.Inserted, r.InsertedBy
		r.win.Deleted = time.Now()
		r.err = r.l.nft([]byte("delete table inet " + r.table + "\n"))
		r.win.DeletedBy = time.Now()
		if r.err != nil {
			r.l.t.Errorf("lab: remove drop rule: %v", r.err)
		}
	})
	return r.win
}

// Drop installs a drop rule for addrs (see AddDrop) and returns a function
// that removes it.
func (l *Lab) Drop(addrs []netip.Addr) (undo func()) {
	l.t.Helper()
	r := l.AddDrop(addrs)
	return func() { r.Remove() }
}

// DropWindow drops echo requests to addrs for about d and returns when the
// rule was in force. It blocks for d plus the time nft takes.
func (l *Lab) DropWindow(addrs []netip.Addr, d time.Duration) Window {
	l.t.Helper()
	r := l.AddDrop(addrs)
	time.Sleep(d)
	return r.Remove()
}

// nft runs `nft -f -` with script inside the target namespace. The child is
// forked from a thread in the namespace, so it starts there without the
// latency of `ip netns exec`.
func (l *Lab) nft(script []byte) error {
	return l.DoTarget(func() error {
		return runInput(script, "nft", "-f", "-")
	})
}

func dropScript(table string, addrs []netip.Addr) []byte {
	var v4, v6 []string
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() {
			v4 = append(v4, a.String())
		} else {
			v6 = append(v6, a.String())
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", table)
	set := func(name, typ string, elems []string) {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", name, typ)
		if len(elems) > 0 {
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
		}
		b.WriteString("\t}\n")
	}
	set("v4", "ipv4_addr", v4)
	set("v6", "ipv6_addr", v6)
	b.WriteString("\tchain pre {\n\t\ttype filter hook prerouting priority raw; policy accept;\n")
	b.WriteString("\t\tip daddr @v4 icmp type echo-request drop\n")
	b.WriteString("\t\tip6 daddr @v6 icmpv6 type echo-request drop\n")
	b.WriteString("\t}\n}\n")
	return []byte(b.String())
}
