"""Headless Chromium (Debian `chromium` + `chromium-driver`, driven by Selenium) loads real pages from a
real `modelcert serve` on 127.0.0.1 and finds what a user looks for; one screenshot for the docs.

The screenshot is written to the test's temp folder, and copied to docs/registry-page.png when that
file is missing or MODELCERT_UPDATE_SCREENSHOT=1 (so ordinary test runs leave the tree unchanged).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelcert.certificate.dsse import add_signature
from modelcert.certificate.keys import SigningKey
from modelcert.registry.audit import witness
from modelcert.registry.checkpoint import CosignatureSigner
from test_registry_support import LINE, ServerProcess, certify_model, make_model

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "registry-page.png"
TOKEN = "browser-test-admin-token"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)",
    ),
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,1100",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _populate(server: ServerProcess, tmp_path: Path) -> str:
    """Two certifiers in two countries co-sign release 1.0, then a safety fix supersedes it."""
    lab_de, lab_fr, acme, wit = (SigningKey.generate() for _ in range(4))
    with server.client(admin=True) as admin:
        admin.register_key(lab_de.verifying.public_pem(), "certifier", "Prüflabor Nord", "DE")
        admin.register_key(lab_fr.verifying.public_pem(), "certifier", "Laboratoire Sud", "FR")
        admin.register_key(acme.verifying.public_pem(), "publisher", "Acme AI")
        admin.register_key(wit.verifying.public_pem(), "witness", "witness.example/w1")
    envelope, digest = certify_model(make_model(tmp_path / "model"), lab_de, name="Prüflabor Nord")
    with server.client(key=lab_fr) as lab:
        lab.publish_certificate(add_signature(envelope, lab_fr))
    with server.client(key=acme) as publisher:
        publisher.declare_release(LINE, 1, "1.0", digest, revision="a" * 40)
        publisher.declare_release(LINE, 2, "1.1", "ab" * 32, supersede_reason="superseded-safety-fix")
    with server.client(key=wit) as client:
        signer = CosignatureSigner("witness.example/w1", wit.private_key)  # type: ignore[arg-type]
        client.cosign(witness(client, signer, client.log_verifier(), None, int(time.time())).cosigned_note)
    return digest


def test_pages_in_headless_chromium(browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    server = ServerProcess(tmp_path / "registry", TOKEN).start()
    try:
        digest = _populate(server, tmp_path)
        driver.get(server.url + "/")  # type: ignore[attr-defined]
        assert "modelcert registry" in driver.title  # type: ignore[attr-defined]
        search = driver.find_element(By.NAME, "q")  # type: ignore[attr-defined]
        search.send_keys("acme/widget")
        search.submit()
        # submit() returns before the results page has loaded: wait for it (NoSuchElement is retried).
        WebDriverWait(driver, 20).until(lambda d: LINE in d.find_element(By.TAG_NAME, "main").text)

        driver.get(f"{server.url}/models/{digest}")  # type: ignore[attr-defined]
        main = driver.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]
        assert "superseded by 1.1" in main and "superseded-safety-fix" in main
        quorum = driver.find_element(By.ID, "quorum").text  # type: ignore[attr-defined]
        assert quorum.startswith("met") and "DE, FR" in quorum
        assert "Prüflabor Nord" in main and "PASSED" in main
        shot = tmp_path / "registry-page.png"
        driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

        driver.find_element(By.PARTIAL_LINK_TEXT, "#").click()  # type: ignore[attr-defined]  # log inclusion link
        WebDriverWait(driver, 20).until(
            lambda d: "Inclusion verified" in d.find_element(By.ID, "inclusion").text
        )

        driver.get(server.url + "/log")  # type: ignore[attr-defined]
        checkpoint = driver.find_element(By.ID, "checkpoint").text  # type: ignore[attr-defined]
        assert "— witness.example/w1" in checkpoint and "— modelcert.localhost/registry" in checkpoint
        driver.get(server.url + "/certifiers")  # type: ignore[attr-defined]
        assert "Laboratoire Sud" in driver.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]
        driver.get(server.url + "/revocations")  # type: ignore[attr-defined]
        assert "superseded" in driver.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]
    finally:
        server.stop()
    if not DOCS_SCREENSHOT.exists() or os.environ.get("MODELCERT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
