package app

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// PathPath is where NewPathHandler is served.
const PathPath = "/api/v1/path"

// PathSource gives the path state of a target: *probe.Engine.
type PathSource interface {
	Path(group, name string) (probe.PathInfo, bool)
}

// NewPathHandler serves the last path snapshots of one target as JSON:
// GET /api/v1/path?target=NAME[&group=GROUP], NAME as in the `target`
// label. It answers 400 without target and 404 for a target it does not
// know.
func NewPathHandler(src PathSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		name, group := q.Get("target"), q.Get("group")
		if name == "" {
			http.Error(w, "missing target: use "+PathPath+"?target=NAME (the target label), optionally &group=GROUP", http.StatusBadRequest)
			return
		}
		info, ok := src.Path(group, name)
		if !ok {
			http.Error(w, "no target "+name+" (group "+group+")", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(pathJSONOf(group, name, &info))
	})
}

type pathJSON struct {
	Group     string           `json:"group,omitempty"`
	Target    string           `json:"target"`
	Snapshots uint64           `json:"snapshots"`
	Changes   uint64           `json:"changes"`
	MTU       *mtuJSON         `json:"mtu,omitempty"`
	Baseline  *pathResultJSON  `json:"baseline"`
	Last      *pathResultJSON  `json:"last"`
	History   []pathResultJSON `json:"history"`
}

type mtuJSON struct {
	Bytes   int       `json:"bytes"`
	Changes uint64    `json:"changes"`
	Time    time.Time `json:"time"`
}

type pathResultJSON struct {
	Time       time.Time     `json:"time"`
	Reason     string        `json:"reason"`
	Reached    bool          `json:"reached"`
	HopCount   int           `json:"hop_count"`
	LastHop    string        `json:"last_hop"`
	LastHopTTL int           `json:"last_hop_ttl"`
	Changed    bool          `json:"changed"`
	Probes     int           `json:"probes"`
	Hops       []pathHopJSON `json:"hops"`
}

type pathHopJSON struct {
	TTL        int      `json:"ttl"`
	Addr       string   `json:"addr"`                  // "" when nothing answered
	RTTSeconds *float64 `json:"rtt_seconds,omitempty"` // absent when nothing answered
	Answer     string   `json:"answer,omitempty"`      // echo_reply or an error_type name
}

func pathJSONOf(group, name string, info *probe.PathInfo) pathJSON {
	out := pathJSON{Group: group, Target: name, Snapshots: info.Snapshots, Changes: info.Changes,
		Baseline: resultJSON(info.Baseline), Last: resultJSON(info.Last), History: []pathResultJSON{}}
	if info.MTU.MTU > 0 || info.MTU.Changes > 0 {
		out.MTU = &mtuJSON{Bytes: info.MTU.MTU, Changes: info.MTU.Changes, Time: info.MTU.Last}
	}
	for i := range info.History {
		out.History = append(out.History, *resultJSON(&info.History[i]))
	}
	return out
}

func resultJSON(r *probe.PathResult) *pathResultJSON {
	if r == nil {
		return nil
	}
	j := &pathResultJSON{Time: r.Time, Reason: r.Reason, Reached: r.Reached, HopCount: r.HopCount,
		LastHopTTL: r.LastHopTTL, Changed: r.Changed, Probes: r.Probes, Hops: []pathHopJSON{}}
	if r.LastHop.IsValid() {
		j.LastHop = r.LastHop.String()
	}
	for _, h := range r.Hops {
		hj := pathHopJSON{TTL: h.TTL}
		if h.Answered() {
			rtt := h.RTT.Seconds()
			hj.Addr, hj.RTTSeconds = h.Addr.String(), &rtt
			hj.Answer = "echo_reply"
			if !h.Reply {
				hj.Answer = probe.ErrorTypeNames[h.Error]
			}
		}
		j.Hops = append(j.Hops, hj)
	}
	return j
}
