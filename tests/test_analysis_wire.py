"""The API's JSON both ways: `data` ↔ FaceAnalysis (wire.py) and the envelope (envelope.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamwatch.analysis.envelope import (
    ERROR_NO_FACE_IN_FILE,
    ERROR_USER_NOT_EXISTS,
    EnvelopeFormatError,
    EnvelopeShape,
    decode_envelope,
    error_envelope,
    parse_envelope,
    success_envelope,
)
from streamwatch.analysis.model import (
    Box,
    Expression,
    Face,
    FaceAnalysis,
    Gender,
    Glasses,
    Mask,
    Point,
    Pose,
    Pupil,
    Qualities,
)
from streamwatch.analysis.wire import (
    PER_FACE_FIELDS,
    QUALITY_FIELDS,
    AnalysisFormatError,
    parse_data,
    to_data,
)


def landmarks(left: float, top: float) -> list[float]:
    """105 distinct points, flattened x0, y0, x1, y1, … as the API sends them."""
    return [c for i in range(105) for c in (left + (i % 15) * 2.0, top + (i // 15) * 3.0)]


def two_face_data() -> dict[str, Any]:
    """A full answer for two faces, every documented field, values as the service sends them."""
    return {
        "face_count": 2,
        "face_rectangles": [100, 50, 80, 96, 300, 60, 70, 88],
        "face_probability_list": [0.998, 0.91],
        "landmark_count": 105,
        "landmarks": landmarks(105, 60) + landmarks(305, 70),
        "pupils": [120.5, 80.25, 3.5, 150.5, 81.0, 3.25, 320.0, 90.0, 3.0, 345.0, 91.0, 2.75],
        "pose_list": [-5.5, 2.0, 1.25, 30.0, -10.0, -3.5],
        "gender_list": [1, 0],
        "age_list": [52, 30],
        "expressions": [1, 0],
        "beauty_list": [66.2, 71.9],
        "hat_list": [0, 1],
        "glasses": [0, 2],
        "masks": [0, 2],
        "dense_feature_length": 1024,
        "qualities": {
            "score_list": [91.0, 72.5],
            "blur_list": [95.1, 60.0],
            "fnf_list": [99.9, 88.8],
            "glass_list": [97.0, 40.5],
            "illu_list": [90.2, 85.0],
            "mask_list": [98.0, 20.0],
            "noise_list": [93.3, 80.1],
            "pose_list": [89.0, 55.5],
        },
    }


def parse(data: dict[str, Any]) -> FaceAnalysis:
    return parse_data(data, image_width_px=640, image_height_px=480, analyzer="ailab")


def test_parse_data_reads_every_field_of_two_faces() -> None:
    analysis = parse_data(
        two_face_data(),
        image_width_px=640,
        image_height_px=480,
        analyzer="ailab",
        request_id="req-1",
    )

    assert analysis.face_count == 2
    assert (analysis.image_width_px, analysis.image_height_px) == (640, 480)
    assert (analysis.analyzer, analysis.request_id) == ("ailab", "req-1")
    assert (analysis.landmark_count, analysis.dense_feature_length) == (105, 1024)
    assert dict(analysis.extra) == {}
    first, second = analysis.faces
    assert first == Face(
        box_px=Box(100, 50, 80, 96),
        probability=0.998,
        landmarks_px=tuple(Point(105 + (i % 15) * 2.0, 60 + (i // 15) * 3.0) for i in range(105)),
        pupils_px=(Pupil(120.5, 80.25, 3.5), Pupil(150.5, 81.0, 3.25)),
        pose=Pose(yaw_deg=-5.5, pitch_deg=2.0, roll_deg=1.25),
        gender=Gender.MALE,
        age=52,
        expression=Expression.SMILE,
        beauty=66.2,
        hat=False,
        glasses=Glasses.NONE,
        mask=Mask.NONE,
        qualities=Qualities(
            score=91.0, blur=95.1, fnf=99.9, glass=97.0, illu=90.2, mask=98.0, noise=93.3, pose=89.0
        ),
    )
    assert second.box_px == Box(300, 60, 70, 88)
    assert second.probability == 0.91
    assert second.landmarks_px[0] == Point(305, 70)
    assert second.landmarks_px[-1] == Point(305 + 14 * 2.0, 70 + 6 * 3.0)
    assert second.pupils_px == (Pupil(320.0, 90.0, 3.0), Pupil(345.0, 91.0, 2.75))
    assert second.pose == Pose(30.0, -10.0, -3.5)
    assert (second.gender, second.age, second.expression) == (Gender.FEMALE, 30, Expression.NEUTRAL)
    assert (second.beauty, second.hat, second.glasses) == (71.9, True, Glasses.SUNGLASSES)
    assert second.mask is Mask.INCORRECT
    assert second.qualities == Qualities(72.5, 60.0, 88.8, 40.5, 85.0, 20.0, 80.1, 55.5)


@pytest.mark.parametrize("name", sorted(PER_FACE_FIELDS))
def test_a_short_per_face_list_names_the_field(name: str) -> None:
    data = two_face_data()
    data[name] = data[name][:-1]

    with pytest.raises(AnalysisFormatError) as caught:
        parse(data)

    assert caught.value.field == name
    assert name in str(caught.value)


@pytest.mark.parametrize("name", [f"{q}_list" for q in QUALITY_FIELDS])
def test_a_short_quality_list_names_the_field(name: str) -> None:
    data = two_face_data()
    data["qualities"][name] = data["qualities"][name][:1]

    with pytest.raises(AnalysisFormatError) as caught:
        parse(data)

    assert caught.value.field == f"qualities.{name}"


def test_a_missing_face_count_is_a_format_error() -> None:
    data = two_face_data()
    del data["face_count"]

    with pytest.raises(AnalysisFormatError) as caught:
        parse(data)

    assert caught.value.field == "face_count"


def test_unknown_fields_are_kept_in_extra() -> None:
    data = two_face_data() | {"face_token_list": ["a", "b"], "model_version": "2024.1"}

    analysis = parse(data)

    assert dict(analysis.extra) == {"face_token_list": ["a", "b"], "model_version": "2024.1"}
    assert analysis.face_count == 2


def full_analysis() -> FaceAnalysis:
    """Values that survive to_data's rounding (integer boxes, 4-digit probabilities)."""
    faces = tuple(
        Face(
            box_px=Box(10 + 200 * i, 20, 120, 150),
            probability=(0.9876, 0.8123)[i],
            landmarks_px=tuple(Point(15.0 + 200 * i + j, 30.0 + j / 2) for j in range(105)),
            pupils_px=(Pupil(50.0 + 200 * i, 60.0, 4.0), Pupil(90.0 + 200 * i, 61.0, 4.5)),
            pose=Pose(-12.5, 3.0, 7.25),
            gender=Gender(i % 2),
            age=25 + i,
            expression=Expression.SMILE,
            beauty=70.5,
            hat=bool(i),
            glasses=Glasses.REGULAR,
            mask=Mask(i % 3),
            qualities=Qualities(*(80.0 + k for k in range(8))),
        )
        for i in range(2)
    )
    return FaceAnalysis(
        faces=faces,
        image_width_px=640,
        image_height_px=480,
        analyzer="ailab",
        landmark_count=105,
        dense_feature_length=1024,
    )


def test_to_data_then_parse_data_gives_the_analysis_back() -> None:
    analysis = full_analysis()

    # Through JSON text, as on the wire.
    data = json.loads(json.dumps(to_data(analysis)))

    assert parse(data) == analysis


def test_fields_an_analyzer_did_not_estimate_come_back_as_none() -> None:
    local_like = FaceAnalysis(
        faces=(
            Face(
                box_px=Box(10, 20, 100, 120),
                probability=0.9,
                pose=Pose(1.0, 2.0, 3.0),
                qualities=Qualities(blur=70.0),
            ),
        ),
        image_width_px=640,
        image_height_px=480,
        analyzer="ailab",
        landmark_count=105,
        dense_feature_length=1024,
    )

    data = json.loads(json.dumps(to_data(local_like)))
    back = parse(data)

    # Placeholders keep the contract's shape, yet claim nothing.
    assert len(data["gender_list"]) == 1
    assert len(data["landmarks"]) == 210
    assert back.faces == local_like.faces


# --- envelope ---------------------------------------------------------------------------------


def test_envelope_legacy_success() -> None:
    body = success_envelope(two_face_data(), request_id="r-1", log_id="L1")

    envelope = decode_envelope(json.dumps(body).encode())

    assert envelope.succeeded
    assert (envelope.request_id, envelope.log_id, envelope.error_code) == ("r-1", "L1", 0)
    assert (envelope.code, envelope.message) == ("NO_ERROR", "")
    assert envelope.data is not None and envelope.data["face_count"] == 2


def test_envelope_legacy_error() -> None:
    envelope = parse_envelope(
        {
            "request_id": "r-2",
            "log_id": "L2",
            "error_code": 422,
            "error_code_str": "ERROR_NO_FACE_IN_FILE",
            "error_msg": "There is no face in the image.",
        }
    )

    assert not envelope.succeeded
    assert (envelope.error_code, envelope.code) == (422, "ERROR_NO_FACE_IN_FILE")
    assert envelope.message == "There is no face in the image."
    assert envelope.data is None


def test_envelope_newer_shape_with_only_error_detail() -> None:
    envelope = parse_envelope(
        {
            "request_id": "r-3",
            "log_id": "L3",
            "error_detail": {
                "status_code": 401,
                "code": "ERROR_USER_NOT_EXISTS",
                "code_message": "The user does not exist.",
                "message": "key not known",
            },
        }
    )

    assert (envelope.request_id, envelope.log_id) == ("r-3", "L3")
    assert (envelope.error_code, envelope.code) == (401, "ERROR_USER_NOT_EXISTS")
    assert envelope.message == "key not known"


def test_envelope_newer_shape_success_carries_status_200() -> None:
    envelope = parse_envelope(
        {
            "request_id": "r-4",
            "log_id": "L4",
            "error_detail": {"status_code": 200, "code": "", "code_message": "", "message": ""},
            "data": two_face_data(),
        }
    )

    assert envelope.succeeded
    assert envelope.code is None


def test_envelope_keeps_unknown_top_level_fields() -> None:
    envelope = parse_envelope({"request_id": "r", "error_code": 0, "data": {}, "quota": 7})

    assert dict(envelope.extra) == {"quota": 7}


@pytest.mark.parametrize("shape", ["legacy", "detail", "both"])
def test_built_error_envelopes_parse_back_in_every_shape(shape: EnvelopeShape) -> None:
    for error in (ERROR_USER_NOT_EXISTS, ERROR_NO_FACE_IN_FILE):
        body = error_envelope(error, request_id="r", log_id="L", message="why", shape=shape)

        envelope = parse_envelope(json.loads(json.dumps(body)))

        assert (envelope.error_code, envelope.code) == (error.http_status, error.code)
        assert (envelope.request_id, envelope.log_id, envelope.message) == ("r", "L", "why")


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"<html>502 Bad Gateway</html>", b"[1, 2]", b'{"error_code": "x"}'],
)
def test_a_body_that_is_not_an_envelope_is_a_format_error(body: bytes) -> None:
    with pytest.raises(EnvelopeFormatError):
        decode_envelope(body)
