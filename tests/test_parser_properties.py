"""Property-based tests of the answer's parsers: whatever comes over the wire, the result is a
typed value or a typed error (EnvelopeFormatError, AnalysisFormatError; for the client,
AnalyzerError or a retry), never another exception."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.envelope import (
    Envelope,
    EnvelopeFormatError,
    decode_envelope,
    parse_envelope,
    success_envelope,
)
from streamwatch.analysis.imaging import EncodedImage
from streamwatch.analysis.model import Box, Face, FaceAnalysis, Point, Pose, Pupil, Qualities
from streamwatch.analysis.transport import HttpReply
from streamwatch.analysis.verdict import Transient, interpret_reply
from streamwatch.analysis.wire import (
    PER_FACE_FIELDS,
    QUALITY_FIELDS,
    UNESTIMATED_FIELD,
    AnalysisFormatError,
    parse_data,
    to_data,
)

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=25,
)
field_names = st.sampled_from(
    [
        "face_count",
        "landmark_count",
        "dense_feature_length",
        "qualities",
        UNESTIMATED_FIELD,
        *PER_FACE_FIELDS,
    ]
)


def parse(data: Any) -> FaceAnalysis:
    return parse_data(data, image_width_px=640, image_height_px=480, analyzer="ailab")


@st.composite
def analyses(draw: st.DrawFn) -> FaceAnalysis:
    """Analyses whose every value survives to_data (whole-pixel boxes, 4-digit probability).

    An optional field is there for every face or for none: to_data sends a field for no face
    when one face lacks it.
    """
    count = draw(st.integers(0, 3))
    coordinate = st.floats(-50, 5000, allow_nan=False)
    has = {name: draw(st.booleans()) for name in ("pupils", "pose", "age", *QUALITY_FIELDS)}
    faces = []
    for _ in range(count):
        left, top = draw(st.integers(0, 4000)), draw(st.integers(0, 4000))
        width, height = draw(st.integers(1, 900)), draw(st.integers(1, 900))
        x0, y0 = draw(coordinate), draw(coordinate)
        pupil = st.builds(Pupil, coordinate, coordinate, st.floats(0, 50))
        faces.append(
            Face(
                box_px=Box(left, top, width, height),
                probability=draw(st.integers(0, 10_000)) / 10_000,
                landmarks_px=tuple(Point(x0 + i % 15, y0 + i / 15) for i in range(105)),
                pupils_px=(draw(pupil), draw(pupil)) if has["pupils"] else None,
                pose=draw(
                    st.builds(Pose, st.floats(-90, 90), st.floats(-90, 90), st.floats(-180, 180))
                )
                if has["pose"]
                else None,
                age=draw(st.integers(0, 100)) if has["age"] else None,
                qualities=Qualities(
                    **{
                        name: draw(st.floats(0, 100)) if has[name] else None
                        for name in QUALITY_FIELDS
                    }
                ),
            )
        )
    return FaceAnalysis(
        faces=tuple(faces),
        image_width_px=640,
        image_height_px=480,
        analyzer="ailab",
        landmark_count=105,
        dense_feature_length=1024,
    )


def valid_data(analysis: FaceAnalysis) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(to_data(analysis)))
    return data


# --- the envelope ------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(json_values)
@example({"error_code": "--5"})
@example({"error_code": "²"})
@example({"request_id": [1]})
@example({"error_detail": {"status_code": "9" * 40}})
def test_any_json_value_is_an_envelope_or_an_envelope_format_error(value: Any) -> None:
    try:
        envelope = parse_envelope(value)
    except EnvelopeFormatError:
        return
    assert isinstance(envelope, Envelope)
    assert isinstance(envelope.error_code, int)


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
@example(b"[" * 100_000)
@example(b"1" * 5000)
@example(b"\xff\xfe{\x00}\x00")
def test_any_bytes_are_an_envelope_or_an_envelope_format_error(body: bytes) -> None:
    with contextlib.suppress(EnvelopeFormatError):
        decode_envelope(body)


@PROPERTY_SETTINGS
@given(analyses(), st.data())
def test_a_truncated_body_is_an_envelope_format_error(
    analysis: FaceAnalysis, data: st.DataObject
) -> None:
    body = json.dumps(success_envelope(to_data(analysis), request_id="r", log_id="L")).encode()
    cut = data.draw(st.integers(0, len(body) - 1))

    try:
        decode_envelope(body[:cut])
    except EnvelopeFormatError:
        return
    raise AssertionError(f"a body cut at {cut} of {len(body)} bytes parsed")


# --- data --------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.dictionaries(field_names | st.text(max_size=8), json_values, max_size=8))
@example({"face_count": float("inf"), "face_rectangles": []})
@example({"face_count": 0, UNESTIMATED_FIELD: 7})
@example({"face_count": 0, UNESTIMATED_FIELD: [{}]})
@example({"face_count": 0, "landmark_count": "many"})
@example({"face_count": 1, "face_rectangles": [1, 2, 3, float("nan")]})
@example({"face_count": 1, "face_rectangles": [1, 2, 3, 4], "age_list": [float("inf")]})
@example({"face_count": 1, "face_rectangles": [1, 2, 3, 4], "hat_list": [7]})
@example({"face_count": 1, "face_rectangles": [1, 2, 3, 10**400]})
def test_any_object_is_an_analysis_or_an_analysis_format_error(data: dict[str, Any]) -> None:
    try:
        analysis = parse(data)
    except AnalysisFormatError as error:
        assert error.field
        return
    assert analysis.face_count == data["face_count"]


@PROPERTY_SETTINGS
@given(analyses())
def test_valid_data_parses_back_to_the_analysis(analysis: FaceAnalysis) -> None:
    back = parse(valid_data(analysis))

    assert back.face_count == analysis.face_count
    for got, sent in zip(back.faces, analysis.faces, strict=True):
        assert got.box_px == sent.box_px
        assert got.landmarks_px == sent.landmarks_px
        assert got.pupils_px == sent.pupils_px
        assert got.pose == sent.pose
        assert got.age == sent.age
        assert got.qualities == sent.qualities


mutations = st.sampled_from(["replace", "drop", "shorten", "lengthen", "count", "quality"])


@PROPERTY_SETTINGS
@given(analyses(), mutations, field_names, json_values, st.data())
def test_mutated_data_is_an_analysis_or_an_analysis_format_error(
    analysis: FaceAnalysis, mutation: str, name: str, value: Any, data: st.DataObject
) -> None:
    payload = valid_data(analysis)
    if mutation == "replace":
        payload[name] = value
    elif mutation == "drop":
        payload.pop(name, None)
    elif mutation in ("shorten", "lengthen") and isinstance(payload.get(name), list):
        items = payload[name]
        if mutation == "shorten" and items:
            del items[data.draw(st.integers(0, len(items) - 1))]
        else:
            items.insert(data.draw(st.integers(0, len(items))), 1.0)
    elif mutation == "count":
        payload["face_count"] = data.draw(st.integers(-2, 6) | st.floats())
    elif mutation == "quality":
        quality = data.draw(st.sampled_from(QUALITY_FIELDS))
        payload["qualities"][f"{quality}_list"] = value

    try:
        parse(payload)
    except AnalysisFormatError as error:
        assert error.field


@PROPERTY_SETTINGS
@given(analyses(), st.sampled_from(sorted(PER_FACE_FIELDS)), st.booleans())
def test_an_inconsistent_list_length_names_its_field(
    analysis: FaceAnalysis, name: str, longer: bool
) -> None:
    payload = valid_data(analysis)
    if name in payload.get(UNESTIMATED_FIELD, []):
        payload[UNESTIMATED_FIELD].remove(name)
    if longer:
        payload[name].append(0)
    elif payload[name]:
        payload[name].pop()
    else:
        payload["face_count"] += 1
        name = "face_rectangles"  # the first list checked against the new count

    try:
        parse(payload)
    except AnalysisFormatError as error:
        assert error.field == name
        assert name in str(error)
        return
    raise AssertionError(f"{name} of inconsistent length parsed")


# --- what the client makes of a reply ----------------------------------------------------------

ENCODED = EncodedImage(
    jpeg=b"",
    width_px=4095,
    height_px=2730,
    frame_width_px=6000,
    frame_height_px=4000,
    scale=4095 / 6000,
    jpeg_quality=90,
)


@PROPERTY_SETTINGS
@given(
    st.integers(100, 599),
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.builds(
        lambda data, rid: json.dumps(success_envelope(data, request_id=rid, log_id="L")).encode(),
        st.dictionaries(field_names, json_values, max_size=6),
        st.text(max_size=8),
    ),
)
def test_any_reply_is_an_analysis_an_analyzer_error_or_a_retry(status: int, body: bytes) -> None:
    try:
        analysis = interpret_reply(
            HttpReply(status, body, "application/json"), ENCODED, analyzer="x"
        )
    except (AnalyzerError, Transient):
        return
    assert isinstance(analysis, FaceAnalysis)
    assert (analysis.image_width_px, analysis.image_height_px) == (6000, 4000)
    for face in analysis.faces:
        assert np.isfinite([face.box_px.left, face.box_px.top, face.box_px.width]).all()
