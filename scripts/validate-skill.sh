#!/usr/bin/env bash
# The public Agent Skills validator (PyPI `skills-ref`, command `agentskills`) on the
# skill folder, in a virtual environment kept beside the build cache. The skill's own
# test (crates/cli/tests/skill.rs) checks the stricter rules and runs its commands.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${DSYS_SKILLS_REF_VENV:-$HOME/.cache/dsys-skills-ref}"
if [ ! -x "$venv/bin/agentskills" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "skills-ref==0.1.1"
fi
for skill in skills/*/; do
    "$venv/bin/agentskills" validate "$skill"
done
