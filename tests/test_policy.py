"""Consent policies: the shipped files load; a bad policy is refused with a message naming the key."""

from __future__ import annotations

import pytest

from videocoach.privacy.policy import (
    DEFAULT_POLICY,
    KEYS,
    ConsentPolicy,
    PolicyError,
    load_policy,
    policy_from_dict,
    policy_names,
    zone_to_px,
)


def test_shipped_policies_and_default():
    assert {"blur-all-pupils", "zones", "all-consented"} <= set(policy_names())
    default = load_policy(None)
    assert default.name == DEFAULT_POLICY == "blur-all-pupils" and default.hide_faces and not default.zones
    assert load_policy("") == default
    zones = load_policy("zones")
    assert zones.zones and zones.teacher_zones and zones.upscale_small
    assert zones.label == "zones v1"


def test_all_consented_needs_a_named_consent_record(tmp_path):
    with pytest.raises(PolicyError, match="consent_record"):
        load_policy("all-consented")  # the shipped file names no record on purpose
    p = load_policy("all-consented", consent_record="Consent forms 7B, 2025/26, school office")
    assert not p.hide_faces and p.consent_record.startswith("Consent forms")
    with pytest.raises(PolicyError, match="consent_record"):
        load_policy("all-consented", consent_record="   ")
    f = tmp_path / "ours.toml"
    f.write_text('name = "ours"\nversion = 2\nhide_faces = false\nconsent_record = "forms held by J. Smith"\n')
    assert load_policy(f).version == 2


def _base(**kw):
    return {"name": "t", "version": 1, **kw}


@pytest.mark.parametrize(
    "raw, key",
    [
        (_base(colour="red"), "colour"),  # unknown key
        (_base(zones=[[0.5, 0.5, 0.6, 0.2]]), "zones[0]"),  # outside the frame
        (_base(zones=[[0.1, 0.1, 0.0, 0.2]]), "zones[0]"),  # no width
        (_base(zones=[[-0.1, 0.1, 0.2, 0.2]]), "zones[0]"),
        (_base(teacher_zones=[[0.1, 0.1, 0.2]]), "teacher_zones[0]"),  # three numbers
        (_base(zones=[["a", 0, 0.1, 0.1]]), "zones[0]"),
        (_base(threshold="low"), "threshold"),  # wrong type
        (_base(detect_every=2.5), "detect_every"),
        (_base(detect_every=True), "detect_every"),
        (_base(upscale_small=1), "upscale_small"),
        (_base(method="blur"), "method"),  # a light blur is not irreversible
        (_base(mosaic_block_px=2), "mosaic_block_px"),
        (_base(box_scale=0.8), "box_scale"),
        (_base(threshold=0.9), "threshold"),
        (_base(hide_faces=False), "consent_record"),
        ({"version": 1}, "name"),
        ({"name": "x", "version": 0}, "version"),
    ],
)
def test_bad_policy_refused_naming_the_key(raw, key):
    with pytest.raises(PolicyError) as err:
        policy_from_dict(raw)
    assert key in str(err.value)


def test_bad_toml_file_refused(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\nversion = 1\nzones = [[0.1, 0.1, 0.2]\n')  # unclosed
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(f)
    with pytest.raises(PolicyError, match="no consent policy named"):
        load_policy("no-such-policy")


def test_every_field_is_a_documented_toml_key():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "consent_policies" / "README.md").read_text()
    for key in KEYS:
        assert f"`{key}`" in readme, f"{key} is not documented in consent_policies/README.md"
    assert set(KEYS) == set(ConsentPolicy.__dataclass_fields__)


def test_zone_pixels_round_outwards():
    assert zone_to_px((0.0, 0.45, 1.0, 0.55), 1280, 720) == (0, 324, 1280, 720)
    assert zone_to_px((0.101, 0.101, 0.1, 0.1), 100, 100) == (10, 10, 21, 21)


def test_which_shipped_policies_need_a_consent_record():
    from videocoach.privacy.policy import needs_consent_record, usable_as_is

    assert usable_as_is("blur-all-pupils") and not needs_consent_record("blur-all-pupils")
    assert not usable_as_is("all-consented") and needs_consent_record("all-consented")
    assert not usable_as_is("no-such-policy") and not needs_consent_record("no-such-policy")


def test_the_web_takes_policy_names_only(tmp_path):
    from videocoach.privacy.policy import load_named_policy

    assert load_named_policy("zones").name == "zones"
    assert load_named_policy(None).name == DEFAULT_POLICY
    secret = tmp_path / "secret.toml"
    secret.write_text('name = "x"\nversion = 1\n')
    for hostile in ("/etc/shadow", "/etc/passwd", "/dev/zero", str(secret), "../consent_policies/zones",
                    "zones.toml", str(tmp_path / "missing.toml")):
        with pytest.raises(PolicyError) as err:
            load_named_policy(hostile)
        assert hostile not in str(err.value) and "line" not in str(err.value)  # no path echoed, nothing parsed


def test_policy_files_are_read_with_a_size_cap(tmp_path):
    from videocoach.privacy.policy import MAX_POLICY_BYTES

    big = tmp_path / "big.toml"
    big.write_text('name = "big"\nversion = 1\n' + "# padding\n" * (MAX_POLICY_BYTES // 10 + 1))
    with pytest.raises(PolicyError, match="larger than"):
        load_policy(big)
    with pytest.raises(PolicyError, match="not a regular file"):
        load_policy("/dev/zero")  # a device is never read (the command line too)
