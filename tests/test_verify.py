"""`verify`: every way a certificate can fail to vouch for a package fails, with a message naming why."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelcert.certificate import dsse
from modelcert.certificate.verify import VerifyReport, verify_package
from modelcert.cli.main import main
from modelcert.cli.verify import render_text
from modelcert.scan import scan_paths
from test_certificate_support import NOW, Lab, certify, lab, make_model, trust

FILES = ("README.md", "vocab.txt", "shards/weights-00001.f32", "weights-00002.f32")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, Lab]:
    root = tmp_path_factory.mktemp("signed")
    a = lab("Lab A", "US")
    envelope = certify(make_model(root / "model"), a).envelope
    return root / "model", envelope.to_json().encode(), a


def _verify(model: Path, cert: bytes, labs: tuple[Lab, ...], **kwargs: object) -> VerifyReport:
    return verify_package(model, [("cert.json", cert)], trust(*labs), now=kwargs.pop("now", NOW), **kwargs)  # type: ignore[arg-type]


def _copy(src: Path, dst: Path) -> Path:
    for path in sorted(src.rglob("*")):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return dst


def _failure(report: VerifyReport) -> str:
    assert not report.passed
    return " | ".join(report.failures())


def test_untouched_package_passes(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    report = _verify(model, cert, (a,))
    assert report.passed, report.failures()
    assert [c.accepted for c in report.certificates] == [True]


@pytest.mark.parametrize("name", FILES)
def test_one_changed_byte_in_any_file_fails_naming_the_file(
    signed: tuple[Path, bytes, Lab], tmp_path: Path, name: str
) -> None:
    model, cert, a = signed
    copy = _copy(model, tmp_path / "model")
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    message = _failure(_verify(copy, cert, (a,)))
    assert f"file {name!r} changed" in message
    assert "does not match the certificate" in message


def test_added_file_fails(signed: tuple[Path, bytes, Lab], tmp_path: Path) -> None:
    model, cert, a = signed
    copy = _copy(model, tmp_path / "model")
    (copy / "shards" / "extra.py").write_text("print('hi')\n")
    assert "file 'shards/extra.py' added (not in the certificate)" in _failure(_verify(copy, cert, (a,)))


def test_removed_file_fails(signed: tuple[Path, bytes, Lab], tmp_path: Path) -> None:
    model, cert, a = signed
    copy = _copy(model, tmp_path / "model")
    (copy / "vocab.txt").unlink()
    assert "file 'vocab.txt' removed" in _failure(_verify(copy, cert, (a,)))


def test_added_symlink_fails_although_digests_ignore_links(
    signed: tuple[Path, bytes, Lab], tmp_path: Path
) -> None:
    model, cert, a = signed
    copy = _copy(model, tmp_path / "model")
    (copy / "link.bin").symlink_to(copy / "weights-00002.f32")
    assert "symlink 'link.bin'" in _failure(_verify(copy, cert, (a,)))


def test_replaced_subject_breaks_the_signature(signed: tuple[Path, bytes, Lab], tmp_path: Path) -> None:
    _model, cert, a = signed
    other = make_model(tmp_path / "other", seed=1)
    other_root = scan_paths([other]).root_digest
    envelope = dsse.Envelope.from_json(cert)
    doc = json.loads(envelope.payload)
    doc["subject"][0]["digest"]["sha256"] = other_root
    forged = dsse.Envelope(envelope.payload_type, json.dumps(doc).encode(), envelope.signatures)
    message = _failure(_verify(other, forged.to_json().encode(), (a,)))
    assert "does not verify: the payload or the signature was altered" in message


def test_untrusted_key_fails(signed: tuple[Path, bytes, Lab]) -> None:
    model, _cert, a = signed
    mallory = lab("Mallory", "US")
    forged = certify(model, mallory).envelope.to_json().encode()
    message = _failure(_verify(model, forged, (a,)))
    assert "which is not in the trust file" in message
    assert "quorum not met: 0 distinct certifier(s) passed, 1 required" in message


def test_expired_certificate_fails(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    message = _failure(_verify(model, cert, (a,), now=NOW + timedelta(days=181)))
    assert "certificate expired at 2026-11-28T12:00:00Z" in message


def test_certificate_from_the_future_fails(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    assert "issued in the future" in _failure(_verify(model, cert, (a,), now=NOW - timedelta(hours=1)))


def test_certificate_of_another_model_fails(signed: tuple[Path, bytes, Lab], tmp_path: Path) -> None:
    _model, cert, a = signed
    other = make_model(tmp_path / "other", seed=2)
    message = _failure(_verify(other, cert, (a,)))
    assert "certificate of another model: it certifies 'model'" in message


def test_one_certifier_counted_once_across_two_certificates(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    second = certify(model, a).envelope.to_json().encode()  # a new certificate, same key
    report = verify_package(
        model, [("one.json", cert), ("two.json", second)], trust(a), now=NOW, min_certifiers=2
    )
    message = _failure(report)
    assert "certifier 'Lab A' counted once: it appears 2 times" in message
    assert "1 distinct certifier(s) passed, 2 required" in message


def test_one_key_signing_twice_in_one_envelope_counts_once(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    envelope = dsse.Envelope.from_json(cert)
    doubled = dsse.Envelope(envelope.payload_type, envelope.payload, envelope.signatures * 2)
    report = _verify(model, doubled.to_json().encode(), (a,), min_certifiers=2)
    message = _failure(report)
    assert "1 distinct certifier(s) passed, 2 required" in message
    steps = " ".join(s.message for s in report.certificates[0].steps)
    assert "repeats key" in steps and "counted once" in steps


def test_two_keys_of_one_certifier_count_once(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    a2 = Lab("Lab A", "US", lab("x", "US").key)  # a second key listed under the same certifier name
    cosigned = dsse.add_signature(dsse.Envelope.from_json(cert), a2.key).to_json().encode()
    message = _failure(_verify(model, cosigned, (a, a2), min_certifiers=2))
    assert "certifier 'Lab A' counted once" in message


def test_policy_not_accepted_by_trust_fails(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    report = verify_package(model, [("cert.json", cert)], trust(a, policies=("strict",)), now=NOW)
    assert "is not accepted by the trust file" in _failure(report)


def test_garbage_certificate_is_rejected_not_crashing(signed: tuple[Path, bytes, Lab]) -> None:
    model, _cert, a = signed
    for junk in (
        b"",
        b"{}",
        b"[1]",
        b'{"payload": "!!", "payloadType": "x", "signatures": []}',
        os.urandom(64),
    ):
        assert "quorum not met" in _failure(_verify(model, junk, (a,)))


def test_non_canonical_payload_is_refused(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    envelope = dsse.Envelope.from_json(cert)
    pretty = json.dumps(json.loads(envelope.payload), indent=1).encode()
    resigned = dsse.sign(envelope.payload_type, pretty, a.key)  # validly signed, but not JCS
    assert "not in RFC 8785 canonical form" in _failure(_verify(model, resigned.to_json().encode(), (a,)))


def test_cli_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = lab("Lab A", "US")
    model = make_model(tmp_path / "model")
    # the CLI checks validity against the real clock, so this certificate is issued now
    (tmp_path / "cert.json").write_text(certify(model, a, now=datetime.now(UTC)).envelope.to_json())
    (tmp_path / "trust.json").write_text(json.dumps(trust(a).to_dict()))
    args = [str(model), "--cert", str(tmp_path / "cert.json"), "--trust", str(tmp_path / "trust.json")]
    assert main(["verify", *args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == "PASSED" and out["certificates"][0]["accepted"] is True
    assert main(["verify", *args, "--min-certifiers", "2"]) == 1
    assert "quorum not met" in capsys.readouterr().out
    missing = [str(model), "--cert", str(tmp_path / "missing.json"), "--trust", str(tmp_path / "trust.json")]
    assert main(["verify", *missing]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "bad-trust.json").write_text('{"schema": "modelcert/trust/v1", "certifiers": []}')
    bad = [str(model), "--cert", str(tmp_path / "cert.json"), "--trust", str(tmp_path / "bad-trust.json")]
    assert main(["verify", *bad]) == 2
    assert "at least one certifier" in capsys.readouterr().err


def test_certificate_stored_inside_the_model_folder_is_not_part_of_it(tmp_path: Path) -> None:
    a = lab("Lab A", "US")
    model = make_model(tmp_path / "model")
    cert = certify(model, a, now=datetime.now(UTC)).envelope.to_json()
    (model / "modelcert.cert.json").write_text(cert)
    (tmp_path / "trust.json").write_text(json.dumps(trust(a).to_dict()))
    code = main(
        [
            "verify",
            str(model),
            "--cert",
            str(model / "modelcert.cert.json"),
            "--trust",
            str(tmp_path / "trust.json"),
        ]
    )
    assert code == 0


def test_signature_tampering_in_base64_is_detected(signed: tuple[Path, bytes, Lab]) -> None:
    model, cert, a = signed
    envelope = dsse.Envelope.from_json(cert)
    sig = bytearray(envelope.signatures[0].sig)
    sig[0] ^= 0xFF
    bad = dsse.Envelope(
        envelope.payload_type, envelope.payload, (dsse.Signature(envelope.signatures[0].keyid, bytes(sig)),)
    )
    assert "does not verify" in _failure(_verify(model, bad.to_json().encode(), (a,)))
    assert base64.b64encode(bytes(sig)).decode() in bad.to_json()


def test_detached_files_are_left_out_only_when_a_certificate_does_not_list_them(tmp_path: Path) -> None:
    a, b = lab("Lab A", "US"), lab("Lab B", "CN")
    model = make_model(tmp_path / "model")
    first = certify(model, a).envelope.to_json()
    (model / "first.cert.json").write_text(first)  # shipped inside the folder after certification
    second = certify(model, b).envelope.to_json()  # certifies the folder *with* first.cert.json in it
    certs = [("first", first.encode()), ("second", second.encode())]
    detached = ["first.cert.json"]
    report = verify_package(model, certs, trust(a, b), now=NOW, min_certifiers=2, detached=detached)
    assert report.passed, report.failures()
    # without declaring it detached, the first certificate sees an added file
    report = verify_package(model, certs, trust(a, b), now=NOW, min_certifiers=2)
    assert "file 'first.cert.json' added (not in the certificate)" in _failure(report)


def test_text_report_never_prints_control_characters_from_a_certificate(tmp_path: Path) -> None:
    evil = Lab("Lab \x1b[2J\x9bA", "US", lab("x", "US").key)  # terminal escapes in a certified name
    model = make_model(tmp_path / "model")
    report = verify_package(
        model, [("c.json", certify(model, evil).envelope.to_json().encode())], trust(evil), now=NOW
    )
    text = render_text(report)
    assert report.passed and "\x1b" not in text and "\x9b" not in text
    assert "Lab \\u001b[2J\\u009bA" in text
