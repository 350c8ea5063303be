package ui

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

type outagesData struct {
	Page
	Rows             []outageRow
	Total, Ongoing   int
	First, Last      int
	PrevURL, NextURL string
}

// outages lists the outages the engine keeps for every target: ongoing
// first, then the latest start first.
func (h *Handler) outages(r *http.Request) view {
	snap := h.snapshot()
	type ref struct{ t, o int }
	var refs []ref
	recent := func(r ref) *probe.Outage { return &snap.Targets[r.t].OutageRecord().Recent[r.o] }
	for i := range snap.Targets {
		for k := range snap.Targets[i].OutageRecord().Recent {
			refs = append(refs, ref{i, k})
		}
	}
	slices.SortFunc(refs, func(a, b ref) int {
		oa, ob := recent(a), recent(b)
		return cmp.Or(cmpBool(oa.Ongoing, ob.Ongoing), ob.Start.Compare(oa.Start), cmp.Compare(a.t, b.t))
	})
	d := outagesData{Page: h.page("Outages", snap), Total: len(refs)}
	for _, rf := range refs {
		if recent(rf).Ongoing {
			d.Ongoing++
		}
	}
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pages := max(1, (len(refs)+h.o.PageSize-1)/h.o.PageSize)
	pageNo = min(max(pageNo, 1), pages)
	lo, hi := (pageNo-1)*h.o.PageSize, min(pageNo*h.o.PageSize, len(refs))
	d.First, d.Last = lo+1, hi
	link := func(p int) string { return h.o.Prefix + "/outages?" + url.Values{"page": {strconv.Itoa(p)}}.Encode() }
	if pageNo > 1 {
		d.PrevURL = link(pageNo - 1)
	}
	if pageNo < pages {
		d.NextURL = link(pageNo + 1)
	}
	for _, rf := range refs[lo:hi] {
		d.Rows = append(d.Rows, h.outageRow(&snap.Targets[rf.t], *recent(rf), snap.Time))
	}
	return view{"outages.html", http.StatusOK, d}
}
