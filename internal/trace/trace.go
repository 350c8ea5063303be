package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/icmp-exporter/icmp_exporter/internal/downtime"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Options of one trace.
type Options struct {
	Target   string
	Rounds   int
	Interval time.Duration // between the starts of two rounds
	Timeout  time.Duration // per probe
	MaxHops  int
	JSON     bool
	Datapath string
	// DP replaces the opened datapath (tests).
	DP probe.Datapath
}

// Hop is the summary of one TTL over all rounds (printed with --json).
type Hop struct {
	TTL      int      `json:"ttl"`
	Addrs    []string `json:"addrs"`
	Sent     int      `json:"sent"`
	Received int      `json:"received"`
	LossPct  float64  `json:"loss_percent"`
	LastMs   float64  `json:"last_ms"`
	AvgMs    float64  `json:"avg_ms"`
	BestMs   float64  `json:"best_ms"`
	WorstMs  float64  `json:"worst_ms"`
	Target   bool     `json:"target,omitempty"` // the target answered at this TTL
}

// Report is the result of a trace (printed with --json).
type Report struct {
	Target string `json:"target"`
	IP     string `json:"ip"`
	Rounds int    `json:"rounds"`
	Hops   []Hop  `json:"hops"`
}

// Command is the `trace` command of a kingpin application.
type Command struct {
	*kingpin.CmdClause
	o Options
}

// AddCommand adds the `trace` command and its flags to app.
func AddCommand(app *kingpin.Application) *Command {
	c := &Command{CmdClause: app.Command("trace", "Show the path to one host, mtr-style: a few rounds of TTL-limited echo requests from the exporter's engine, per hop the answering addresses, loss and RTT. Exit 0 when done, 1 on interrupt or failure, 2 on bad input.")}
	o := &c.o
	c.Flag("target", "Address or host name to trace.").Required().StringVar(&o.Target)
	c.Flag("rounds", "Path snapshots to take.").Default("5").IntVar(&o.Rounds)
	c.Flag("interval", "Time between the starts of two rounds.").Default("1s").DurationVar(&o.Interval)
	c.Flag("timeout", "How long to wait for each hop's answer.").Default("1s").DurationVar(&o.Timeout)
	c.Flag("max-hops", "Highest TTL to probe.").Default("30").IntVar(&o.MaxHops)
	c.Flag("json", "Print the report as one JSON object.").BoolVar(&o.JSON)
	c.Flag("datapath", "Datapath: auto, icmp, afpacket.").Default("auto").StringVar(&o.Datapath)
	return c
}

// Run runs the trace until done or SIGINT/SIGTERM and returns the exit code.
func (c *Command) Run(stdout, stderr io.Writer) int {
	return downtime.Exit("trace", stderr, func(ctx context.Context) error { return Run(ctx, c.o, stdout, stderr) })
}

// Main parses args (those after "trace") and runs the command; it returns
// the exit code of Run, or 2 for a flag error.
func Main(args []string, stdout, stderr io.Writer) int {
	return downtime.Standalone(args, stderr, func(app *kingpin.Application) (*kingpin.CmdClause, func() int) {
		c := AddCommand(app)
		return c.CmdClause, func() int { return c.Run(stdout, stderr) }
	})
}

func check(ctx context.Context, o *Options) (netip.Addr, error) {
	bad := downtime.ErrBadInput
	switch {
	case o.Target == "":
		return netip.Addr{}, fmt.Errorf("%w: --target is empty: give an address or a host name", bad)
	case o.Rounds < 1 || o.Rounds > 1000:
		return netip.Addr{}, fmt.Errorf("%w: --rounds %d must be between 1 and 1000", bad, o.Rounds)
	case o.MaxHops < 1 || o.MaxHops > probe.MaxPathHops:
		return netip.Addr{}, fmt.Errorf("%w: --max-hops %d must be between 1 and %d", bad, o.MaxHops, probe.MaxPathHops)
	case o.Interval < probe.MinInterval || o.Interval > probe.MaxInterval:
		return netip.Addr{}, fmt.Errorf("%w: --interval %s must be between %s and %s", bad, o.Interval, probe.MinInterval, probe.MaxInterval)
	case o.Timeout <= 0 || o.Timeout > probe.TimeoutLimit(o.Interval):
		return netip.Addr{}, fmt.Errorf("%w: --timeout %s must be positive and at most %s at --interval %s", bad, o.Timeout, probe.TimeoutLimit(o.Interval), o.Interval)
	}
	if err := (&probe.Spec{Engine: probe.EngineSpec{Datapath: o.Datapath}}).Validate(); err != nil {
		return netip.Addr{}, fmt.Errorf("%w: --datapath: %w", bad, err)
	}
	return downtime.ResolveTarget(ctx, o.Target)
}

// Run traces o.Target for o.Rounds rounds and prints the report.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	ip, err := check(ctx, &o)
	if err != nil {
		return err
	}
	results := make(chan probe.PathResult, 4)
	spec := probe.Spec{
		Engine: probe.EngineSpec{Datapath: o.Datapath},
		Targets: []probe.TargetSpec{{
			Group: "trace", Name: o.Target, Addr: ip, Interval: o.Interval, Timeout: o.Timeout,
			PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1,
			Path: probe.PathSpec{Enabled: true, MaxHops: o.MaxHops, Baseline: probe.PathBaselineOff},
		}},
	}
	eng, err := probe.New(spec, probe.Options{
		Datapath: o.DP,
		Logger:   slog.New(slog.DiscardHandler),
		OnPath: func(ev probe.PathEvent) {
			if ev.Result.Reason != probe.PathReasonTrace {
				return
			}
			select { // never block the engine
			case results <- ev.Result:
			default:
			}
		},
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	fmt.Fprintf(stderr, "tracing %s (%s), %d rounds, up to %d hops…\n", o.Target, ip, o.Rounds, o.MaxHops)
	var rounds []probe.PathResult
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for len(rounds) < o.Rounds {
		if err := eng.TracePath("trace", o.Target); err != nil {
			return err
		}
		// A round ends one timeout after its last probe at the latest;
		// the path budget sends max-hops probes in well under a second.
		limit := time.NewTimer(o.Timeout + 10*time.Second)
		select {
		case r := <-results:
			rounds = append(rounds, r)
		case <-limit.C:
			return fmt.Errorf("round %d did not finish", len(rounds)+1)
		case <-ctx.Done():
			limit.Stop()
			printReport(stdout, o, summarize(o.Target, ip, rounds))
			return fmt.Errorf("interrupted after %d of %d rounds", len(rounds), o.Rounds)
		}
		limit.Stop()
		if len(rounds) < o.Rounds {
			select {
			case <-tick.C:
			case <-ctx.Done():
				printReport(stdout, o, summarize(o.Target, ip, rounds))
				return fmt.Errorf("interrupted after %d of %d rounds", len(rounds), o.Rounds)
			}
		}
	}
	printReport(stdout, o, summarize(o.Target, ip, rounds))
	return nil
}

// summarize folds the rounds into one row per TTL, up to the smallest TTL
// the target answered at (the longest path probed when it never did).
func summarize(target string, ip netip.Addr, rounds []probe.PathResult) Report {
	rep := Report{Target: target, IP: ip.String(), Rounds: len(rounds)}
	n := 0
	for _, r := range rounds {
		n = max(n, len(r.Hops))
	}
	reached := 0
	for _, r := range rounds {
		if r.Reached && (reached == 0 || r.HopCount < reached) {
			reached = r.HopCount
		}
	}
	if reached > 0 {
		n = reached
	}
	for ttl := 1; ttl <= n; ttl++ {
		h := Hop{TTL: ttl, Target: ttl == reached}
		var sum float64
		for _, r := range rounds {
			if ttl > len(r.Hops) {
				continue // not probed in this round
			}
			hop := r.Hops[ttl-1]
			h.Sent++
			if !hop.Answered() {
				continue
			}
			h.Received++
			ms := float64(hop.RTT) / 1e6
			h.LastMs = ms
			sum += ms
			if h.Received == 1 || ms < h.BestMs {
				h.BestMs = ms
			}
			h.WorstMs = max(h.WorstMs, ms)
			if a := hop.Addr.String(); !slices.Contains(h.Addrs, a) {
				h.Addrs = append(h.Addrs, a)
			}
		}
		if h.Received > 0 {
			h.AvgMs = sum / float64(h.Received)
		}
		if h.Sent > 0 {
			h.LossPct = 100 * float64(h.Sent-h.Received) / float64(h.Sent)
		}
		if h.Addrs == nil {
			h.Addrs = []string{}
		}
		rep.Hops = append(rep.Hops, h)
	}
	return rep
}

func printReport(w io.Writer, o Options, rep Report) {
	if o.JSON {
		_ = json.NewEncoder(w).Encode(rep)
		return
	}
	fmt.Fprintf(w, "%3s  %-40s %6s %5s %8s %8s %8s %8s\n", "HOP", "ADDRESS", "LOSS%", "SENT", "LAST", "AVG", "BEST", "WORST")
	for _, h := range rep.Hops {
		addr := strings.Join(h.Addrs, ",")
		if addr == "" {
			addr = "???"
		}
		if h.Received == 0 {
			fmt.Fprintf(w, "%3d  %-40s %5.1f%% %5d\n", h.TTL, addr, h.LossPct, h.Sent)
			continue
		}
		fmt.Fprintf(w, "%3d  %-40s %5.1f%% %5d %8.3f %8.3f %8.3f %8.3f\n", h.TTL, addr, h.LossPct, h.Sent, h.LastMs, h.AvgMs, h.BestMs, h.WorstMs)
	}
}
