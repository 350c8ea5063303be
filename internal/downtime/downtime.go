package downtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Options of one measurement.
type Options struct {
	Target    string
	Interval  time.Duration
	Timeout   time.Duration
	DownAfter int
	UpAfter   int
	Count     int
	MaxWait   time.Duration
	JSON      bool
	// Path takes a path snapshot when the host goes down and when it
	// comes back, and prints them (path.go).
	Path     bool
	Datapath string
	// Datapath replaces the opened datapath (tests).
	DP probe.Datapath
}

// Record is one measured outage, as printed with --json.
type Record struct {
	Target          string    `json:"target"`
	IP              string    `json:"ip"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end,omitzero"`
	Ongoing         bool      `json:"ongoing,omitempty"`
	DurationSeconds float64   `json:"duration_seconds"`
	ResolutionSecs  float64   `json:"resolution_seconds"`
	ProbesLost      uint64    `json:"probes_lost"`
	// PathStart and PathEnd are the path snapshots taken when the host
	// went down and when it came back (--path).
	PathStart *PathRecord `json:"path_start,omitempty"`
	PathEnd   *PathRecord `json:"path_end,omitempty"`
}

// Command is the `downtime` command of a kingpin application, with its own
// flags. It is not safe for concurrent use.
type Command struct {
	*kingpin.CmdClause
	o Options
}

// AddCommand adds the `downtime` command and its flags to app. When app.Parse
// selects it (the returned value's FullCommand()), call Run.
func AddCommand(app *kingpin.Application) *Command {
	c := &Command{CmdClause: app.Command("downtime", "Measure the outage of one host: waits for it to go down, then to come back, and prints start, end and duration (exact to ± one interval). Exit 0 when measured, 1 on --max-wait or interrupt, 2 on bad input.")}
	o := &c.o
	c.Flag("target", "Address or host name to watch.").Required().StringVar(&o.Target)
	c.Flag("interval", "Probe interval (>= 1ms): the resolution of the measurement.").Default("10ms").DurationVar(&o.Interval)
	c.Flag("timeout", "Probe timeout: a probe with no reply within it is lost.").Default("50ms").DurationVar(&o.Timeout)
	c.Flag("down-after", "Consecutive lost probes that make the host down.").Default("3").IntVar(&o.DownAfter)
	c.Flag("up-after", "Consecutive replies that make it up again.").Default("1").IntVar(&o.UpAfter)
	c.Flag("count", "Outages to measure before exiting.").Default("1").IntVar(&o.Count)
	c.Flag("max-wait", "Give up after this long (0 = wait forever).").Default("0s").DurationVar(&o.MaxWait)
	c.Flag("json", "Print one JSON object per outage.").BoolVar(&o.JSON)
	c.Flag("path", "Take a path snapshot (TTL-limited probes) when the host goes down and when it comes back, and print both.").BoolVar(&o.Path)
	c.Flag("datapath", "Datapath: auto, icmp, afpacket.").Default("auto").StringVar(&o.Datapath)
	return c
}

// Run runs the measurement with the parsed flags until done or SIGINT/SIGTERM.
// It returns the process exit code: 0 when every outage was measured, 1 on
// timeout or interrupt before that, 2 on bad input.
func (c *Command) Run(stdout, stderr io.Writer) int {
	return Exit("downtime", stderr, func(ctx context.Context) error { return Run(ctx, c.o, stdout, stderr) })
}

// Exit runs f until it returns or SIGINT/SIGTERM cancels its context, and
// maps its error to the exit code of the terminal commands (downtime,
// trace): 0 on success, 2 for ErrBadInput, 1 otherwise; errors are
// printed to stderr after name.
func Exit(name string, stderr io.Writer, f func(ctx context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := f(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if errors.Is(err, ErrBadInput) {
		return 2
	}
	return 1
}

// Main parses args (those after "downtime") as the command alone would and
// runs it; it returns the exit code of Run, or 2 for a flag error.
func Main(args []string, stdout, stderr io.Writer) int {
	return Standalone(args, stderr, func(app *kingpin.Application) (*kingpin.CmdClause, func() int) {
		c := AddCommand(app)
		return c.CmdClause, func() int { return c.Run(stdout, stderr) }
	})
}

// Standalone parses args as the command that add adds to an empty
// application would and returns the exit code of the run function add
// returns, or 2 for a flag error.
func Standalone(args []string, stderr io.Writer, add func(*kingpin.Application) (*kingpin.CmdClause, func() int)) int {
	app := kingpin.New("icmp_exporter", "")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	cmd, run := add(app)
	if _, err := app.Parse(append([]string{cmd.FullCommand()}, args...)); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd.FullCommand(), err)
		return 2
	}
	return run()
}

// ErrBadInput marks errors in the options, found before any packet is sent.
var ErrBadInput = errors.New("bad input")

// Run measures o.Count outages of o.Target and prints each as it ends.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	ip, err := check(ctx, &o)
	if err != nil {
		return err
	}
	events := make(chan probe.OutageEvent, 64)
	spec := probe.Spec{
		Engine: probe.EngineSpec{Datapath: o.Datapath},
		Targets: []probe.TargetSpec{{
			Group: "downtime", Name: o.Target, Addr: ip, Interval: o.Interval, Timeout: o.Timeout,
			PayloadSize: probe.MinPayload, DownAfter: o.DownAfter, UpAfter: o.UpAfter, OutageHistory: o.Count,
		}},
	}
	paths := make(chan probe.PathResult, 16)
	if o.Path {
		spec.Targets[0].Path = pathSpec
	}
	eng, err := probe.New(spec, probe.Options{
		Datapath: o.DP,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnOutage: func(ev probe.OutageEvent) {
			select { // never block the engine
			case events <- ev:
			default:
			}
		},
		OnPath: func(ev probe.PathEvent) {
			select {
			case paths <- ev.Result:
			default:
			}
		},
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	fmt.Fprintf(stderr, "watching %s (%s) every %s, timeout %s: waiting for it to go down…\n", o.Target, ip, o.Interval, o.Timeout)
	var wait <-chan time.Time
	if o.MaxWait > 0 {
		t := time.NewTimer(o.MaxWait)
		defer t.Stop()
		wait = t.C
	}
	measured := 0
	var ongoing *probe.Outage
	var pw pathWait // --path: the snapshots of the current outage
	for measured < o.Count || pw.ended != nil {
		select {
		case ev := <-events:
			if ev.Outage.Ongoing {
				o2 := ev.Outage
				ongoing = &o2
				pw = pathWait{}
				fmt.Fprintf(stderr, "down since %s (%d probes lost); waiting for it to come back…\n",
					o2.Start.Format(time.RFC3339Nano), o2.ProbesLost)
				continue
			}
			ongoing = nil
			measured++
			if o.Path {
				pw.end(ev.Outage, o.Timeout)
				continue
			}
			printOutage(stdout, o, ip, ev.Outage, time.Now(), nil)
		case r := <-paths:
			if pw.add(r, stdout, o.JSON) {
				printOutage(stdout, o, ip, *pw.ended, time.Now(), &pw)
				pw = pathWait{}
			}
		case <-pw.timer():
			printOutage(stdout, o, ip, *pw.ended, time.Now(), &pw) // the snapshot at the end did not come
			pw = pathWait{}
		case <-wait:
			return fmt.Errorf("gave up after --max-wait %s with %d of %d outages measured%s", o.MaxWait, measured, o.Count, still(ongoing))
		case <-ctx.Done():
			if ongoing != nil {
				printOutage(stdout, o, ip, *ongoing, time.Now(), &pw)
			}
			return fmt.Errorf("interrupted with %d of %d outages measured%s", measured, o.Count, still(ongoing))
		}
	}
	return nil
}

func still(o *probe.Outage) string {
	if o == nil {
		return ""
	}
	return fmt.Sprintf("; the host is still down since %s", o.Start.Format(time.RFC3339Nano))
}

func printOutage(w io.Writer, o Options, ip netip.Addr, out probe.Outage, now time.Time, pw *pathWait) {
	d := out.Duration(now)
	if o.JSON {
		rec := Record{
			Target: o.Target, IP: ip.String(), Start: out.Start, End: out.End, Ongoing: out.Ongoing,
			DurationSeconds: d.Seconds(), ResolutionSecs: out.Resolution.Seconds(), ProbesLost: out.ProbesLost,
		}
		if pw != nil {
			rec.PathStart, rec.PathEnd = pathRecord(pw.start), pathRecord(pw.stop)
		}
		_ = json.NewEncoder(w).Encode(rec)
		return
	}
	end := out.End.Format(time.RFC3339Nano)
	if out.Ongoing {
		end = "(still down)"
	}
	fmt.Fprintf(w, "start: %s  end: %s  duration: %s (±%s)\n", out.Start.Format(time.RFC3339Nano), end, d.Round(time.Millisecond), out.Resolution)
}

// check validates the options and resolves the target before any packet.
func check(ctx context.Context, o *Options) (netip.Addr, error) {
	switch {
	case o.Target == "":
		return netip.Addr{}, fmt.Errorf("%w: --target is empty: give an address or a host name", ErrBadInput)
	case o.Interval < probe.MinInterval:
		return netip.Addr{}, fmt.Errorf("%w: --interval %s is below %s", ErrBadInput, o.Interval, probe.MinInterval)
	case o.Interval > probe.MaxInterval:
		return netip.Addr{}, fmt.Errorf("%w: --interval %s is above %s", ErrBadInput, o.Interval, probe.MaxInterval)
	case o.Timeout <= 0:
		return netip.Addr{}, fmt.Errorf("%w: --timeout %s must be positive", ErrBadInput, o.Timeout)
	case o.Timeout > probe.TimeoutLimit(o.Interval):
		return netip.Addr{}, fmt.Errorf("%w: --timeout %s is above %s, the longest timeout the engine accepts at --interval %s: use a shorter timeout or a longer interval",
			ErrBadInput, o.Timeout, probe.TimeoutLimit(o.Interval), o.Interval)
	case o.DownAfter < 1 || o.DownAfter > probe.MaxDownUp:
		return netip.Addr{}, fmt.Errorf("%w: --down-after %d must be between 1 and %d", ErrBadInput, o.DownAfter, probe.MaxDownUp)
	case o.UpAfter < 1 || o.UpAfter > probe.MaxDownUp:
		return netip.Addr{}, fmt.Errorf("%w: --up-after %d must be between 1 and %d", ErrBadInput, o.UpAfter, probe.MaxDownUp)
	case o.Count < 1:
		return netip.Addr{}, fmt.Errorf("%w: --count must be at least 1", ErrBadInput)
	}
	if err := (&probe.Spec{Engine: probe.EngineSpec{Datapath: o.Datapath}}).Validate(); err != nil {
		return netip.Addr{}, fmt.Errorf("%w: --datapath: %w", ErrBadInput, err)
	}
	return ResolveTarget(ctx, o.Target)
}

// ResolveTarget returns the address of a --target flag: a unicast
// address, or the first address of a host name (IPv4 preferred). Errors
// match ErrBadInput.
func ResolveTarget(ctx context.Context, target string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(target); err == nil {
		ip = ip.Unmap()
		if ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return netip.Addr{}, fmt.Errorf("%w: --target %s is not a unicast address", ErrBadInput, ip)
		}
		return ip, nil
	}
	if strings.ContainsAny(target, "/ ") {
		return netip.Addr{}, fmt.Errorf("%w: --target %q is neither an address nor a host name", ErrBadInput, target)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", target)
	if err != nil || len(addrs) == 0 {
		if err == nil {
			err = errors.New("no address")
		}
		return netip.Addr{}, fmt.Errorf("%w: cannot resolve --target %q: %w", ErrBadInput, target, err)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return addrs[0].Unmap(), nil
}
