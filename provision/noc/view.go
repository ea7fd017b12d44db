package noc

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The template gets only ready-made strings: every wording rule lives here,
// where the tests can reach it, and the template stays markup.

// cell is one formatted value: Text to show, Class for colour (never the only
// signal: Text says the same), Title for the tooltip. Parts, when set, are
// Text's comma-separated pieces, each kept on one line.
type cell struct {
	Text, Class, Title string
	Parts              []string
}

// stamp is a time shown relative to the page's generation time, with the
// absolute time for <time datetime> and the tooltip. ISO is "" for zero times.
type stamp struct {
	Text, ISO, Title, Class string
}

type nodeView struct {
	ID, FQDN, Board, Location, Country string
	State                              State
	StateClass                         string
	BGP4, BGP6                         cell
	Config, Zones, Firmware, Update    cell
	Heartbeat                          stamp
	InService                          stamp
	Note                               string
}

type pageView struct {
	Title          string
	RefreshSeconds int // 0: no refresh meta
	Generated      stamp
	Serial         uint64
	Zones          int
	Summary        Summary
	Rollout        *cell // nil: no rollout
	Nodes          []nodeView
}

func newPageView(p Page) pageView {
	v := pageView{
		Title:     p.Title,
		Generated: stamp{Text: p.Generated.Format("2006-01-02 15:04:05 UTC"), ISO: p.Generated.Format(time.RFC3339)},
		Serial:    p.Serial,
		Zones:     p.Zones,
		Summary:   p.Summarize(),
	}
	if p.Rollout != nil {
		c := rolloutCell(*p.Rollout)
		v.Rollout = &c
	}
	if p.Refresh > 0 {
		v.RefreshSeconds = max(1, int(p.Refresh.Round(time.Second)/time.Second))
	}
	for _, n := range p.Nodes {
		v.Nodes = append(v.Nodes, newNodeView(n, p.Generated))
	}
	return v
}

func newNodeView(n Node, now time.Time) nodeView {
	state := n.State
	if state == "" {
		state = "unknown"
	}
	return nodeView{
		ID:         n.ID,
		FQDN:       n.FQDN,
		Board:      n.Board,
		Location:   n.Location,
		Country:    strings.ToUpper(n.CountryISO),
		State:      state,
		StateClass: n.State.class(),
		BGP4:       bgpCell(n.BGP4, "IPv4"),
		BGP6:       bgpCell(n.BGP6, "IPv6"),
		Config:     configCell(n.ConfigSerial, n.WantSerial),
		Zones:      zonesCell(n.ZonesBehind, n.ZoneLag, n.ZonesMissing),
		Firmware:   firmwareCell(n.Version, n.Build, n.Slot, n.Board),
		Update:     updateCell(n.Update),
		Heartbeat:  heartbeatStamp(n.LastHeartbeat, now),
		InService:  inServiceStamp(n.InService),
		Note:       n.Note,
	}
}

// bgpCell reads "up 2/2", "partial 1/2", "down 0/1", or "—" when the node has
// no sessions of this family.
func bgpCell(b BGP, family string) cell {
	if b.Peers <= 0 {
		return cell{Text: "—", Class: "muted", Title: "no " + family + " BGP sessions"}
	}
	c := cell{Title: fmt.Sprintf("%s BGP: %d of %d sessions established", family, b.Up, b.Peers)}
	if b.State != "" {
		c.Title += "; state " + b.State
	}
	ratio := fmt.Sprintf("%d/%d", b.Up, b.Peers)
	switch {
	case b.Up >= b.Peers:
		c.Text, c.Class = "up "+ratio, "ok"
	case b.Up > 0:
		c.Text, c.Class = "partial "+ratio, "warn"
	default:
		c.Text, c.Class = "down "+ratio, "bad"
	}
	return c
}

// configCell shows the applied serial, and the wanted one when they differ.
func configCell(have, want uint64) cell {
	switch {
	case have == want:
		return cell{Text: strconv.FormatUint(have, 10), Title: "config serial current"}
	case have < want:
		return cell{
			Text:  fmt.Sprintf("%d → %d", have, want),
			Class: "warn",
			Title: fmt.Sprintf("applied config serial %d, fleet serial %d", have, want),
		}
	default: // the node claims a serial the hub has not issued: worth a look
		return cell{
			Text:  fmt.Sprintf("%d (ahead of %d)", have, want),
			Class: "warn",
			Title: "node reports a newer config serial than the hub",
		}
	}
}

// zonesCell reads "current", "2 behind (lag 40s)", "3 missing", or both.
func zonesCell(behind int, lag time.Duration, missing int) cell {
	var parts []string
	if behind > 0 {
		s := fmt.Sprintf("%d behind", behind)
		if lag > 0 {
			s += " (lag " + shortDuration(lag) + ")"
		}
		parts = append(parts, s)
	}
	if missing > 0 {
		parts = append(parts, fmt.Sprintf("%d missing", missing))
	}
	if len(parts) == 0 {
		return cell{Text: "current", Class: "ok"}
	}
	c := cell{Text: strings.Join(parts, ", "), Class: "warn", Parts: parts}
	if missing > 0 {
		c.Class = "bad"
	}
	return c
}

// firmwareCell reads "v0.9.2 #7 (a)": version, build, slot.
func firmwareCell(version string, build uint64, slot, board string) cell {
	c := cell{Text: version}
	if version == "" {
		c = cell{Text: "unknown", Class: "muted"}
	}
	var title []string
	if board != "" {
		title = append(title, "board "+board)
	}
	if build != 0 {
		c.Text += " #" + strconv.FormatUint(build, 10)
		title = append(title, "build "+strconv.FormatUint(build, 10))
	}
	if slot != "" {
		c.Text += " (" + slot + ")"
		title = append(title, "slot "+slot)
	}
	c.Title = strings.Join(title, ", ")
	return c
}

// updateCell reads "v3 committed", "v3 rolled back: not ready in 300s",
// "v3 downloading 40%", or nothing when the node never reported an
// update. The page shows it under the firmware the node runs.
func updateCell(u *Update) cell {
	if u == nil {
		return cell{}
	}
	what := u.Version
	if what == "" {
		what = "build " + strconv.FormatUint(u.Build, 10)
	}
	c := cell{Class: "warn"}
	if u.Build != 0 {
		c.Title = "build " + strconv.FormatUint(u.Build, 10)
	}
	word := strings.ReplaceAll(u.State, "_", " ")
	switch u.State {
	case UpdateCommitted:
		c.Class = "ok"
	case UpdateRolledBack, UpdateRefused:
		c.Class = "bad"
	case UpdateTrial:
		word = "on trial"
	case UpdateDownloading, UpdateWriting:
		if u.Total > 0 {
			word += fmt.Sprintf(" %d%%", min(100, u.Done*100/u.Total))
		}
	case UpdateFailed:
		word = "failed, retrying"
	}
	c.Text = what + " " + word
	if u.Reason != "" {
		c.Text += ": " + u.Reason
	}
	return c
}

// rolloutCell reads "v3: canary phase, 1 of 4 committed", "v3: done, 4 of 4
// committed", or "v3: halted by bah-1 (rolled back: not ready in 300s)".
func rolloutCell(r Rollout) cell {
	count := fmt.Sprintf("%d of %d committed", r.Committed, r.Targets)
	c := cell{Title: "rollout of " + r.Version}
	switch r.Phase {
	case "canary":
		c.Text, c.Class = r.Version+": canary phase, "+count, "warn"
	case "all":
		c.Text, c.Class = r.Version+": rolling out to all, "+count, "warn"
	case "done":
		c.Text, c.Class = r.Version+": done, "+count, "ok"
	case "halted":
		c.Class = "bad"
		who := "the operator"
		if r.HaltNode != "" {
			who = r.HaltNode
		}
		c.Text = r.Version + ": halted by " + who
		if r.HaltReason != "" {
			c.Text += " (" + r.HaltReason + ")"
		}
		c.Text += ", " + count
	default:
		c.Text, c.Class = r.Version+": "+r.Phase+", "+count, "warn"
	}
	return c
}

// heartbeatStamp reads "4s ago", "3m ago", "never".
func heartbeatStamp(t, now time.Time) stamp {
	if t.IsZero() {
		return stamp{Text: "never", Class: "muted", Title: "never heard from"}
	}
	t = t.UTC()
	s := stamp{ISO: t.Format(time.RFC3339), Title: t.Format("2006-01-02 15:04:05 UTC")}
	age := now.Sub(t)
	if age < -2*time.Second { // a skewed clock, either side: show it, don't hide it
		s.Text, s.Class = shortAge(-age)+" in the future", "warn"
		return s
	}
	s.Text = shortAge(max(age, 0)) + " ago"
	return s
}

func inServiceStamp(t time.Time) stamp {
	if t.IsZero() {
		return stamp{Text: "—", Class: "muted", Title: "not in service yet"}
	}
	t = t.UTC()
	return stamp{Text: t.Format(time.DateOnly), ISO: t.Format(time.DateOnly), Title: t.Format("2006-01-02 15:04 UTC")}
}

// shortAge is one unit, rounded down: "4s", "3m", "5h", "12d".
func shortAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// shortDuration is up to two units: "40s", "3m20s", "2h5m", "3d4h".
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return twoUnits(d, time.Minute, "m", time.Second, "s")
	case d < 24*time.Hour:
		return twoUnits(d, time.Hour, "h", time.Minute, "m")
	default:
		return twoUnits(d, 24*time.Hour, "d", time.Hour, "h")
	}
}

func twoUnits(d, big time.Duration, bigName string, small time.Duration, smallName string) string {
	s := fmt.Sprintf("%d%s", int(d/big), bigName)
	if r := int((d % big) / small); r > 0 {
		s += fmt.Sprintf("%d%s", r, smallName)
	}
	return s
}
