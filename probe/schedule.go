package probe

// schedHeap is a min-heap of targets by due time (typed, so no boxing).
type schedHeap []*target

func (h *schedHeap) push(t *target) {
	*h = append(*h, t)
	t.heapIdx = len(*h) - 1
	h.up(t.heapIdx)
}

func (h schedHeap) less(i, j int) bool { return h[i].due < h[j].due }

func (h schedHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}

func (h schedHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// fix restores the heap after h[i].due grew.
func (h schedHeap) fix(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}
