"""Reviewing dependency changes: ``bomguard diff`` (a change to the SBOM) and ``bomguard
upgrades`` (releases newer than those in use), each a pipeline of its own over the shared
fetch, verify, drift and policy stages; :mod:`.render` writes their outputs."""
