#!/usr/bin/env bash
# The spec format's JSON Schema (specs/spec.schema.json, printed by `dsys design --schema`)
# under a public validator (PyPI `jsonschema`), as an editor would use it: every example
# and test spec that dsys accepts must validate, and every malformed one in
# crates/cli/tests/specs/malformed must not. Kept in a virtual environment beside the
# build cache.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${DSYS_JSONSCHEMA_VENV:-$HOME/.cache/dsys-jsonschema}"
if ! "$venv/bin/python" -c "import jsonschema" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "jsonschema==4.26.0"
fi
"$venv/bin/python" - specs/spec.schema.json <<'PY'
import glob, sys, tomllib, json
import jsonschema

schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
good = sorted(glob.glob("specs/*.toml") + glob.glob("crates/cli/tests/specs/*.toml")
              + glob.glob("crates/advisor/benches/*.toml"))
bad = sorted(glob.glob("crates/cli/tests/specs/malformed/*.toml"))
assert len(good) >= 8 and len(bad) >= 8, (good, bad)
failed = False
for path in good:
    errors = list(validator.iter_errors(tomllib.load(open(path, "rb"))))
    for e in errors:
        print(f"{path}: the schema rejects a spec dsys accepts: {e.message}")
        failed = True
for path in bad:
    if not list(validator.iter_errors(tomllib.load(open(path, "rb")))):
        print(f"{path}: the schema accepts a malformed spec")
        failed = True
if failed:
    sys.exit(1)
print(f"spec schema: {len(good)} specs valid, {len(bad)} malformed specs rejected")
PY
