#!/usr/bin/env python3
"""Generates the Grafana dashboards of this directory: python3 generate.py [output dir].

The JSON files are the product (import or provision them); this script keeps their conventions
(datasource variable, units, descriptions, $__rate_interval, native-or-classic RTT queries) in one
place. dashboards_test.go checks the output; test/prometheus runs every query against live exporters.
"""
import json, os, sys
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}

def rtt(q, by, sel):
    """histogram_quantile over native histograms, or classic buckets where there is no native one."""
    nb = f"sum by ({by}) " if by else "sum "
    cb = f"sum by ({by}, le) " if by else "sum by (le) "
    return (f"histogram_quantile({q}, {nb}(rate(icmp_rtt_seconds{{{sel}}}[$__rate_interval])))"
            f" or histogram_quantile({q}, {cb}(rate(icmp_rtt_seconds_bucket{{{sel}}}[$__rate_interval])))")

def loss(by, sel, rng="$__rate_interval", fn="rate"):
    b = f"sum by ({by}) " if by else "sum "
    return (f"clamp(1 - {b}({fn}(icmp_replies_total{{{sel}}}[{rng}]))"
            f" / ({b}({fn}(icmp_probes_sent_total{{{sel}}}[{rng}])) > 0), 0, 1)")

class Dash:
    def __init__(self, uid, title, description, tags):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels, self.vars, self.next_id, self.y = [], [], 1, 0
        self.annotations = [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
            "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]
        self.x = 0
        self.rowh = 0
        self.links = []

    def var_ds(self):
        self.vars.append({"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
                          "current": {}, "hide": 0, "refresh": 1, "regex": "", "includeAll": False, "multi": False,
                          "options": [], "skipUrlSync": False})

    def var(self, name, label, query, multi=True, include_all=True, desc=""):
        v = {"name": name, "label": label, "type": "query", "datasource": DS, "definition": query,
             "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
             "refresh": 2, "regex": "", "sort": 1, "multi": multi, "includeAll": include_all,
             "current": {}, "hide": 0, "options": [], "skipUrlSync": False, "description": desc}
        if include_all:
            v["allValue"] = ".*"
        self.vars.append(v)

    def row(self, title):
        self.newline()
        self.panels.append({"id": self.next_id, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.next_id += 1
        self.y += 1

    def newline(self):
        if self.x:
            self.y += self.rowh
            self.x, self.rowh = 0, 0

    def panel(self, typ, title, desc, targets, w=12, h=8, unit=None, options=None, field=None, overrides=None,
              transformations=None, decimals=None, extra=None):
        if self.x + w > 24:
            self.newline()
        defaults = {}
        if unit is not None:
            defaults["unit"] = unit
        if decimals is not None:
            defaults["decimals"] = decimals
        if field:
            defaults.update(field)
        p = {"id": self.next_id, "type": typ, "title": title, "description": desc, "datasource": DS,
             "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
             "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
             "options": options or {}, "targets": []}
        for i, t in enumerate(targets):
            t = dict(t)
            t.setdefault("refId", "ABCDEFGHIJ"[i])
            t["datasource"] = DS
            t.setdefault("range", True)
            t.setdefault("instant", False)
            if t["instant"]:
                t["range"] = False
            t.setdefault("legendFormat", "__auto")
            t.setdefault("editorMode", "code")
            p["targets"].append(t)
        if transformations:
            p["transformations"] = transformations
        if extra:
            p.update(extra)
        self.panels.append(p)
        self.next_id += 1
        self.x += w
        self.rowh = max(self.rowh, h)
        if self.x >= 24:
            self.newline()
        return p

    def json(self):
        return {
            "annotations": {"list": self.annotations},
            "description": self.description,
            "editable": True, "fiscalYearStartMonth": 0, "graphTooltip": 1, "links": self.links,
            "panels": self.panels, "refresh": "30s", "schemaVersion": 39, "tags": self.tags,
            "templating": {"list": self.vars}, "time": {"from": "now-6h", "to": "now"},
            "timepicker": {}, "timezone": "", "title": self.title, "uid": self.uid, "version": 1,
            "weekStart": ""}

def ts_opts(legend="list", calcs=None):
    return {"legend": {"displayMode": legend, "placement": "bottom", "showLegend": True, "calcs": calcs or []},
            "tooltip": {"mode": "multi", "sort": "desc"}}

def stat_opts(color="value", text="auto"):
    return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": color,
            "graphMode": "area", "justifyMode": "auto", "orientation": "auto", "textMode": text, "wideLayout": True,
            "showPercentChange": False}

def table_opts(sort=None):
    o = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "countRows": False}}
    if sort:
        o["sortBy"] = [{"displayName": sort, "desc": True}]
    return o

def thresholds(*steps):
    s = [{"color": steps[0], "value": None}]
    for i in range(1, len(steps), 2):
        s.append({"color": steps[i + 1], "value": steps[i]})
    return {"mode": "absolute", "steps": s}

UPMAP = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                       "1": {"text": "UP", "color": "green", "index": 1}}}]
LOSS_FIELD = {"min": 0, "max": 1, "thresholds": thresholds("green", 0.01, "yellow", 0.05, "red"),
              "color": {"mode": "thresholds"}}
TS_FIELD = {"custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                       "spanNulls": False, "axisSoftMin": 0}, "color": {"mode": "palette-classic"}}
LINK_TARGET = [{"title": "Target detail: ${__field.labels.target}",
                "url": "/d/icmp-exporter-target?${datasource:queryparam}&var-source=${__field.labels.source}&var-group=${__field.labels.group}&var-target=${__field.labels.target}&${__url_time_range}"}]

def common_vars(d, target_single=False, with_source=True, with_target=True):
    d.var_ds()
    d.var("job", "Job", "label_values(icmp_engine_info, job)", desc="Prometheus scrape job(s) of the exporters.")
    if with_source:
        d.var("source", "Source", 'label_values(icmp_source_info{job=~"$job"}, source)',
              desc="Probing location (the exporter's `source` setting).")
    d.var("group", "Group", 'label_values(icmp_up{job=~"$job"' + (',source=~"$source"' if with_source else "") + '}, group)',
          desc="Target group from the exporter configuration.")
    if with_target:
        d.var("target", "Target",
              'label_values(icmp_up{job=~"$job"' + (',source=~"$source"' if with_source else "") + ',group=~"$group"}, target)',
              multi=not target_single, include_all=not target_single, desc="Target as written in the configuration.")

dashboards = {}

# ---------------------------------------------------------------- overview
d = Dash("icmp-exporter-overview", "ICMP exporter / Overview",
         "Targets up and down by group, the targets down now, worst loss and RTT, recent outages.",
         ["icmp_exporter", "icmp"])
common_vars(d, with_target=False)
S = 'job=~"$job",source=~"$source",group=~"$group"'
d.links = [{"title": "ICMP exporter", "type": "dashboards", "tags": ["icmp_exporter"], "asDropdown": True,
            "includeVars": True, "keepTime": True}]
d.panel("stat", "Targets", "Targets probed (one series of icmp_up per target and source).",
        [{"expr": f"count(icmp_up{{{S}}})", "instant": True}], w=4, h=4, unit="none",
        options=stat_opts("none"), field={"color": {"mode": "fixed", "fixedColor": "blue"}})
d.panel("stat", "Up", "Targets answering echo requests (icmp_up = 1).",
        [{"expr": f"sum(icmp_up{{{S}}})", "instant": True}], w=4, h=4, unit="none",
        options=stat_opts("value"), field={"color": {"mode": "fixed", "fixedColor": "green"}})
d.panel("stat", "Down", "Targets down: down_after consecutive probes lost (icmp_up = 0).",
        [{"expr": f"count(icmp_up{{{S}}}) - sum(icmp_up{{{S}}})", "instant": True}], w=4, h=4, unit="none",
        options=stat_opts("background"), field={"thresholds": thresholds("green", 1, "red"), "color": {"mode": "thresholds"}})
d.panel("stat", "Loss (all selected)", "Share of probes without a reply in time over the selected targets, over the rate interval.",
        [{"expr": loss("", S), "instant": True}], w=4, h=4, unit="percentunit", decimals=2,
        options=stat_opts("value"), field=LOSS_FIELD)
d.panel("stat", "Worst group median RTT", "The highest median round-trip time of any selected group (per source), over the rate interval.",
        [{"expr": f"max({rtt(0.5, 'source, group', S)})", "instant": True}], w=4, h=4, unit="s",
        options=stat_opts("value"), field={"color": {"mode": "fixed", "fixedColor": "text"}})
d.panel("stat", "Outages in range", "Outages that started within the dashboard time range.",
        [{"expr": f"sum(increase(icmp_outages_total{{{S}}}[$__range]))", "instant": True}], w=4, h=4, unit="none",
        decimals=0, options=stat_opts("value"), field={"thresholds": thresholds("green", 1, "orange"), "color": {"mode": "thresholds"}})
d.row("Groups")
d.panel("bargauge", "Targets up by group", "Share of each group's targets that are up, per source.",
        [{"expr": f"sum by (source, group) (icmp_up{{{S}}}) / count by (source, group) (icmp_up{{{S}}})",
          "instant": True, "legendFormat": "{{group}} from {{source}}"}],
        w=8, h=9, unit="percentunit",
        options={"displayMode": "basic", "orientation": "horizontal", "showUnfilled": True, "valueMode": "color",
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "minVizHeight": 16, "minVizWidth": 8,
                 "namePlacement": "auto", "sizing": "auto", "maxVizHeight": 300},
        field={"min": 0, "max": 1, "thresholds": thresholds("red", 0.5, "orange", 0.99, "green"), "color": {"mode": "thresholds"}})
d.panel("timeseries", "Targets down by group", "Number of targets down in each group over time.",
        [{"expr": f"sum by (source, group) (1 - icmp_up{{{S}}})", "legendFormat": "{{group}} from {{source}}"}],
        w=16, h=9, unit="none", decimals=0, options=ts_opts(), field=TS_FIELD)
d.panel("timeseries", "Loss by group", "Share of probes without a reply in time, per group and source.",
        [{"expr": loss("source, group", S), "legendFormat": "{{group}} from {{source}}"}],
        w=12, h=8, unit="percentunit", options=ts_opts("table", ["mean", "max"]), field=dict(TS_FIELD, min=0))
d.panel("timeseries", "Median RTT by group", "Median round-trip time per group and source, from the RTT histograms (native, or classic buckets).",
        [{"expr": rtt(0.5, "source, group", S), "legendFormat": "{{group}} from {{source}}"}],
        w=12, h=8, unit="s", options=ts_opts("table", ["mean", "max"]), field=TS_FIELD)
d.row("Targets")
d.panel("table", "Targets down now", "Targets that are down, with the time since they went down. Empty when every target is up.",
        [{"expr": f"(time() - icmp_state_change_timestamp_seconds{{{S}}}) and icmp_up{{{S}}} == 0",
          "instant": True, "format": "table"}],
        w=12, h=8, unit="s", options=table_opts("Down for"),
        transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True, "job": True},
                                                        "renameByName": {"Value": "Down for"}}}],
        field={"links": LINK_TARGET})
d.panel("table", "Recent outages", "Targets with outages within the dashboard time range: how many, and the start and duration of the last one (it grows while ongoing).",
        [{"expr": f"increase(icmp_outages_total{{{S}}}[$__range]) > 0", "instant": True, "format": "table"},
         {"expr": f"icmp_last_outage_start_timestamp_seconds{{{S}}} * 1000 and on(job, instance, source, group, target, ip) increase(icmp_outages_total{{{S}}}[$__range]) > 0",
          "instant": True, "format": "table"},
         {"expr": f"icmp_last_outage_duration_seconds{{{S}}} and on(job, instance, source, group, target, ip) increase(icmp_outages_total{{{S}}}[$__range]) > 0",
          "instant": True, "format": "table"}],
        w=12, h=8, options=table_opts("Last start"),
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True},
                                                        "renameByName": {"Value #A": "Outages", "Value #B": "Last start", "Value #C": "Last duration"}}}],
        field={"links": LINK_TARGET},
        overrides=[{"matcher": {"id": "byName", "options": "Outages"}, "properties": [{"id": "unit", "value": "none"}, {"id": "decimals", "value": 0}]},
                   {"matcher": {"id": "byName", "options": "Last start"}, "properties": [{"id": "unit", "value": "dateTimeAsIso"}]},
                   {"matcher": {"id": "byName", "options": "Last duration"}, "properties": [{"id": "unit", "value": "s"}]}])
d.panel("bargauge", "Worst loss", "The 10 targets with the highest share of probes lost over the rate interval.",
        [{"expr": f"topk(10, {loss('source, group, target', S)})", "instant": True,
          "legendFormat": "{{target}} ({{group}}) from {{source}}"}],
        w=12, h=9, unit="percentunit", decimals=1,
        options={"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True, "valueMode": "color",
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "minVizHeight": 16, "minVizWidth": 8,
                 "namePlacement": "auto", "sizing": "auto", "maxVizHeight": 300},
        field=dict(LOSS_FIELD, links=LINK_TARGET))
d.panel("bargauge", "Worst median RTT", "The 10 targets with the highest median round-trip time over the rate interval.",
        [{"expr": f"topk(10, {rtt(0.5, 'source, group, target', S)})", "instant": True,
          "legendFormat": "{{target}} ({{group}}) from {{source}}"}],
        w=12, h=9, unit="s",
        options={"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True, "valueMode": "color",
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "minVizHeight": 16, "minVizWidth": 8,
                 "namePlacement": "auto", "sizing": "auto", "maxVizHeight": 300},
        field={"min": 0, "thresholds": thresholds("green", 0.05, "yellow", 0.2, "red"), "color": {"mode": "continuous-GrYlRd"}, "links": LINK_TARGET})
d.panel("timeseries", "Outages by group", "Outages that started per group, over the rate interval.",
        [{"expr": f"sum by (source, group) (increase(icmp_outages_total{{{S}}}[$__rate_interval]))", "legendFormat": "{{group}} from {{source}}"}],
        w=24, h=7, unit="none", options=ts_opts(),
        field={"custom": {"drawStyle": "bars", "fillOpacity": 80, "lineWidth": 1, "showPoints": "never"}, "color": {"mode": "palette-classic"}})
dashboards["overview.json"] = d

# ---------------------------------------------------------------- target detail
d = Dash("icmp-exporter-target", "ICMP exporter / Target",
         "One target: RTT distribution (heatmap and smokeping-style quantile bands), loss, outages, reply TTL, state changes.",
         ["icmp_exporter", "icmp"])
common_vars(d, target_single=True)
T = 'job=~"$job",source=~"$source",group=~"$group",target="$target"'
d.links = [{"title": "ICMP exporter", "type": "dashboards", "tags": ["icmp_exporter"], "asDropdown": True,
            "includeVars": True, "keepTime": True}]
d.annotations.append({"name": "State changes", "datasource": DS, "enable": True, "hide": False, "iconColor": "red",
                      "expr": f"changes(icmp_up{{{T}}}[$__rate_interval]) > 0", "step": "60s", "titleFormat": "state change",
                      "textFormat": "{{target}} from {{source}}", "useValueForTime": False})
d.panel("stat", "State", "Up or down per source, from the exporter's up/down state machine (icmp_up).",
        [{"expr": f"icmp_up{{{T}}}", "instant": True, "legendFormat": "{{source}}"}], w=6, h=4, unit="none",
        options=stat_opts("background"), field={"mappings": UPMAP, "color": {"mode": "thresholds"}, "thresholds": thresholds("red", 1, "green")})
d.panel("stat", "Loss in range", "Share of probes without a reply in time over the dashboard time range, per source.",
        [{"expr": loss("source", T, "$__range", "increase"), "instant": True, "legendFormat": "{{source}}"}], w=6, h=4,
        unit="percentunit", decimals=2, options=stat_opts("value"), field=LOSS_FIELD)
d.panel("stat", "Median RTT", "Median round-trip time over the rate interval, per source.",
        [{"expr": rtt(0.5, "source", T), "instant": True, "legendFormat": "{{source}}"}], w=6, h=4, unit="s",
        options=stat_opts("none"))
d.panel("stat", "Last state change", "When icmp_up last changed (the exporter start for targets that never changed).",
        [{"expr": f"icmp_state_change_timestamp_seconds{{{T}}} * 1000", "instant": True, "legendFormat": "{{source}}"}],
        w=6, h=4, unit="dateTimeFromNow", options=stat_opts("none"))
d.row("Round-trip time")
d.panel("heatmap", "RTT heatmap", "Distribution of round-trip times (smokeping-style) from the icmp_rtt_seconds histogram: A reads native histograms, B classic buckets (whichever the group exports). The median line is in the panel next to it.",
        [{"expr": f"sum(rate(icmp_rtt_seconds{{{T}}}[$__rate_interval]))", "format": "heatmap", "legendFormat": "native"},
         {"expr": f"sum by (le) (rate(icmp_rtt_seconds_bucket{{{T}}}[$__rate_interval]))", "format": "heatmap", "legendFormat": "{{le}}"}],
        w=12, h=10, unit="s",
        options={"calculate": False, "cellGap": 0, "cellValues": {"unit": "reqps"},
                 "color": {"mode": "scheme", "scheme": "Spectral", "steps": 64, "exponent": 0.5, "fill": "dark-orange",
                           "reverse": True, "scale": "exponential"},
                 "exemplars": {"color": "rgba(255,0,255,0.7)"}, "filterValues": {"le": 1e-9},
                 "legend": {"show": True}, "rowsFrame": {"layout": "auto"},
                 "tooltip": {"mode": "single", "yHistogram": True, "showColorScale": False},
                 "yAxis": {"axisPlacement": "left", "unit": "s", "reverse": False}},
        field={"custom": {"scaleDistribution": {"type": "linear"}, "hideFrom": {"legend": False, "tooltip": False, "viz": False}}})
bands = [("p10", 0.1), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p90", 0.9)]
d.panel("timeseries", "RTT smoke: median and spread", "Median RTT (line) with the 25–75 % and 10–90 % bands of the distribution shaded around it, like smokeping's smoke. Sum over the selected sources.",
        [{"expr": rtt(q, "", T), "legendFormat": name} for name, q in bands],
        w=12, h=10, unit="s", options=ts_opts("list", ["mean", "min", "max"]),
        field={"custom": {"drawStyle": "line", "lineWidth": 0, "fillOpacity": 0, "showPoints": "never", "spanNulls": False},
               "color": {"mode": "fixed", "fixedColor": "blue"}},
        overrides=[{"matcher": {"id": "byName", "options": "p50"}, "properties": [{"id": "custom.lineWidth", "value": 2}, {"id": "color", "value": {"mode": "fixed", "fixedColor": "dark-green"}}]},
                   {"matcher": {"id": "byName", "options": "p90"}, "properties": [{"id": "custom.fillBelowTo", "value": "p10"}, {"id": "custom.fillOpacity", "value": 15}]},
                   {"matcher": {"id": "byName", "options": "p75"}, "properties": [{"id": "custom.fillBelowTo", "value": "p25"}, {"id": "custom.fillOpacity", "value": 30}]}])
d.panel("timeseries", "RTT quantiles by source", "Median and 99th percentile round-trip time per source.",
        [{"expr": rtt(0.5, "source", T), "legendFormat": "p50 from {{source}}"},
         {"expr": rtt(0.99, "source", T), "legendFormat": "p99 from {{source}}"}],
        w=24, h=8, unit="s", options=ts_opts("table", ["mean", "max", "lastNotNull"]), field=TS_FIELD)
d.row("Loss and probes")
d.panel("timeseries", "Loss", "Share of probes without a reply in time (lost, ICMP error, or late), per source.",
        [{"expr": loss("source", T), "legendFormat": "{{source}}"}],
        w=12, h=8, unit="percentunit", options=ts_opts("table", ["mean", "max"]), field=dict(TS_FIELD, min=0, max=1))
d.panel("timeseries", "Probes", "Probes sent, replies, lost, late and duplicate replies and skipped probes per second.",
        [{"expr": f"sum by (source) (rate(icmp_probes_sent_total{{{T}}}[$__rate_interval]))", "legendFormat": "sent from {{source}}"},
         {"expr": f"sum by (source) (rate(icmp_replies_total{{{T}}}[$__rate_interval]))", "legendFormat": "replies from {{source}}"},
         {"expr": f"sum by (source) (rate(icmp_probes_lost_total{{{T}}}[$__rate_interval]))", "legendFormat": "lost from {{source}}"},
         {"expr": f"sum by (source) (rate(icmp_late_replies_total{{{T}}}[$__rate_interval]))", "legendFormat": "late from {{source}}"},
         {"expr": f"sum by (source) (rate(icmp_duplicate_replies_total{{{T}}}[$__rate_interval]))", "legendFormat": "duplicates from {{source}}"},
         {"expr": f"sum by (source) (rate(icmp_probes_skipped_total{{{T}}}[$__rate_interval]))", "legendFormat": "skipped from {{source}}"}],
        w=12, h=8, unit="pps", options=ts_opts(), field=TS_FIELD)
d.panel("timeseries", "ICMP and DNS errors", "Probes answered by an ICMP error (by type) or whose send failed, and failed DNS resolutions; a flat 0 when there are none.",
        [{"expr": f"sum by (source, error_type) (rate(icmp_errors_total{{{T}}}[$__rate_interval])) or on() vector(0)", "legendFormat": "{{error_type}} {{source}}"},
         {"expr": f"sum by (source) (rate(icmp_dns_errors_total{{{T}}}[$__rate_interval])) or on() vector(0)", "legendFormat": "dns {{source}}"}],
        w=12, h=8, unit="pps", options=ts_opts(), field=TS_FIELD)
d.panel("timeseries", "Reply TTL", "IP TTL / hop limit of the last reply per source: a change means the path changed.",
        [{"expr": f"icmp_reply_ttl{{{T}}}", "legendFormat": "{{source}} ({{ip}})"}],
        w=12, h=8, unit="none", decimals=0, options=ts_opts(),
        field={"custom": {"drawStyle": "line", "lineInterpolation": "stepAfter", "lineWidth": 1, "fillOpacity": 0, "showPoints": "never"}, "color": {"mode": "palette-classic"}})
d.row("Outages")
d.panel("state-timeline", "Up / down", "Timeline of the up/down state per source: every red stretch is an outage.",
        [{"expr": f"icmp_up{{{T}}}", "legendFormat": "{{source}}"}],
        w=24, h=5, unit="none",
        options={"mergeValues": True, "showValue": "never", "alignValue": "left", "rowHeight": 0.8,
                 "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}, "tooltip": {"mode": "single", "sort": "none"}},
        field={"mappings": UPMAP, "color": {"mode": "thresholds"}, "thresholds": thresholds("red", 1, "green"),
               "custom": {"fillOpacity": 80, "lineWidth": 0}})
d.panel("table", "Last outage", "Start, end and duration of the last outage per source. End 0 / empty means ongoing; start and end are exact to within the resolution (one probing interval).",
        [{"expr": f"icmp_last_outage_start_timestamp_seconds{{{T}}} * 1000", "instant": True, "format": "table"},
         {"expr": f"icmp_last_outage_end_timestamp_seconds{{{T}}} * 1000 > 0", "instant": True, "format": "table"},
         {"expr": f"icmp_last_outage_duration_seconds{{{T}}}", "instant": True, "format": "table"},
         {"expr": f"icmp_outage_resolution_seconds{{{T}}}", "instant": True, "format": "table"},
         {"expr": f"increase(icmp_outages_total{{{T}}}[$__range])", "instant": True, "format": "table"}],
        w=12, h=8, options=table_opts("Start"),
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True, "instance": True, "group": True, "target": True},
                                                        "renameByName": {"Value #A": "Start", "Value #B": "End", "Value #C": "Duration", "Value #D": "Resolution", "Value #E": "Outages in range"}}}],
        overrides=[{"matcher": {"id": "byName", "options": "Start"}, "properties": [{"id": "unit", "value": "dateTimeAsIso"}]},
                   {"matcher": {"id": "byName", "options": "End"}, "properties": [{"id": "unit", "value": "dateTimeAsIso"}]},
                   {"matcher": {"id": "byName", "options": "Duration"}, "properties": [{"id": "unit", "value": "s"}]},
                   {"matcher": {"id": "byName", "options": "Resolution"}, "properties": [{"id": "unit", "value": "s"}]},
                   {"matcher": {"id": "byName", "options": "Outages in range"}, "properties": [{"id": "unit", "value": "none"}, {"id": "decimals", "value": 0}]}])
d.panel("timeseries", "Outage duration", "Duration of the last outage per source; it grows while the outage lasts and stays at its final value afterwards.",
        [{"expr": f"icmp_last_outage_duration_seconds{{{T}}}", "legendFormat": "{{source}}"}],
        w=12, h=8, unit="s", options=ts_opts(),
        field={"custom": {"drawStyle": "line", "lineInterpolation": "stepAfter", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}, "color": {"mode": "palette-classic"}})
d.panel("bargauge", "Completed outages by duration", "Completed outages in the time range by duration (icmp_outage_duration_seconds buckets, cumulative: each bar counts the outages up to that duration).",
        [{"expr": f"sum by (le) (increase(icmp_outage_duration_seconds_bucket{{{T}}}[$__range]))", "instant": True, "format": "heatmap", "legendFormat": "≤ {{le}} s"}],
        w=12, h=8, unit="none", decimals=0,
        options={"displayMode": "basic", "orientation": "vertical", "showUnfilled": True, "valueMode": "color",
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "minVizHeight": 16, "minVizWidth": 8,
                 "namePlacement": "auto", "sizing": "auto", "maxVizHeight": 300},
        field={"min": 0, "color": {"mode": "fixed", "fixedColor": "orange"}})
d.panel("timeseries", "State changes", "Changes of the up/down state per source within each rate interval.",
        [{"expr": f"changes(icmp_up{{{T}}}[$__rate_interval])", "legendFormat": "{{source}}"}],
        w=12, h=8, unit="none", decimals=0, options=ts_opts(),
        field={"custom": {"drawStyle": "bars", "fillOpacity": 80, "lineWidth": 1, "showPoints": "never"}, "color": {"mode": "palette-classic"}})
dashboards["target.json"] = d

# ---------------------------------------------------------------- locations
d = Dash("icmp-exporter-locations", "ICMP exporter / Locations",
         "Where has good latency to my server: every probing source (exporter instance with a `source` location) on a map, coloured by RTT or loss to the selected target.",
         ["icmp_exporter", "icmp"])
common_vars(d, target_single=True, with_source=False)
L = 'job=~"$job",group=~"$group",target="$target"'
INFO = 'max by (source, latitude, longitude) (icmp_source_info{job=~"$job",latitude!="",longitude!=""})'
CONVERT = [{"id": "convertFieldType", "options": {"fields": {}, "conversions": [
    {"targetField": "latitude", "destinationType": "number"}, {"targetField": "longitude", "destinationType": "number"}]}}]

def geomap(title, desc, expr, unit, field):
    layer = {"type": "markers", "name": title, "tooltip": True,
             "location": {"mode": "coords", "latitude": "latitude", "longitude": "longitude"},
             "config": {"showLegend": True,
                        "style": {"size": {"fixed": 10, "min": 8, "max": 20},
                                  "color": {"field": "Value"}, "opacity": 0.8,
                                  "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
                                  "text": {"mode": "field", "field": "source", "fixed": ""},
                                  "textConfig": {"fontSize": 12, "offsetX": 0, "offsetY": -16, "textAlign": "center", "textBaseline": "top"}}}}
    return d.panel("geomap", title, desc, [{"expr": expr, "instant": True, "format": "table"}], w=12, h=12, unit=unit,
                   options={"view": {"id": "fit", "lat": 0, "lon": 0, "zoom": 2, "allLayers": True},
                            "controls": {"showZoom": True, "mouseWheelZoom": True, "showAttribution": True},
                            "basemap": {"type": "default", "name": "Basemap", "config": {}},
                            "layers": [layer], "tooltip": {"mode": "details"}},
                   field=field, transformations=CONVERT)

geomap("Median RTT by source", "Median round-trip time from each probing source to $target. Sources without latitude/longitude are not on the map (see the table).",
       f"{INFO} * on(source) group_left() ({rtt(0.5, 'source', L)})", "s",
       {"color": {"mode": "continuous-GrYlRd"}, "min": 0})
geomap("Loss by source", "Share of probes to $target without a reply in time, from each probing source.",
       f"{INFO} * on(source) group_left() ({loss('source', L)})", "percentunit",
       {"color": {"mode": "continuous-GrYlRd"}, "min": 0, "max": 1})
d.panel("table", "Sources", "Every source probing $target: location, median and 99th percentile RTT and loss.",
        [{"expr": rtt(0.5, "source", L), "instant": True, "format": "table"},
         {"expr": rtt(0.99, "source", L), "instant": True, "format": "table"},
         {"expr": loss("source", L), "instant": True, "format": "table"},
         {"expr": 'max by (source, latitude, longitude) (icmp_source_info{job=~"$job"})', "instant": True, "format": "table"}],
        w=24, h=8, options=table_opts("p50"),
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {"excludeByName": {"Time": True, "Value #D": True},
                                                        "renameByName": {"Value #A": "p50", "Value #B": "p99", "Value #C": "Loss"}}}],
        overrides=[{"matcher": {"id": "byName", "options": "p50"}, "properties": [{"id": "unit", "value": "s"}]},
                   {"matcher": {"id": "byName", "options": "p99"}, "properties": [{"id": "unit", "value": "s"}]},
                   {"matcher": {"id": "byName", "options": "Loss"}, "properties": [{"id": "unit", "value": "percentunit"}]}])
d.panel("timeseries", "Median RTT by source", "Median round-trip time to $target over time, one line per source.",
        [{"expr": rtt(0.5, "source", L), "legendFormat": "{{source}}"}],
        w=12, h=8, unit="s", options=ts_opts("table", ["mean", "max"]), field=TS_FIELD)
d.panel("timeseries", "Loss by source", "Loss to $target over time, one line per source.",
        [{"expr": loss("source", L), "legendFormat": "{{source}}"}],
        w=12, h=8, unit="percentunit", options=ts_opts("table", ["mean", "max"]), field=dict(TS_FIELD, min=0, max=1))
dashboards["locations.json"] = d

# ---------------------------------------------------------------- exporter health
d = Dash("icmp-exporter-health", "ICMP exporter / Exporter health",
         "The exporters themselves: probes per second, schedule lag, drops, foreign packets, scrape size, reloads.",
         ["icmp_exporter", "icmp"])
d.var_ds()
d.var("job", "Job", "label_values(icmp_engine_info, job)", desc="Prometheus scrape job(s) of the exporters.")
d.var("instance", "Instance", 'label_values(icmp_engine_info{job=~"$job"}, instance)', desc="Exporter instance.")
d.links = [{"title": "ICMP exporter", "type": "dashboards", "tags": ["icmp_exporter"], "asDropdown": True,
            "includeVars": False, "keepTime": True}]
I = 'job=~"$job",instance=~"$instance"'
d.panel("stat", "Up", "Whether Prometheus could scrape the instance (up).",
        [{"expr": f"up{{{I}}}", "instant": True, "legendFormat": "{{instance}}"}], w=6, h=4, unit="none",
        options=stat_opts("background"), field={"mappings": UPMAP, "color": {"mode": "thresholds"}, "thresholds": thresholds("red", 1, "green")})
d.panel("stat", "Targets", "Targets each engine probes (icmp_engine_targets).",
        [{"expr": f"icmp_engine_targets{{{I}}}", "instant": True, "legendFormat": "{{instance}}"}], w=6, h=4, unit="none",
        options=stat_opts("none"))
d.panel("stat", "Config reload", "Whether the last configuration load succeeded (icmp_exporter_config_last_reload_successful).",
        [{"expr": f"icmp_exporter_config_last_reload_successful{{{I}}}", "instant": True, "legendFormat": "{{instance}}"}], w=6, h=4, unit="none",
        options=stat_opts("background"),
        field={"mappings": [{"type": "value", "options": {"0": {"text": "FAILED", "color": "red", "index": 0}, "1": {"text": "OK", "color": "green", "index": 1}}}],
               "color": {"mode": "thresholds"}, "thresholds": thresholds("red", 1, "green")})
d.panel("stat", "Last successful reload", "Time of the last successful configuration load.",
        [{"expr": f"icmp_exporter_config_last_reload_success_timestamp_seconds{{{I}}} * 1000", "instant": True, "legendFormat": "{{instance}}"}],
        w=6, h=4, unit="dateTimeFromNow", options=stat_opts("none"))
d.row("Engine")
d.panel("timeseries", "Packets per second", "Echo requests sent and packets received per second by each engine.",
        [{"expr": f"sum by (instance) (rate(icmp_engine_packets_sent_total{{{I}}}[$__rate_interval]))", "legendFormat": "sent {{instance}}"},
         {"expr": f"sum by (instance) (rate(icmp_engine_packets_received_total{{{I}}}[$__rate_interval]))", "legendFormat": "received {{instance}}"}],
        w=12, h=8, unit="pps", options=ts_opts("table", ["mean", "max"]), field=TS_FIELD)
d.panel("timeseries", "Replies by timestamp source", "Replies per second by where their RTT came from: kernel_tx_rx (best), kernel_rx, userspace (degraded).",
        [{"expr": f"sum by (instance, timestamp_source) (rate(icmp_engine_replies_total{{{I}}}[$__rate_interval]))", "legendFormat": "{{timestamp_source}} {{instance}}"}],
        w=12, h=8, unit="pps", options=ts_opts(), field=TS_FIELD)
d.panel("timeseries", "Schedule lag", "Largest delay of a send batch behind its schedule between two scrapes. Persistently high: the engine cannot keep up.",
        [{"expr": f"max by (instance) (icmp_engine_schedule_lag_seconds{{{I}}})", "legendFormat": "{{instance}}"}],
        w=12, h=8, unit="s", options=ts_opts("table", ["mean", "max"]), field=TS_FIELD)
d.panel("timeseries", "Skipped probes and drops", "Probes skipped because the engine fell behind, packets the kernel dropped before the engine read them, and failed sends, per second.",
        [{"expr": f"sum by (instance) (rate(icmp_engine_probes_skipped_total{{{I}}}[$__rate_interval]))", "legendFormat": "skipped {{instance}}"},
         {"expr": f"sum by (instance) (rate(icmp_engine_kernel_drops_total{{{I}}}[$__rate_interval]))", "legendFormat": "kernel drops {{instance}}"},
         {"expr": f"sum by (instance) (rate(icmp_engine_send_errors_total{{{I}}}[$__rate_interval]))", "legendFormat": "send errors {{instance}}"}],
        w=12, h=8, unit="pps", options=ts_opts(), field=TS_FIELD)
d.panel("timeseries", "Foreign and invalid packets", "Echo replies whose tag did not verify (other processes' pings, spoofing) and malformed packets, per second.",
        [{"expr": f"sum by (instance) (rate(icmp_engine_foreign_replies_total{{{I}}}[$__rate_interval]))", "legendFormat": "foreign {{instance}}"},
         {"expr": f"sum by (instance) (rate(icmp_engine_invalid_packets_total{{{I}}}[$__rate_interval]))", "legendFormat": "invalid {{instance}}"}],
        w=12, h=8, unit="pps", options=ts_opts(), field=TS_FIELD)
d.panel("timeseries", "Probes per second by source", "Probes sent per second per source, summed over targets.",
        [{"expr": f"sum by (source) (rate(icmp_probes_sent_total{{{I}}}[$__rate_interval]))", "legendFormat": "{{source}}"}],
        w=12, h=8, unit="pps", options=ts_opts(), field=TS_FIELD)
d.row("Scrapes and process")
d.panel("timeseries", "Scrape size", "Samples per scrape of each instance: grows with targets × metrics (histogram buckets count).",
        [{"expr": f"scrape_samples_scraped{{{I}}}", "legendFormat": "{{instance}}"}],
        w=8, h=8, unit="none", options=ts_opts(), field=TS_FIELD)
d.panel("timeseries", "Scrape duration", "How long Prometheus takes to scrape each instance.",
        [{"expr": f"scrape_duration_seconds{{{I}}}", "legendFormat": "{{instance}}"}],
        w=8, h=8, unit="s", options=ts_opts(), field=TS_FIELD)
d.panel("timeseries", "Reply ratio", "Share of probes answered in time, per instance, over all its targets: a drop on every instance at once points at the probing side.",
        [{"expr": f"sum by (instance) (rate(icmp_replies_total{{{I}}}[$__rate_interval])) / (sum by (instance) (rate(icmp_probes_sent_total{{{I}}}[$__rate_interval])) > 0)", "legendFormat": "{{instance}}"}],
        w=8, h=8, unit="percentunit", options=ts_opts(), field=dict(TS_FIELD, min=0, max=1))
d.panel("table", "Instances", "Datapath, mode and timestamp source of each engine, its source and location, and the exporter version.",
        [{"expr": f"icmp_engine_info{{{I}}}", "instant": True, "format": "table"},
         {"expr": f"icmp_source_info{{{I}}}", "instant": True, "format": "table"},
         {"expr": f"icmp_exporter_build_info{{{I}}}", "instant": True, "format": "table"}],
        w=24, h=6, unit="none", options=table_opts(),
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {"excludeByName": {"Time": True, "Value #A": True, "Value #B": True, "Value #C": True, "__name__": True}}}])
dashboards["exporter.json"] = d

for name, d in dashboards.items():
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(d.json(), f, indent=2, ensure_ascii=False)
        f.write("\n")
print("wrote", ", ".join(dashboards))
