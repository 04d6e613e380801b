"""The wire codec: Confluent framing, lossless round trips, and a verdict for every bad input."""

from __future__ import annotations

import dataclasses
import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import field_validator

from forewarn.schemas import (
    MODELS,
    Approval,
    ApprovalStatus,
    Channel,
    Contacts,
    CustomerSegment,
    DeadLetter,
    DecodeError,
    Incident,
    IncidentKind,
    NotificationCommand,
    ObservabilityEvent,
    Phase,
    Record,
    Severity,
    SignalStatus,
    TargetingRequest,
    avro_schema_json,
    codec,
    decode,
    decode_any,
    encode,
    parsed_schema,
    schema_id,
)
from forewarn.schemas.codec import decode_fields, decode_one_of, schema_dir
from forewarn.schemas.models import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    DedupSweep,
    FactKind,
    Int32,
    InternalFact,
    OperatorCommand,
    SignalBatch,
    UtcDatetime,
)

REGISTRY = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "registry.json").read_text())["schemas"]
AT = datetime(2026, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)


# -- strategies, derived from the contracts ---------------------------------------------

_ZONES = st.none() | st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(min_value=-23 * 60, max_value=23 * 60)
)
_TIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=_ZONES)
_TEXT = st.text(max_size=12)


def avro_values(avro: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Any value the Avro type admits, in the form the model accepts.

    Times come naive, in UTC and in other offsets with microseconds, because the model must
    turn all of them into what the wire can carry.
    """
    if isinstance(avro, str) and avro in named:
        avro = named[avro]
    if isinstance(avro, list):
        return st.one_of([avro_values(branch, named) for branch in avro])
    kind = avro["type"] if isinstance(avro, dict) else avro
    if isinstance(avro, dict) and avro.get("logicalType") == "timestamp-millis":
        return _TIMES
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(INT32_MIN, INT32_MAX),
        "long": st.integers(INT64_MIN, INT64_MAX),
        "double": st.floats(allow_nan=False),
        "string": _TEXT,
        "bytes": st.binary(max_size=12),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(avro["symbols"])
    if kind == "array":
        return st.lists(avro_values(avro["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(_TEXT, avro_values(avro["values"], named), max_size=3)
    if kind == "record":
        required = {f["name"]: avro_values(f["type"], named) for f in avro["fields"] if "default" not in f}
        optional = {f["name"]: avro_values(f["type"], named) for f in avro["fields"] if "default" in f}
        return st.fixed_dictionaries(required, optional=optional)
    raise AssertionError(f"no strategy for Avro type {avro!r}")


def records(model: type[Record]) -> st.SearchStrategy[Record]:
    schema = parsed_schema(model)
    return avro_values(schema, schema["__named_schemas"]).map(model.model_validate)


# -- fixed examples -----------------------------------------------------------------------

EVENT = ObservabilityEvent(
    event_id="ev_1",
    source="alertmanager",
    source_ref="fp-9f2c",
    service="checkout",
    region="eu-west-1",
    symptom="error_rate",
    status=SignalStatus.firing,
    severity="critical",
    metric="error_rate",
    value=0.12,
    summary="5xx above 10%",
    labels={"team": "payments"},
    flags=["outage"],
    occurred_at=AT,
    received_at=AT,
)
INCIDENT = Incident(
    incident_id="inc_1",
    version=2,
    dedup_key="checkout|eu-west-1|error_rate",
    title="Checkout errors in eu-west-1",
    service="checkout",
    region="eu-west-1",
    symptom="error_rate",
    phase=Phase.identified,
    severity=Severity.P2,
    kind=IncidentKind.regional_outage,
    change="phase",
    opened_at=AT,
    updated_at=AT,
    first_signal_at=AT,
    signal_ids=["ev_1"],
)
COMMAND = NotificationCommand(
    notification_id="n_1",
    incident_id="inc_1",
    incident_version=2,
    customer_id="cus_1",
    channel=Channel.email,
    text="We are investigating errors at checkout.",
    severity=Severity.P2,
    kind=IncidentKind.regional_outage,
    phase=Phase.identified,
    created_at=AT,
)
APPROVAL = Approval(
    approval_id="ap_1",
    incident_id="inc_1",
    incident_version=2,
    status=ApprovalStatus.pending,
    category="sla_breach",
    command=COMMAND,
    requested_at=AT,
)
SEGMENT = CustomerSegment(
    customer_id="cus_1",
    account_name="Acme",
    plan="enterprise",
    contacts=Contacts(emails=["ops@acme.example"]),
    last_active={"checkout": AT},
    updated_at=AT,
)
REQUEST = TargetingRequest(request_id="rq_1", partition=3, incident=INCIDENT, channels=[Channel.email, Channel.slack])
EXAMPLES: list[Record] = [EVENT, INCIDENT, COMMAND, APPROVAL, SEGMENT, REQUEST]


def _framed(sid: int, body: dict[str, Any], like: type[Record]) -> bytes:
    """Bytes as some other producer might write them, past the model's checks."""
    out = BytesIO(b"\x00" + sid.to_bytes(4, "big"))
    out.seek(5)
    fastavro.schemaless_writer(out, parsed_schema(like), body)
    return out.getvalue()


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_model_survives_the_wire(name: str, data: st.DataObject) -> None:
    model = MODELS[name]
    record = data.draw(records(model))
    wire = encode(record)
    assert wire[:5] == b"\x00" + schema_id(model).to_bytes(4, "big")
    assert decode(wire, model) == record
    assert decode_any(wire) == record


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_compiled_writer_writes_what_fastavro_writes(name: str, data: st.DataObject) -> None:
    """``encode`` runs the schema's compiled writer; consumers read it with fastavro or any Avro
    library, so its bytes must be exactly fastavro's for the same record."""
    model = MODELS[name]
    record = data.draw(records(model))
    out = BytesIO(b"\x00" + schema_id(model).to_bytes(4, "big"))
    out.seek(5)
    fastavro.schemaless_writer(out, parsed_schema(model), record.model_dump())
    assert encode(record) == out.getvalue()


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_compiled_reader_reads_what_fastavro_reads(name: str, data: st.DataObject) -> None:
    """Well-formed bodies: the compiled reader's dict is fastavro's, to the type of every value."""
    model = MODELS[name]
    wire = encode(data.draw(records(model)))
    entry = codec._entry(model)
    assert entry.read is not None
    body, end = entry.read(wire, 5)
    expected = fastavro.schemaless_reader(BytesIO(wire[5:]), parsed_schema(model), None)
    assert end == len(wire)
    assert body == expected
    assert repr(body) == repr(expected)  # same types too (str, not bytes; aware datetimes)


TRUSTED = [name for name, model in MODELS.items() if codec._entry(model).trusted]


def test_only_flat_records_are_adopted_unvalidated() -> None:
    """RawSignal (read once per raw message) is; anything with bounds, enums or nesting is not."""
    assert TRUSTED == ["io.forewarn.RawSignal"]

    class Bounded(Record):
        count: Int32

    class Checked(Record):
        name: str

        @field_validator("name")
        @classmethod
        def _lower(cls, value: str) -> str:
            return value.lower()

    class Flat(Record):
        name: str
        at: UtcDatetime
        note: str | None = None
        blob: bytes = b""

    assert [codec._plain(m) for m in (Bounded, Checked, Flat, DeadLetter, SignalBatch)] == [
        False,
        False,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize("name", TRUSTED)
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_an_adopted_record_is_the_validated_one(name: str, data: st.DataObject) -> None:
    model = MODELS[name]
    wire = encode(data.draw(records(model)))
    adopted = decode(wire, model)
    validated = model.model_validate(codec._read_body(wire, codec._entry(model)))
    assert adopted == validated
    assert repr(adopted) == repr(validated)
    assert adopted.model_dump() == validated.model_dump()
    assert adopted.model_fields_set == validated.model_fields_set


@pytest.mark.parametrize("name", ["NotificationCommand", "CustomerSegment", "SignalBatch", "TargetingRequest"])
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_bytes_get_the_verdict_fastavro_alone_gives(name: str, data: st.DataObject) -> None:
    """Truncated, extended or flipped bytes: the compiled reader never vouches for what fastavro
    would refuse, so ``decode`` classifies bad input exactly as it did with fastavro alone."""
    model = next(m for n, m in MODELS.items() if n.endswith("." + name))
    wire = bytearray(encode(data.draw(records(model))))
    cut = data.draw(st.integers(5, len(wire)))
    damaged = data.draw(
        st.sampled_from(
            [
                bytes(wire[:cut]),
                bytes(wire) + data.draw(st.binary(min_size=1, max_size=3)),
                bytes(wire[: cut - 1]) + bytes([data.draw(st.integers(0, 255))]) + bytes(wire[cut:]),
            ]
        )
    )
    entry = codec._entry(model)

    def outcome(e: Any) -> Any:
        try:
            return codec._read_body(damaged, e)
        except DecodeError as exc:
            return ("refused", exc.reason, exc.error_type)

    assert repr(outcome(entry)) == repr(outcome(dataclasses.replace(entry, read=None)))


@given(records(ObservabilityEvent))
def test_observability_events_round_trip(event: Record) -> None:
    assert decode(encode(event), ObservabilityEvent) == event


@given(records(Incident))
def test_incidents_round_trip(incident: Record) -> None:
    again = decode(encode(incident), Incident)
    assert again == incident
    assert again.model_dump() == incident.model_dump()


@pytest.mark.parametrize("record", EXAMPLES, ids=lambda r: type(r).__name__)
def test_examples_round_trip_with_types_intact(record: Record) -> None:
    again = decode(encode(record), type(record))
    assert again == record
    assert type(again) is type(record)


def test_nested_records_come_back_as_models() -> None:
    again = decode(encode(APPROVAL), Approval)
    assert type(again.command) is NotificationCommand
    assert again.command.channel is Channel.email
    request = decode(encode(REQUEST), TargetingRequest)
    assert type(request.incident) is Incident
    assert request.channels == [Channel.email, Channel.slack]
    assert all(type(c) is Channel for c in request.channels)


def test_non_utc_times_survive_as_the_same_instant() -> None:
    kolkata = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2026, 3, 14, 14, 56, 53, 589000, tzinfo=kolkata)
    incident = Incident.model_validate({**INCIDENT.model_dump(), "opened_at": local, "eta": local + timedelta(hours=1)})
    again = decode(encode(incident), Incident)
    assert again.opened_at == local
    assert again.opened_at.utcoffset() == timedelta(0)
    assert again.eta == local + timedelta(hours=1)
    body = fastavro.schemaless_reader(BytesIO(encode(incident)[5:]), parsed_schema(Incident), None)
    assert isinstance(body, dict)
    assert body["opened_at"] == AT


def test_naive_times_are_utc_and_cut_to_the_millisecond() -> None:
    """The wire has milliseconds only; a record must equal itself after the trip."""
    event = ObservabilityEvent.model_validate(
        {**EVENT.model_dump(), "occurred_at": datetime(2026, 3, 14, 9, 26, 53, 589999)}
    )
    assert event.occurred_at == AT
    assert decode(encode(event), ObservabilityEvent) == event


def test_schema_ids_are_the_registry_ids() -> None:
    assert {MODELS[item["name"]]: item["id"] for item in REGISTRY} == {m: schema_id(m) for m in MODELS.values()}
    assert encode(EVENT)[:5] == b"\x00\x00\x00\x00\x02"
    # Incident: id 3 before acknowledged_at, 16 before window_starts_at, 19 before postmortem_url
    assert encode(INCIDENT)[:5] == b"\x00\x00\x00\x00\x16"
    assert encode(REQUEST)[:5] == b"\x00\x00\x00\x00\x17"


# -- old versions (registry.json "history") ------------------------------------------------

_HISTORY = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "registry.json").read_text())["history"]


#: The Incident version each old record carrying one was written with.
_CARRIED_INCIDENT = {
    10: "incident.3.avsc",
    15: "incident.3.avsc",
    17: "incident.16.avsc",
    18: "incident.16.avsc",
    20: "incident.19.avsc",
    21: "incident.19.avsc",
}


def _old_wire(sid: int, datum: dict[str, Any]) -> bytes:
    """A record as a producer on the old version wrote it: that id, that schema."""
    (item,) = [i for i in _HISTORY if i["id"] == sid]
    named: dict[str, Any] = {}
    if item["name"] != "io.forewarn.Incident":  # the records carrying an Incident name the old one
        if sid in _CARRIED_INCIDENT:
            carried = schema_dir() / "history" / _CARRIED_INCIDENT[sid]
            fastavro.parse_schema(json.loads(carried.read_text()), named)
        today = parsed_schema(MODELS[item["name"]])["__named_schemas"]
        own = {item["name"], "io.forewarn.FactKind"}  # the types the old file defines itself
        named.update({k: v for k, v in today.items() if k not in named and k not in own})
    schema = fastavro.parse_schema(json.loads((schema_dir() / item["file"]).read_text()), named)
    out = BytesIO(b"\x00" + sid.to_bytes(4, "big"))
    out.seek(5)
    fastavro.schemaless_writer(out, schema, datum)
    return out.getvalue()


def _before_acknowledged_at(incident: Incident) -> dict[str, Any]:
    body = _before_window_starts_at(incident)
    del body["acknowledged_at"]
    return body


def _before_window_starts_at(incident: Incident) -> dict[str, Any]:
    body = _before_postmortem_url(incident)
    del body["window_starts_at"]
    return body


def _before_postmortem_url(incident: Incident) -> dict[str, Any]:
    body = incident.model_dump()
    del body["postmortem_url"]
    return body


def test_an_incident_written_before_acknowledged_at_still_reads() -> None:
    wire = _old_wire(3, _before_acknowledged_at(INCIDENT))
    assert decode(wire, Incident) == INCIDENT
    assert decode_any(wire) == INCIDENT
    assert decode(wire, Incident).acknowledged_at is None
    with pytest.raises(DecodeError, match=r"schema id 3 is io\.forewarn\.Incident"):
        decode(wire, ObservabilityEvent)


def test_records_carrying_an_old_incident_still_read() -> None:
    body = {**REQUEST.model_dump(), "incident": _before_acknowledged_at(INCIDENT)}
    assert decode(_old_wire(10, body), TargetingRequest) == REQUEST
    fact = InternalFact(fact_id="f1", kind=FactKind.incident, incident_id="inc_1", at=AT, incident=INCIDENT)
    old_fact = {**fact.model_dump(), "incident": _before_acknowledged_at(INCIDENT)}
    assert decode(_old_wire(15, old_fact), InternalFact) == fact
    assert [i["id"] for i in _HISTORY] == [3, 10, 15, 16, 17, 18, 19, 20, 21, 13]


#: A maintenance version as id 16 carried it: acknowledged_at known, the window start not yet.
MAINTENANCE = INCIDENT.model_copy(
    update={
        "incident_id": "mnt_1",
        "kind": IncidentKind.maintenance,
        "symptom": "maintenance",
        "change": "scheduled",
        "eta": AT + timedelta(days=2, hours=1),
        "acknowledged_at": AT + timedelta(minutes=4),
    }
)


def test_an_incident_written_before_window_starts_at_still_reads() -> None:
    wire = _old_wire(16, _before_window_starts_at(MAINTENANCE))
    assert decode(wire, Incident) == MAINTENANCE
    assert decode_any(wire) == MAINTENANCE
    assert decode(wire, Incident).window_starts_at is None  # readers fall back to opened_at
    with pytest.raises(DecodeError, match=r"schema id 16 is io\.forewarn\.Incident"):
        decode(wire, ObservabilityEvent)


def test_records_carrying_an_incident_before_window_starts_at_still_read() -> None:
    """Ids 17 and 18 name Incident 16 while 10 and 15 still name 3 (the test above): the history
    defines Incident twice, and each old record reads the one it was written with."""
    request = REQUEST.model_copy(update={"incident": MAINTENANCE})
    body = {**request.model_dump(), "incident": _before_window_starts_at(MAINTENANCE)}
    assert decode(_old_wire(17, body), TargetingRequest) == request
    fact = InternalFact(fact_id="f1", kind=FactKind.incident, incident_id="mnt_1", at=AT, incident=MAINTENANCE)
    old_fact = {**fact.model_dump(), "incident": _before_window_starts_at(MAINTENANCE)}
    assert decode(_old_wire(18, old_fact), InternalFact) == fact


def test_a_maintenance_window_start_round_trips_on_the_new_id() -> None:
    window = MAINTENANCE.model_copy(update={"window_starts_at": AT + timedelta(days=2)})
    assert encode(window)[:5] == b"\x00\x00\x00\x00\x16"
    assert decode(encode(window), Incident).window_starts_at == AT + timedelta(days=2)
    request = REQUEST.model_copy(update={"incident": window})
    assert decode(encode(request), TargetingRequest).incident.window_starts_at == AT + timedelta(days=2)


#: A post-mortem version as id 19 carried it: every field but the report's URL.
POSTMORTEM = INCIDENT.model_copy(
    update={
        "incident_id": "inc_pm",
        "phase": Phase.resolved,
        "change": "postmortem",
        "resolved_at": AT + timedelta(hours=1),
        "acknowledged_at": AT + timedelta(minutes=4),
    }
)


def test_an_incident_written_before_postmortem_url_still_reads() -> None:
    wire = _old_wire(19, _before_postmortem_url(POSTMORTEM))
    assert decode(wire, Incident) == POSTMORTEM
    assert decode_any(wire) == POSTMORTEM
    assert decode(wire, Incident).postmortem_url is None  # the status page falls back to audit rows
    with pytest.raises(DecodeError, match=r"schema id 19 is io\.forewarn\.Incident"):
        decode(wire, ObservabilityEvent)


def test_records_carrying_an_incident_before_postmortem_url_still_read() -> None:
    """Ids 20 and 21 name Incident 19; 17/18 still name 16 and 10/15 name 3 (the tests above)."""
    request = REQUEST.model_copy(update={"incident": POSTMORTEM})
    body = {**request.model_dump(), "incident": _before_postmortem_url(POSTMORTEM)}
    assert decode(_old_wire(20, body), TargetingRequest) == request
    fact = InternalFact(fact_id="f1", kind=FactKind.incident, incident_id="inc_pm", at=AT, incident=POSTMORTEM)
    old_fact = {**fact.model_dump(), "incident": _before_postmortem_url(POSTMORTEM)}
    assert decode(_old_wire(21, old_fact), InternalFact) == fact


def test_an_operator_command_written_before_postmortem_url_still_reads() -> None:
    command = OperatorCommand(command_id="c1", action="postmortem", issued_at=AT, issued_by="ana", incident_id="inc_pm")
    body = command.model_dump()
    del body["postmortem_url"]
    wire = _old_wire(13, body)
    assert decode(wire, OperatorCommand) == command
    assert decode(wire, OperatorCommand).postmortem_url is None


def test_a_postmortem_url_round_trips_on_the_new_ids() -> None:
    url = "https://blog.example.com/postmortems/inc-pm"
    published = POSTMORTEM.model_copy(update={"postmortem_url": url})
    assert encode(published)[:5] == b"\x00\x00\x00\x00\x16"
    assert decode(encode(published), Incident).postmortem_url == url
    request = REQUEST.model_copy(update={"incident": published})
    assert encode(request)[:5] == b"\x00\x00\x00\x00\x17"
    assert decode(encode(request), TargetingRequest).incident.postmortem_url == url
    fact = InternalFact(fact_id="f1", kind=FactKind.incident, incident_id="inc_pm", at=AT, incident=published)
    assert encode(fact)[:5] == b"\x00\x00\x00\x00\x18"
    assert decode(encode(fact), InternalFact) == fact
    command = OperatorCommand(command_id="c1", action="postmortem", issued_at=AT, postmortem_url=url)
    assert encode(command)[:5] == b"\x00\x00\x00\x00\x19"
    assert decode(encode(command), OperatorCommand).postmortem_url == url


def test_an_acknowledged_incident_round_trips_on_the_new_id() -> None:
    acked = INCIDENT.model_copy(update={"acknowledged_at": AT + timedelta(minutes=4)})
    assert decode(encode(acked), Incident) == acked
    assert decode(encode(acked), Incident).acknowledged_at == AT + timedelta(minutes=4)


# -- bad input ----------------------------------------------------------------------------


def _rejects(data: bytes, model: type[Record] = ObservabilityEvent) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(data, model)
    if caught.value.error_type != "wrong_type":
        with pytest.raises(DecodeError) as caught_any:
            decode_any(data)
        assert caught_any.value.reason == caught.value.reason
    return caught.value


@pytest.mark.parametrize("record", EXAMPLES, ids=lambda r: type(r).__name__)
def test_every_truncation_is_undecodable(record: Record) -> None:
    wire = encode(record)
    for end in range(len(wire)):
        error = _rejects(wire[:end], type(record))
        assert error.error_type == "undecodable", (end, error.reason)


def test_trailing_bytes_are_undecodable() -> None:
    error = _rejects(encode(EVENT) + b"\x00")
    assert error.error_type == "undecodable"
    assert "trailing" in error.reason


def test_wrong_magic_byte_is_undecodable() -> None:
    error = _rejects(b"\x01" + encode(EVENT)[1:])
    assert error.error_type == "undecodable"
    assert "0x01" in error.reason


def test_unknown_schema_id_is_undecodable() -> None:
    error = _rejects(b"\x00" + (999).to_bytes(4, "big") + encode(EVENT)[5:])
    assert error.error_type == "undecodable"
    assert "999" in error.reason


def test_json_is_undecodable_and_says_so() -> None:
    error = _rejects(EVENT.model_dump_json().encode())
    assert error.error_type == "undecodable"
    assert "0x7b" in error.reason
    assert "JSON" in error.reason


def test_empty_and_garbage_bodies_are_undecodable() -> None:
    assert _rejects(b"").error_type == "undecodable"
    assert _rejects(b"\x00\x00\x00\x00\x02\xff\xff\xff").error_type == "undecodable"


def test_another_record_type_is_wrong_type() -> None:
    error = _rejects(encode(INCIDENT), ObservabilityEvent)
    assert error.error_type == "wrong_type"
    assert error.reason == ("schema id 22 is io.forewarn.Incident, expected io.forewarn.ObservabilityEvent (id 2)")
    assert decode_any(encode(INCIDENT)) == INCIDENT


def test_a_topic_carrying_several_contracts_takes_each_and_names_them_all_when_refusing() -> None:
    sweep = DedupSweep(dedup_key="srv01/mysql", reason="resolved", last_used_at=AT, swept_at=AT)
    takes = (ObservabilityEvent, DedupSweep)
    assert decode_one_of(encode(sweep), takes) == sweep
    with pytest.raises(DecodeError) as caught:
        decode_one_of(encode(INCIDENT), takes)
    assert caught.value.error_type == "wrong_type"
    assert caught.value.reason == (
        "schema id 22 is io.forewarn.Incident, expected io.forewarn.ObservabilityEvent (id 2) "
        "or io.forewarn.DedupSweep (id 26)"
    )
    with pytest.raises(DecodeError) as caught:
        decode_one_of(encode(sweep)[:-3], takes)
    assert caught.value.error_type == "undecodable"


def test_a_value_the_contract_parses_but_the_model_rejects_is_invalid() -> None:
    """fastavro writes any Python int as an Avro int; the model holds the 32-bit line."""
    body = DeadLetter(
        topic="t", partition=0, offset=1, stage="s", error_type="e", reason="r", failed_at=AT
    ).model_dump()
    error = _rejects(_framed(schema_id(DeadLetter), {**body, "partition": 2**31}, DeadLetter), DeadLetter)
    assert error.error_type == "invalid"
    assert "partition" in error.reason
    assert "2147483648" in error.reason


def test_decode_errors_pickle() -> None:
    """Errors cross process boundaries (workers, test runners) with their verdict intact."""
    error = pickle.loads(pickle.dumps(DecodeError("schema id 7 unknown", "undecodable")))
    assert (error.reason, error.error_type, str(error)) == ("schema id 7 unknown", "undecodable", "schema id 7 unknown")


def test_a_model_without_a_schema_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="Contacts has no schema id"):
        encode(Contacts())
    with pytest.raises(TypeError, match="Contacts has no schema id"):
        decode(encode(EVENT), Contacts)  # type: ignore[type-var]


# -- schemas for others -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=20)
@given(data=st.data())
def test_the_published_schema_stands_alone(name: str, data: st.DataObject) -> None:
    """A Schema Registry gets one document per subject: it must parse with nothing else
    known (fastavro also refuses a named type defined twice) and write the bytes we write."""
    model = MODELS[name]
    standalone = fastavro.parse_schema(json.loads(avro_schema_json(model)), {})
    assert standalone["name"] == name
    record = data.draw(records(model))
    out = BytesIO()
    fastavro.schemaless_writer(out, standalone, record.model_dump())
    assert out.getvalue() == encode(record)[5:]


def test_the_published_schema_keeps_docs_and_defaults() -> None:
    schema = json.loads(avro_schema_json(NotificationCommand))
    fields = {f["name"]: f for f in schema["fields"]}
    assert fields["draft_source"]["default"] == "template"
    assert "replay" in fields["notification_id"]["doc"]
    assert fields["severity"]["type"]["symbols"] == ["P1", "P2", "P3", "P4"]


def test_schemas_come_from_the_packaged_copy_when_there_is_one(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "forewarn"
    (package / "_avsc").mkdir(parents=True)
    (package / "_avsc" / "registry.json").write_text("{}")
    assert schema_dir(package) == package / "_avsc"
    with pytest.raises(FileNotFoundError, match=r"registry\.json"):
        schema_dir(tmp_path / "elsewhere" / "forewarn")


def test_fields_read_without_the_model_are_the_model_s_and_refuse_what_decode_refuses() -> None:
    wire = encode(INCIDENT)
    fields = decode_fields(wire, Incident)
    assert Incident.model_validate(fields) == INCIDENT and isinstance(fields, dict)
    for end in range(len(wire)):  # damaged bytes: the verdict decode gives
        with pytest.raises(DecodeError) as refused:
            decode_fields(wire[:end], Incident)
        assert (refused.value.error_type, refused.value.reason) == (
            _rejects(wire[:end], Incident).error_type,
            _rejects(wire[:end], Incident).reason,
        )
    with pytest.raises(DecodeError, match=r"expected io\.forewarn\.ObservabilityEvent") as other:
        decode_fields(wire, ObservabilityEvent)
    assert other.value.error_type == "wrong_type"
    # an older version reads with decode, but its fields are not the current ones: refused
    with pytest.raises(DecodeError, match=r"schema id 3 is io\.forewarn\.Incident") as old:
        decode_fields(_old_wire(3, _before_acknowledged_at(INCIDENT)), Incident)
    assert old.value.error_type == "wrong_type"
