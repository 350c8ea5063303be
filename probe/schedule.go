package probe

// schedHeap orders the scheduled targets by due time: a 4-ary min-heap
// whose entries carry the due time themselves, so that sifting reads and
// writes only the heap's own array and never the targets (at 100k targets
// they lie far apart in memory, and a sift through them missed the caches
// at every level). A target is taken out or rescheduled lazily: its
// generation moves on, which turns its entry stale, and a stale entry is
// dropped when it reaches the top (or when a rebuild finds too many).
type schedHeap struct {
	e     []schedEntry
	stale int // stale entries in e
}

// schedEntry is one scheduled send. It is live while the target is
// scheduled and gen is the target's schedGen; due then equals t.due.
type schedEntry struct {
	due int64
	t   *target
	gen uint32
}

func (s *schedEntry) live() bool { return s.t.scheduled && s.gen == s.t.schedGen }

// schedArity is the heap's fan-out: a shallower heap whose children lie in
// one cache line.
const schedArity = 4

// push schedules t at t.due; t must not be scheduled.
func (h *schedHeap) push(t *target) {
	t.scheduled = true
	h.e = append(h.e, schedEntry{due: t.due, t: t, gen: t.schedGen})
	h.up(len(h.e) - 1)
}

// unschedule takes t out of the schedule.
func (h *schedHeap) unschedule(t *target) {
	if !t.scheduled {
		return
	}
	t.scheduled = false
	t.schedGen++
	h.stale++
	h.compact()
}

// reschedule moves scheduled target t to its new t.due, earlier or later.
func (h *schedHeap) reschedule(t *target) {
	if !t.scheduled {
		return
	}
	h.unschedule(t)
	h.push(t)
}

// top returns the target due first and its due time, dropping stale
// entries on the way; nil when nothing is scheduled.
func (h *schedHeap) top() (*target, int64) {
	for len(h.e) > 0 {
		if s := &h.e[0]; s.live() {
			return s.t, s.due
		}
		h.pop()
		h.stale--
	}
	return nil, 0
}

// advance restores the heap after the target top returned moved to a later
// t.due.
func (h *schedHeap) advance() {
	h.e[0].due = h.e[0].t.due
	h.down(0)
}

func (h *schedHeap) pop() {
	last := len(h.e) - 1
	h.e[0] = h.e[last]
	h.e[last] = schedEntry{}
	h.e = h.e[:last]
	if last > 0 {
		h.down(0)
	}
}

// compact rebuilds the heap without its stale entries once they are the
// majority: entries of removed targets with long intervals would otherwise
// keep the targets in memory until their due time.
func (h *schedHeap) compact() {
	if h.stale < 1024 || h.stale*2 < len(h.e) {
		return
	}
	n := 0
	for _, s := range h.e {
		if s.live() {
			h.e[n] = s
			n++
		}
	}
	clear(h.e[n:])
	h.e, h.stale = h.e[:n], 0
	for i := (n - 2) / schedArity; i >= 0; i-- {
		h.down(i)
	}
}

func (h *schedHeap) up(i int) {
	e := h.e
	s := e[i]
	for i > 0 {
		p := (i - 1) / schedArity
		if e[p].due <= s.due {
			break
		}
		e[i] = e[p]
		i = p
	}
	e[i] = s
}

func (h *schedHeap) down(i int) {
	e := h.e
	n := len(e)
	s := e[i]
	for {
		c := schedArity*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < c+schedArity && j < n; j++ {
			if e[j].due < e[m].due {
				m = j
			}
		}
		if e[m].due >= s.due {
			break
		}
		e[i] = e[m]
		i = m
	}
	e[i] = s
}
