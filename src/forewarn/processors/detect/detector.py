"""Detection for one thread group in one region: signals and commands in, incident versions out.

Pure and synchronous: the state and the input go in, the state is changed in place and the
versions to publish come out; time is only ever the signals' event time (or a command's
``issued_at``). Signals are applied in the order they arrived; metric samples are windowed by
event time (see ``windows``), so their arrival order within the grace does not matter.

Lifecycle of one incident (dedup key ``service|region|symptom``; symptoms meaning the same
customer impact, ``rules.SAME_IMPACT``, join the one already open):

* opened by a serious firing alert, or by ``open_after`` consecutive breaching windows —
  internal (customers hear nothing) until confirmed: evidence lasting ``confirm_after``, a
  second signal (another alert, a metric agreeing, another open incident in the same group
  and region), an operator's word, or an explicit critical outage alert;
* a repeated or duplicate signal updates the open incident without a new version;
* PagerDuty acknowledge -> identified, the first one stamping ``acknowledged_at``; an operator
  moving the phase on (identified, monitoring, resolved) stamps it when no page was acknowledged;
  PagerDuty resolve -> resolved; otherwise signals clear when the last alert resolved and no
  metric rule still breaches (metric incidents after ``resolve_after`` clean windows): then it
  resolves, or with ``rules.monitor_for`` set a customer-visible one is ``monitoring`` until
  that long passed with no signal back (one coming back returns it to its phase before);
* operators set phase, cause, ETA, or call a false alarm; impact reports re-classify severity;
* no ETA ``extended_outage_after`` into a customer-visible incident flags an extended outage;
* a promised next update with no version since is kept by a ``progress`` version at its time.
"""

from __future__ import annotations

import array
import math
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from forewarn.policy import Policy
from forewarn.policy_rules import RulesPolicy
from forewarn.processors.cadence import POSTMORTEM_WITHIN
from forewarn.processors.classify import share_of
from forewarn.processors.detect import rules
from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.lifecycle import Lifecycle, Outcome
from forewarn.processors.detect.maintenance import Window, suppressed
from forewarn.processors.detect.state import GroupState, Hysteresis, Series, Track, from_ms, to_ms
from forewarn.processors.detect.versions import (
    first_version,
    next_version,
    reclassified,
    with_signal,
)
from forewarn.processors.detect.windows import (
    ClosedWindow,
    WindowSpec,
    add_sample,
    add_until_due,
    close_windows,
    due,
)
from forewarn.schemas.models import (
    ObservabilityEvent,
    OperatorCommand,
    Phase,
    SampleRun,
    SignalBatch,
    SignalStatus,
)


def _is_web_url(url: str | None) -> bool:
    return url is not None and url.startswith(("https://", "http://")) and not any(c.isspace() for c in url)


class UnknownIncident(LookupError):
    """A command for an incident this group has no open record of."""


class BadBatch(ValueError):
    """A signal batch that cannot be applied; nothing of it was."""


def unpack(run_bytes: bytes, typecode: str) -> array.array[Any]:
    values = array.array(typecode)
    values.frombytes(run_bytes)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def pack(values: Sequence[float] | Sequence[int], typecode: str) -> bytes:
    packed = array.array(typecode, values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


class Detector:
    def __init__(self, policy: Policy, graph: ServiceGraph | None = None) -> None:
        self.policy = policy
        self.rules = policy.rules
        self.spec = WindowSpec.of(policy.rules)
        self.graph = graph or ServiceGraph(policy.services)

    def apply_batch(self, state: GroupState, batch: SignalBatch, windows: Sequence[Window] = ()) -> Outcome:
        for sample_run in batch.runs:
            if not len(sample_run.timestamps) == len(sample_run.values) == 8 * sample_run.count:
                raise BadBatch(
                    f"run {sample_run.service}/{sample_run.metric}: {sample_run.count} samples but "
                    f"{len(sample_run.timestamps)} timestamp and {len(sample_run.values)} value bytes"
                )
        state.region = state.region or batch.region
        run = _Run(self, state, batch.region, windows)
        runs = sorted(batch.runs, key=lambda r: r.after_events)
        next_run = 0
        for index, event in enumerate(batch.events):
            while next_run < len(runs) and runs[next_run].after_events <= index:
                run.samples(runs[next_run])
                next_run += 1
            run.alert(event)
        for sample_run in runs[next_run:]:
            run.samples(sample_run)
        return run.outcome

    def apply_command(self, state: GroupState, command: OperatorCommand) -> Outcome:
        run = _Run(self, state, state.region, ())
        if command.action == "clock":
            run.clock(to_ms(command.issued_at))
        else:
            run.command(command)
        return run.outcome

    def next_due(self, state: GroupState) -> int | None:
        """When (event time) this group needs a ``clock`` command if no signal comes before."""
        return _Run(self, state, state.region, ()).next_due()


class _Run(Lifecycle):
    """One call's worth of work on one group state: signals and commands in."""

    def __init__(self, detector: Detector, state: GroupState, region: str, windows: Sequence[Window]) -> None:
        super().__init__(detector.policy, detector.graph, state, region)
        self.spec, self.windows = detector.spec, windows
        #: How often each id is in ``state.seen``, built on first use: testing each alert
        #: against the list scanned up to 512 ids. Kept in step by ``remember``.
        self._seen: Counter[str] | None = None

    def seen(self, ident: str) -> bool:
        """Whether a signal or command id is among the group's recent ones (a duplicate)."""
        if self._seen is None:
            self._seen = Counter(self.state.seen)
        return ident in self._seen

    def remember(self, ident: str) -> None:
        dropped = self.state.remember(ident)
        count = self._seen
        if count is None:
            return
        count[ident] += 1
        for old in dropped:
            count[old] -= 1
            if not count[old]:
                del count[old]

    # -- input -----------------------------------------------------------------------------

    def samples(self, sample_run: SampleRun) -> None:
        service, metric = sample_run.service, sample_run.metric
        if metric not in rules.METRIC_SYMPTOMS:
            self.outcome.invalid_samples += sample_run.count
            return
        series = self.state.series.setdefault(f"{service}|{metric}", Series())
        state, spec, outcome = self.state, self.spec, self.outcome
        times = unpack(sample_run.timestamps, "q").tolist()
        values = unpack(sample_run.values, "d").tolist()
        index, end = 0, len(times)
        # With no incident open, time passing changes nothing until a window closes, so the
        # samples up to the next one that makes a window due go in at once (``add_until_due``).
        while index < end and not state.tracks:
            index, high, late, invalid = add_until_due(series, times, values, index, spec)
            outcome.late_samples += late
            outcome.invalid_samples += invalid
            if high is not None and (state.clock is None or high > state.clock):
                state.clock = high
            if due(series, spec):
                for window in close_windows(series, spec):
                    self.window(service, metric, window)
        if index < end:
            self._one_by_one(service, metric, series, times, values, index)

    def _one_by_one(
        self, service: str, metric: str, series: Series, times: list[int], values: list[float], index: int
    ) -> None:
        """Samples while an incident is open: time passes sample by sample (``clock``), then
        the windows it closes, because an open incident can confirm or flag on the way."""
        state, spec, outcome = self.state, self.spec, self.outcome
        # The group's clock is kept in a local while nothing else can read it: assigning a
        # pydantic field per sample cost as much as windowing it. It is written back before
        # anything that reads the state (the lifecycle, a closing window) and at the end.
        clock = state.clock
        isfinite = math.isfinite
        for ts, value in zip(times[index:], values[index:], strict=True):
            if not isfinite(value):
                outcome.invalid_samples += 1
                continue
            if not add_sample(series, ts, value, spec):
                outcome.late_samples += 1
                continue
            if clock is None or ts > clock:
                if state.tracks:
                    state.clock = clock
                    self.clock(ts)  # time passes first, then the windows it closes
                    clock = state.clock
                else:
                    clock = ts  # nothing open that time could confirm or flag
            if due(series, spec):
                state.clock = clock
                for window in close_windows(series, spec):
                    self.window(service, metric, window)
                clock = state.clock
        if clock != state.clock:
            state.clock = clock

    def alert(self, event: ObservabilityEvent) -> None:
        if event.metric in rules.METRIC_SYMPTOMS and event.value is not None:  # a sample sent as an event
            ts = pack([to_ms(event.occurred_at)], "q")
            self.samples(
                SampleRun(
                    service=event.service,
                    metric=event.metric,
                    after_events=0,
                    count=1,
                    timestamps=ts,
                    values=pack([event.value], "d"),
                )
            )
            return
        if self.seen(event.event_id):
            self.outcome.duplicates += 1
            self.clock(to_ms(event.received_at))  # a repeat still proves time has passed
            return
        self.remember(event.event_id)
        at = to_ms(event.occurred_at)
        track = self.track_of(event.service, event.symptom)
        if event.status is SignalStatus.firing:
            self.firing(event, at, track)
        elif event.status is SignalStatus.acknowledged:
            if track is not None:
                self.acknowledged(track, event, at)
            else:
                self.outcome.unmatched_acks += 1
        else:
            self.resolved(event, at, track)
        self.clock(max(at, to_ms(event.received_at)))

    def acknowledged(self, track: Track, event: ObservabilityEvent, at: int) -> None:
        """The first acknowledge stamps ``acknowledged_at``; while investigating it also identifies.

        A later acknowledge (a re-ack, another responder) keeps the first time. One that finds
        the incident past investigating with no stamp yet (identified by a rule) changes
        nothing customers see, so it rides on the next version instead of publishing one.
        """
        stamp = {} if track.incident.acknowledged_at is not None else {"acknowledged_at": from_ms(at)}
        if track.incident.phase is Phase.investigating:
            self.emit(track, "phase", at, phase=Phase.identified, rule=_signal_rule(event), **stamp)
        elif stamp:
            track.incident = track.incident.model_copy(update=stamp)

    def command(self, command: OperatorCommand) -> None:
        if self.seen(command.command_id):
            self.outcome.duplicates += 1
            return
        if command.action == "postmortem":
            self.postmortem(command)
            return
        track = next((t for t in self.state.tracks.values() if t.incident.incident_id == command.incident_id), None)
        if track is None and command.action == "false_alarm":
            track = self.reopened_for_retraction(command.incident_id)
        if track is None:
            raise UnknownIncident(f"no open incident {command.incident_id} in {self.region}")
        self.remember(command.command_id)
        at = to_ms(command.issued_at)
        rule = f"operator:{command.issued_by}"
        if command.action == "false_alarm":
            flags = sorted({*track.incident.flags, "false_alarm"})
            summary = command.summary or track.incident.summary
            when = {"resolved_at": track.incident.resolved_at} if track.incident.resolved_at else {}
            self.close(track, "false_alarm", at, rule=rule, flags=flags, summary=summary, **when)
        elif command.action == "impact":
            self.impact(track, command, at)
        elif command.action == "update":
            self.operator_update(track, command, at, rule)
        else:
            raise ValueError(f"action {command.action!r} is not for an incident")

    def postmortem(self, command: OperatorCommand) -> None:
        """The post-mortem is published: one more resolved version (``change`` "postmortem") so
        targeting can tell the customers who heard of the incident where to read it.

        Only a closed incident qualifies (``state.resolved``: a recent one, or a P1/P2 within
        ``POSTMORTEM_WITHIN`` of its resolution, however many closed since): an open one owes no
        post-mortem yet. Its latest version already being the post-mortem's makes a repeat (a
        re-run publish, a command older than the recent ids) a no-op, so customers hear once.
        The version carries the report's URL when it is http(s) (the CLI refuses others; a
        command from elsewhere with another scheme still announces, linking the status page only).
        """
        closed = self.state.resolved(command.incident_id, command.issued_at)
        if closed is None:
            raise UnknownIncident(
                f"no incident {command.incident_id} resolved in {self.region} within the last "
                f"{POSTMORTEM_WITHIN.days} days: its post-mortem is not announced"
            )
        self.remember(command.command_id)
        if closed.change == "postmortem":
            self.outcome.duplicates += 1
            return
        at = max(to_ms(command.issued_at), to_ms(closed.updated_at))
        url = command.postmortem_url if _is_web_url(command.postmortem_url) else None
        incident = next_version(
            closed,
            self.policy,
            "postmortem",
            from_ms(at),
            phase=Phase.resolved,
            rule=f"operator:{command.issued_by}",
            postmortem_url=url,
        )
        self.state.retire(incident)
        self.outcome.incidents.append(incident)

    def reopened_for_retraction(self, incident_id: str | None) -> Track | None:
        """A recently closed incident, back in hand only so it can be called a false alarm."""
        closed = next((i for i in self.state.closed if i.incident_id == incident_id), None)
        if closed is None:
            return None
        track = Track(incident=closed, confirmed=True, evidence_until=to_ms(closed.updated_at))
        self.state.tracks[closed.dedup_key] = track  # closing it again removes it
        return track

    # -- signals -----------------------------------------------------------------------------

    def firing(self, event: ObservabilityEvent, at: int, track: Track | None) -> None:
        buried = self.state.tombstones.get(event.source_ref)
        if buried is not None and at <= buried:
            return  # a repeat of an alert that has since resolved
        if suppressed(self.windows, event.service, self.region, at):
            self.outcome.suppressed += 1
            return
        if track is None:
            if rules.opens_incident(event):
                self.open_from_alert(event, at)
            return
        track.refs.setdefault(event.source_ref, at)
        track.incident = track.incident.model_copy(update={"signal_ids": with_signal(track.incident, event.event_id)})
        self.relapsed(track, at, _signal_rule(event))
        flags = sorted({*track.incident.flags, *event.flags})
        if flags != track.incident.flags:
            self.emit(track, "severity", at, flags=flags, rule=_signal_rule(event))
        self.sweep(at)

    def resolved(self, event: ObservabilityEvent, at: int, track: Track | None) -> None:
        self.state.bury(event.source_ref, at)
        if track is None:
            return
        if event.source == "pagerduty":  # a responder resolved it: that is the word on it
            self.close(track, "resolved", at, rule=_signal_rule(event))
            return
        if track.refs.pop(event.source_ref, None) is None:
            return
        if not track.refs and not self.breaching(track.incident.service, track.incident.symptom):
            self.cleared(track, at, _signal_rule(event))

    def open_from_alert(self, event: ObservabilityEvent, at: int) -> None:
        incident = first_version(
            policy=self.policy,
            service=event.service,
            region=self.region,
            symptom=event.symptom,
            opened_by=event.event_id,
            at=event.occurred_at,
            first_signal_at=event.occurred_at,
            summary=event.summary,
            rule=_signal_rule(event),
            flags=list(event.flags),
            customer_id=event.customer_id,
            signal_ids=[event.event_id],
        )
        track = Track(incident=incident, refs={event.source_ref: at}, evidence_until=at)
        track.confirmed = rules.confirms_at_once(event, self.rules)
        self.open(track, at)

    def window(self, service: str, metric: str, window: ClosedWindow) -> None:
        verdict = rules.judge(metric, window.mean, self.rules.thresholds(service, self.policy.service(service).plans))
        if verdict is None:
            return
        if suppressed(self.windows, service, self.region, window.start) or suppressed(
            self.windows, service, self.region, window.end - 1
        ):
            self.outcome.suppressed += 1
            return  # expected during maintenance: no evidence either way
        symptom = rules.METRIC_SYMPTOMS[metric]
        hysteresis = self.state.rules.setdefault(f"{service}|{symptom}", Hysteresis())
        if verdict.breach:
            self.breach(hysteresis, service, metric, symptom, window, verdict)
        elif hysteresis.breaching:
            hysteresis.run += 1
            if hysteresis.run >= self.rules.resolve_after:
                hysteresis.breaching, hysteresis.run, hysteresis.outage, hysteresis.sla_breach = False, 0, False, False
                track = self.track_of(service, symptom)
                if track is not None and not track.refs and track.quiet_since is None:
                    self.cleared(track, window.end, f"{metric}: {self.rules.resolve_after} clean windows")
        else:
            hysteresis.run = 0

    def breach(
        self, h: Hysteresis, service: str, metric: str, symptom: str, window: ClosedWindow, verdict: rules.Verdict
    ) -> None:
        newly = not h.breaching
        if newly:
            if h.run == 0:
                h.run_start = window.start
            h.run += 1
            if h.run < self.rules.open_after:
                return
            h.breaching, h.breach_start, h.run = True, h.run_start, 0
        else:
            h.run = 0
        h.breach_until = window.end
        h.outage = h.outage or verdict.outage
        h.sla_breach = h.sla_breach or verdict.sla_breach
        flags = [f for f, on in (("outage", h.outage), ("sla_breach", h.sla_breach)) if on]
        track = self.track_of(service, symptom)
        if track is None:
            if newly:  # a breach someone already closed does not reopen until it clears
                self.open_from_rule(service, metric, symptom, window, flags, h)
            return
        track.evidence_until = max(track.evidence_until, window.end)
        self.relapsed(track, window.end, _rule_name(metric, self.rules, service))
        # a flag restating the incident's own symptom (an outage breach on an outage) tells nothing new
        merged = sorted({*track.incident.flags, *(f for f in flags if f != track.incident.symptom)})
        if merged != track.incident.flags:
            self.emit(track, "severity", window.end, flags=merged, rule=_rule_name(metric, self.rules, service))
        self.sweep(window.end)

    def open_from_rule(
        self, service: str, metric: str, symptom: str, window: ClosedWindow, flags: list[str], h: Hysteresis
    ) -> None:
        start = h.breach_start if h.breach_start is not None else window.start
        incident = first_version(
            policy=self.policy,
            service=service,
            region=self.region,
            symptom=symptom,
            opened_by=f"{metric}@{start}",
            at=from_ms(window.end),
            first_signal_at=from_ms(start),
            summary=f"{metric} {_shown(window.mean, metric)} over {window.count} samples",
            rule=_rule_name(metric, self.rules, service),
            flags=flags,
        )
        self.open(Track(incident=incident, evidence_until=window.end), window.end)

    # -- operator and impact -----------------------------------------------------------------

    def operator_update(self, track: Track, command: OperatorCommand, at: int, rule: str) -> None:
        track.confirmed = True  # a person vouching for it is confirmation enough
        updates: dict[str, Any] = {"rule": rule}
        for name in ("cause", "eta", "summary"):
            value = getattr(command, name)
            if value is not None:
                updates[name] = value
        if command.phase not in (None, Phase.investigating) and track.incident.acknowledged_at is None:
            updates["acknowledged_at"] = from_ms(at)  # taken on by a person, with no page acknowledged
        if command.phase is Phase.resolved:
            self.close(track, "resolved", at, **updates)
            return
        change = "update"
        if command.phase is not None and command.phase is not track.incident.phase:
            updates["phase"], change = command.phase, "phase"
        self.emit(track, change, at, **updates)
        self.sweep(at)

    def impact(self, track: Track, command: OperatorCommand, at: int) -> None:
        share = share_of(command.affected or 0, command.active_total or 0)
        if share is None:
            return
        proposed = reclassified(track.incident.model_copy(update={"share_affected": share}))
        if proposed.severity is track.incident.severity:
            track.incident = track.incident.model_copy(update={"share_affected": share})
            return
        self.emit(track, "severity", at, share_affected=share, rule=f"impact:{command.affected}/{command.active_total}")


def _signal_rule(event: ObservabilityEvent) -> str:
    return f"{event.source}:{event.source_ref}"


def _rule_name(metric: str, policy_rules: RulesPolicy, service: str) -> str:
    limits = policy_rules.thresholds(service)
    match metric:
        case "error_rate":
            return f"error_rate > {limits.error_rate_pct}%"
        case "latency_p99_ms":
            return f"latency_p99_ms > {limits.latency_p99_ms}"
        case _:
            return f"availability < {limits.availability_pct}%"


def _shown(mean: float, metric: str) -> str:
    return f"{mean:.0f} ms" if metric == "latency_p99_ms" else f"{mean * 100:.2f}%"
