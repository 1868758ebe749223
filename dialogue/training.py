"""Train the Rasa model only when the project changed: `python -m dialogue.training`.

The model is cached as dialogue/models/<hash>.tar.gz, where the hash covers every file that shapes it (domain,
config, NLU/rules/stories data, the taxonomy, custom component code). Training takes minutes; loading a cached model
is instant.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

DIALOGUE_DIR = Path(__file__).resolve().parent
REPO_ROOT = DIALOGUE_DIR.parent
DEFAULT_RASA_BIN = REPO_ROOT / ".venvs" / "rasa" / "bin" / "rasa"
DEFAULT_MODELS_DIR = DIALOGUE_DIR / "models"
TAXONOMY_FILE = REPO_ROOT / "config" / "taxonomy.yaml"


class TrainingError(Exception):
    """Rasa could not train the model; the message carries the end of its output."""


def project_files(project_dir: Path) -> list[Path]:
    """Files whose content determines the trained model, in a stable order."""
    files = [project_dir / "config.yml"]
    domain = project_dir / "domain.yml"
    files += [domain] if domain.exists() else sorted((project_dir / "domain").rglob("*.yml"))
    files += sorted((project_dir / "data").rglob("*.yml"))
    # Custom NLU components shape the model; the launcher and the channel do not.
    runtime_only = {"launch.py", "secured_rest.py"}
    files += [p for p in sorted((project_dir / "rasa_ext").rglob("*.py")) if p.name not in runtime_only]
    if TAXONOMY_FILE.exists():
        files.append(TAXONOMY_FILE)
    return files


def project_hash(project_dir: Path) -> str:
    project_dir = project_dir.resolve()
    digest = hashlib.sha256()
    for path in project_files(project_dir):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def ensure_model(
    project_dir: Path = DIALOGUE_DIR, rasa_bin: Path = DEFAULT_RASA_BIN, models_dir: Path = DEFAULT_MODELS_DIR
) -> Path:
    """Path of the model for the project as it is now, training it first if it is not cached."""
    name = project_hash(project_dir)
    model = models_dir / f"{name}.tar.gz"
    if model.exists():
        print(f"dialogue: model {model} is up to date, not training", flush=True)
        return model
    models_dir.mkdir(parents=True, exist_ok=True)
    print(f"dialogue: project changed, training {model} (a few minutes)", flush=True)
    command = [
        str(rasa_bin),
        "train",
        "--fixed-model-name",
        name,
        "--out",
        str(models_dir),
        "--config",
        "config.yml",
        "--domain",
        "domain.yml" if (project_dir / "domain.yml").exists() else "domain",
        "--data",
        "data",
    ]
    result = subprocess.run(command, cwd=project_dir, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not model.exists():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise TrainingError(f"rasa train failed (exit {result.returncode}):\n{tail}")
    print(f"dialogue: trained {model}", flush=True)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--project", type=Path, default=DIALOGUE_DIR)
    parser.add_argument("--rasa", type=Path, default=DEFAULT_RASA_BIN)
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS_DIR)
    args = parser.parse_args(argv)
    try:
        print(ensure_model(args.project, args.rasa, args.models))
    except TrainingError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
