package probe

import (
	"fmt"
	"time"
)

// Path returns the path state of the target of group with the given name
// (the `target` label), and false when there is no such target. It scans
// the targets: for occasional lookups (an HTTP endpoint), not per scrape.
func (e *Engine) Path(group, name string) (PathInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.c.targets {
		if t.spec.Name == name && (group == "" || t.spec.Group == group) {
			return t.pathInfo(), true
		}
	}
	return PathInfo{}, false
}

// TracePath asks for a path snapshot of the target of group with the given
// name, ignoring its cooldown (not a snapshot already running); the result
// arrives through Options.OnPath and Path. The target must take path
// snapshots (TargetSpec.Path.Enabled).
func (e *Engine) TracePath(group, name string) error {
	e.mu.Lock()
	var found *target
	for _, t := range e.c.targets {
		if t.spec.Name == name && (group == "" || t.spec.Group == group) {
			found = t
			break
		}
	}
	if found == nil {
		e.mu.Unlock()
		return fmt.Errorf("trace %s: no such target", name)
	}
	if !found.spec.Path.Enabled || e.c.path == nil {
		e.mu.Unlock()
		return fmt.Errorf("trace %s: path snapshots are not enabled for its group", name)
	}
	if !found.ip.IsValid() {
		e.mu.Unlock()
		return fmt.Errorf("trace %s: no address yet", name)
	}
	e.c.pathRequest(found, PathReasonTrace, e.mono(time.Now()))
	e.mu.Unlock()
	e.nudge()
	return nil
}
