"""The loopback index itself, observed with a real httpx client."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from indexserver import (
    PEP691_JSON,
    PEP740_JSON,
    IndexServer,
    RegisteredFile,
    add_fixture,
    default_fixtures,
    read_manifest,
    read_publishers,
)
from pypi_attestations import Distribution, Provenance

JSON_ACCEPT = {"Accept": PEP691_JSON}
PROVENANCE = b'{"version": 1, "attestation_bundles": []}'


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def three_files(index_server: IndexServer) -> IndexServer:
    """Project ``Demo.Pkg`` with a file per PEP 740 case (URL, null, no key)."""
    index_server.add_file(
        "Demo.Pkg", "demo_pkg-1.0.tar.gz", content=b"sdist bytes", provenance=PROVENANCE
    )
    index_server.add_file(
        "Demo.Pkg", "demo_pkg-1.0-py3-none-any.whl", content=b"w", provenance=None
    )
    index_server.add_file(
        "Demo.Pkg", "demo_pkg-0.9-py3-none-any.whl", content=b"old", provenance_key=False
    )
    return index_server


def test_project_page_is_pep691_json_with_the_three_provenance_cases(
    three_files: IndexServer, client: httpx.Client
) -> None:
    response = client.get(three_files.project_url("demo-pkg"), headers=JSON_ACCEPT)

    assert response.status_code == 200
    assert response.headers["content-type"] == PEP691_JSON
    page = response.json()
    assert page["meta"] == {"api-version": "1.1"}
    assert page["name"] == "demo-pkg"
    assert page["versions"] == ["0.9", "1.0"]
    files = {f["filename"]: f for f in page["files"]}
    sdist = files["demo_pkg-1.0.tar.gz"]
    assert sdist["hashes"] == {"sha256": hashlib.sha256(b"sdist bytes").hexdigest()}
    assert sdist["size"] == len(b"sdist bytes")
    assert sdist["provenance"] == (
        f"{three_files.base_url}/integrity/demo-pkg/1.0/demo_pkg-1.0.tar.gz/provenance"
    )
    assert client.get(sdist["url"]).content == b"sdist bytes"
    assert files["demo_pkg-1.0-py3-none-any.whl"]["provenance"] is None
    assert "provenance" not in files["demo_pkg-0.9-py3-none-any.whl"]


def test_names_redirect_to_the_normalised_url_and_unknown_projects_are_404(
    three_files: IndexServer, client: httpx.Client
) -> None:
    redirect = client.get(f"{three_files.index_url}Demo.Pkg/", headers=JSON_ACCEPT)
    assert redirect.status_code == 301
    assert redirect.headers["location"] == three_files.project_url("demo-pkg")
    no_slash = client.get(f"{three_files.index_url}demo-pkg", headers=JSON_ACCEPT)
    assert no_slash.headers["location"] == three_files.project_url("demo-pkg")
    assert client.get(three_files.project_url("nope"), headers=JSON_ACCEPT).status_code == 404
    root = client.get(three_files.index_url, headers=JSON_ACCEPT).json()
    assert root["projects"] == [{"name": "demo-pkg"}]


def test_html_is_served_when_only_html_is_accepted(
    three_files: IndexServer, client: httpx.Client
) -> None:
    url = three_files.project_url("demo-pkg")
    page = client.get(url, headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    provenance_url = three_files.provenance_url("demo-pkg", "1.0", "demo_pkg-1.0.tar.gz")
    assert f'data-provenance="{provenance_url}"' in page.text
    assert page.text.count("data-provenance") == 1
    preferred = client.get(url, headers={"Accept": f"text/html;q=0.5, {PEP691_JSON}"})
    assert preferred.headers["content-type"] == PEP691_JSON
    assert client.get(url, headers={"Accept": "image/png"}).status_code == 406


def test_relative_file_urls_resolve_against_the_page(client: httpx.Client) -> None:
    with IndexServer(relative_urls=True) as server:
        server.add_file("pkg", "pkg-1.0.tar.gz", content=b"abc")
        page_url = server.project_url("pkg")
        (entry,) = client.get(page_url, headers=JSON_ACCEPT).json()["files"]
        assert entry["url"] == "../../files/pkg-1.0.tar.gz"
        assert client.get(urljoin(page_url, entry["url"])).content == b"abc"


def test_integrity_api_serves_registered_provenance_and_404_otherwise(
    three_files: IndexServer, client: httpx.Client
) -> None:
    url = three_files.provenance_url("demo-pkg", "1.0", "demo_pkg-1.0.tar.gz")
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == PEP740_JSON
    assert response.content == PROVENANCE
    for missing in (
        three_files.provenance_url("demo-pkg", "1.0", "demo_pkg-1.0-py3-none-any.whl"),
        three_files.provenance_url("demo-pkg", "2.0", "demo_pkg-1.0.tar.gz"),
        three_files.provenance_url("other", "1.0", "demo_pkg-1.0.tar.gz"),
    ):
        assert client.get(missing).status_code == 404


def test_retry_after_faults_run_out_and_are_counted(
    three_files: IndexServer, client: httpx.Client
) -> None:
    path = "/simple/demo-pkg/"
    fault = three_files.fault(path, status=429, times=2, headers={"Retry-After": "1"})
    answers = [client.get(three_files.url(path), headers=JSON_ACCEPT) for _ in range(3)]

    assert [r.status_code for r in answers] == [429, 429, 200]
    assert answers[0].headers["retry-after"] == "1"
    assert "retry-after" not in answers[2].headers
    assert fault.hits == 2
    assert three_files.count(path) == 3


def test_faults_are_consumed_in_order_and_can_be_permanent(
    three_files: IndexServer, client: httpx.Client
) -> None:
    three_files.fault("/files/", status=500, times=1)
    three_files.fault("/files/demo_pkg-1.0.tar.gz", status=503, times=1)
    url = three_files.file_url("demo_pkg-1.0.tar.gz")
    assert [client.get(url).status_code for _ in range(3)] == [500, 503, 200]

    three_files.fault("/integrity/", status=503)
    provenance = three_files.provenance_url("demo-pkg", "1.0", "demo_pkg-1.0.tar.gz")
    assert {client.get(provenance).status_code for _ in range(3)} == {503}
    three_files.clear_faults()
    assert client.get(provenance).status_code == 200


def test_slow_responses_delay_or_time_out(three_files: IndexServer, client: httpx.Client) -> None:
    url = three_files.file_url("demo_pkg-1.0.tar.gz")
    three_files.fault(url, delay=0.15, times=1)
    started = time.monotonic()
    assert client.get(url).content == b"sdist bytes"
    assert time.monotonic() - started >= 0.15

    three_files.fault(url, delay=5, times=1)
    with pytest.raises(httpx.ReadTimeout):
        client.get(url, timeout=0.2)

    three_files.latency = 0.1
    started = time.monotonic()
    assert client.get(url).status_code == 200
    assert time.monotonic() - started >= 0.1


def test_truncated_body_and_connection_reset_are_transport_errors(
    three_files: IndexServer, client: httpx.Client
) -> None:
    page = three_files.project_url("demo-pkg")
    three_files.fault(page, truncate=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|complete message body"):
        client.get(page, headers=JSON_ACCEPT)

    three_files.fault(page, reset=True, times=1)
    with pytest.raises(httpx.ReadError):  # ECONNRESET
        client.get(page, headers=JSON_ACCEPT)

    assert client.get(page, headers=JSON_ACCEPT).json()["name"] == "demo-pkg"


def test_injected_body_replaces_the_answer(three_files: IndexServer, client: httpx.Client) -> None:
    url = three_files.provenance_url("demo-pkg", "1.0", "demo_pkg-1.0.tar.gz")
    three_files.fault(url, body=b"{not json", times=1)
    response = client.get(url)
    assert (response.status_code, response.content) == (200, b"{not json")


def test_request_log_records_method_path_and_headers(
    three_files: IndexServer, client: httpx.Client
) -> None:
    client.get(three_files.project_url("demo-pkg"), headers={**JSON_ACCEPT, "X-Test": "1"})
    client.head(three_files.file_url("demo_pkg-1.0.tar.gz"))

    (get, head) = three_files.requests
    assert (get.method, get.path) == ("GET", "/simple/demo-pkg/")
    assert get.headers["accept"] == PEP691_JSON
    assert get.headers["x-test"] == "1"
    assert (head.method, head.path) == ("HEAD", "/files/demo_pkg-1.0.tar.gz")
    assert three_files.count("/files/", method="HEAD") == 1
    three_files.reset_log()
    assert three_files.requests == []
    assert three_files.count() == 0


def test_close_drops_idle_keepalive_connections_and_joins_threads() -> None:
    with httpx.Client() as client:
        server = IndexServer().start()
        server.add_file("pkg", "pkg-1.0.tar.gz", content=b"x")
        assert client.get(server.file_url("pkg-1.0.tar.gz")).status_code == 200
        started = time.monotonic()
        server.close()  # the client still holds the idle connection open
        assert time.monotonic() - started < 1
    assert not [t for t in threading.enumerate() if t.name.startswith("indexserver")]


EXPECTED_DEFAULTS = {
    "circleci_sign_publish_example-0.0.1.dev137-py3-none-any.whl": "CircleCI",
    "gcb_attestation_test-0.0.0.tar.gz": "Google",
    "gitlab_oidc_project-0.0.3.tar.gz": "GitLab",
    "juwunit-0.1.3-cp310-abi3-macosx_10_12_x86_64.whl": "GitHub",
    "pypi_attestation_models-0.0.4a2.tar.gz": "GitHub",
    "pypi_attestations-0.0.16.tar.gz": "GitHub",
    "pypi_attestations-0.0.19.tar.gz": "GitHub",
    "sampleproject-4.0.0-py3-none-any.whl": "GitHub",
    "sigstore-3.6.1.tar.gz": "GitHub",
}


def test_real_index_serves_verifiable_provenance_for_every_default_fixture(
    real_index: tuple[IndexServer, dict[str, RegisteredFile]], client: httpx.Client
) -> None:
    server, registered = real_index
    assert {dist: r.publisher_kind for dist, r in registered.items()} == EXPECTED_DEFAULTS

    for dist, served in registered.items():
        page = client.get(server.project_url(served.project), headers=JSON_ACCEPT).json()
        (entry,) = (f for f in page["files"] if f["filename"] == dist)
        assert entry["hashes"]["sha256"] == served.sha256
        content = client.get(entry["url"]).content
        assert hashlib.sha256(content).hexdigest() == served.sha256

        provenance = Provenance.model_validate_json(client.get(entry["provenance"]).content)
        (bundle,) = provenance.attestation_bundles
        assert bundle.publisher.kind == served.publisher_kind
        for attestation in bundle.attestations:
            # The publisher the index serves is the one that signed: verified offline.
            attestation.verify(
                bundle.publisher, Distribution(name=dist, digest=served.sha256), offline=True
            )

    versions = client.get(server.project_url("pypi-attestations"), headers=JSON_ACCEPT).json()
    assert versions["versions"] == ["0.0.16", "0.0.19"]


def test_publisher_table_covers_exactly_the_trusted_publisher_attestations(
    data_dir: Path,
) -> None:
    manifest = read_manifest(data_dir)
    attestations = {
        name
        for name, entry in manifest.items()
        if entry.shape == "attestation" and "/" not in name and "://" in entry.signer_identity
    }
    assert set(read_publishers(data_dir)) == attestations
    assert "pypi_attestations-0.0.19.tar.gz.provenance" in default_fixtures(data_dir).values()


def test_add_fixture_needs_an_explicit_publisher_for_email_identities(
    index_server: IndexServer, data_dir: Path, client: httpx.Client
) -> None:
    fixture = "pypi_attestations-0.0.19.tar.gz.publish.attestation.with_timestamp"
    with pytest.raises(KeyError, match="no Trusted Publisher"):
        add_fixture(index_server, data_dir, fixture)
    publisher = {"kind": "GitHub", "repository": "x/y", "workflow": "r.yml", "environment": None}
    served = add_fixture(index_server, data_dir, fixture, wrap_publisher=publisher)
    document = json.loads(client.get(served.provenance_url).content)
    assert document["attestation_bundles"][0]["publisher"] == publisher
    assert served.signer_identity == "jku@goto.fi"


def test_add_fixture_serves_a_provenance_without_its_dist_by_hash(
    index_server: IndexServer, data_dir: Path, client: httpx.Client
) -> None:
    fixture = "nonstandard/redhat-trusted-libraries_amqp-5.3.1-0-py3-none-any.whl.provenance"
    served = add_fixture(index_server, data_dir, fixture)
    assert (served.project, served.version, served.publisher_kind) == ("amqp", "5.3.1", "Pulp User")
    assert (
        client.get(served.provenance_url).content
        == (data_dir / "provenance" / fixture).read_bytes()
    )
    assert client.get(served.file_url).status_code == 404
