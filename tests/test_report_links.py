"""Links in the HTML report come only from verified identity facts, and only as https."""

from __future__ import annotations

from bomguard.models import Identity
from bomguard.report.links import safe_https_url, source_links

COMMIT = "896cfe1a4c2a1fa5b7d3fb2e4b53c1bd3fe1b6fa"


def test_github_links_from_the_certificate_claims():
    links = source_links(
        Identity(
            kind="GitHub",
            repository="sigstore/sigstore-python",
            repository_uri="https://github.com/sigstore/sigstore-python",
            workflow="release.yml",
            ref="refs/tags/v3.6.1",
            commit=COMMIT,
            run_invocation_uri="https://github.com/sigstore/sigstore-python/actions/runs/1/attempts/1",
        )
    )
    base = "https://github.com/sigstore/sigstore-python"
    assert links.repository == base
    assert links.commit == f"{base}/commit/{COMMIT}"
    assert links.ref == f"{base}/tree/v3.6.1"
    assert links.workflow == f"{base}/blob/{COMMIT}/.github/workflows/release.yml"
    assert links.run.startswith(f"{base}/actions/runs/")


def test_gitlab_links_use_its_paths():
    links = source_links(
        Identity(
            kind="GitLab", repository="group/sub/proj", workflow=".gitlab-ci.yml", commit=COMMIT
        )
    )
    assert links.commit == f"https://gitlab.com/group/sub/proj/-/commit/{COMMIT}"
    assert links.workflow == f"https://gitlab.com/group/sub/proj/-/blob/{COMMIT}/.gitlab-ci.yml"


def test_hostile_values_make_no_link():
    for bad in (
        "javascript:alert(1)",
        "http://github.com/a/b",
        "https://user:pw@github.com/a/b",
        "https://github.com/a b",
        "data:text/html,x",
        "",
        None,
    ):
        assert safe_https_url(bad) == ""
    links = source_links(
        Identity(
            kind="Google",
            repository_uri="javascript:alert(1)",
            commit="not-a-commit",
            run_invocation_uri="javascript:alert(2)",
        )
    )
    assert (links.repository, links.commit, links.run, links.workflow) == ("", "", "", "")
    # A workflow path cannot climb out of the repository.
    links = source_links(
        Identity(kind="GitHub", repository="a/b", workflow="../../x", commit=COMMIT)
    )
    assert links.workflow == ""
