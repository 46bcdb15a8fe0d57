"""The documentation site builds without warnings, its API pages document the public names, and its links resolve.

The build needs the `docs` extra (mkdocs, mkdocstrings-python, mkdocs-material); without it those tests skip. The
link and navigation checks read the Markdown files only and always run.
"""

from __future__ import annotations

import ast
import html as html_module
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MKDOCS_YML = REPO / "mkdocs.yml"
BUILD_PACKAGES = {"mkdocs": "mkdocs", "mkdocstrings_handlers.python": "mkdocstrings-python",
                  "material": "mkdocs-material"}

# API page -> ids of objects it must document (mkdocstrings gives each object its full path as heading id)
EXPECTED_OBJECTS = {
    "api/ppo2": ["baselines_tf2.ppo2.ppo2.learn", "baselines_tf2.ppo2.ppo2.PPO2Config",
                 "baselines_tf2.ppo2.defaults.atari"],
    "api/a2c": ["baselines_tf2.a2c.a2c.learn"],
    "api/ddpg": ["baselines_tf2.ddpg.ddpg.learn", "baselines_tf2.ddpg.noise.AdaptiveParamNoiseSpec",
                 "baselines_tf2.off_policy.replay.Memory", "baselines_tf2.off_policy.agent.OffPolicyAgent"],
    "api/trpo_ppo1": ["baselines_tf2.trpo_mpi.trpo_mpi.learn", "baselines_tf2.ppo1.pposgd_simple.learn",
                      "baselines_tf2.ppo1.mlp_policy.MlpPolicy", "baselines_tf2.common.cg.cg"],
    "api/td3_sac": ["baselines_tf2.td3.td3.learn", "baselines_tf2.sac.sac.learn", "baselines_tf2.sac.defaults.mujoco"],
    "api/deepq": ["baselines_tf2.deepq.deepq.learn", "baselines_tf2.deepq.act.ActWrapper",
                  "baselines_tf2.deepq.replay_buffer.ReplayBuffer",
                  "baselines_tf2.deepq.replay_buffer.PrioritizedReplayBuffer",
                  "baselines_tf2.deepq.models.build_q_network"],
    "api/vec_env": ["baselines_tf2.common.vec_env.vec_env.VecEnv",
                    "baselines_tf2.common.vec_env.dummy_vec_env.DummyVecEnv",
                    "baselines_tf2.common.vec_env.subproc_vec_env.SubprocVecEnv",
                    "baselines_tf2.common.vec_env.shmem_vec_env.ShmemVecEnv",
                    "baselines_tf2.common.vec_env.vec_frame_stack.VecFrameStack",
                    "baselines_tf2.common.vec_env.vec_monitor.VecMonitor",
                    "baselines_tf2.common.vec_env.vec_normalize.VecNormalize",
                    "baselines_tf2.common.vec_env.vec_video_recorder.VecVideoRecorder"],
    "api/models": ["baselines_tf2.nn.models.register", "baselines_tf2.nn.models.cnn"],
    "api/atari_wrappers": ["baselines_tf2.common.atari_wrappers.wrap_deepmind"],
    "api/checkpoint": ["baselines_tf2.training.checkpoint.CheckpointError", "baselines_tf2.training.agent.load_policy"],
    "api/logger": ["baselines_tf2.logger.configure", "baselines_tf2.logger.dumpkvs"],
    "api/training": ["baselines_tf2.training.run.TrainingRun", "baselines_tf2.training.run.Algorithm",
                     "baselines_tf2.algorithms.AlgorithmEntry"],
    "api/run": ["baselines_tf2.run.main"],
}

FENCED_CODE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def relative_links(page: Path) -> list[str]:
    """Link targets in `page` that point into the site: no URLs, no links inside code."""
    text = INLINE_CODE.sub("", FENCED_CODE.sub("", page.read_text(encoding="utf-8")))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def built_page(site: Path, doc: Path) -> Path:
    """Where mkdocs (use_directory_urls) writes the HTML of docs file `doc`."""
    relative = doc.relative_to(DOCS).with_suffix("")
    return site / (relative.parent if relative.name == "index" else relative) / "index.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by `mkdocs build --strict` into a temporary folder (once for this module)."""
    missing = [package for module, package in BUILD_PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        pytest.skip(f"building the docs needs {', '.join(missing)} (pip install -e '.[docs]')")
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner about MkDocs 2.0
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(MKDOCS_YML),
         "--site-dir", str(site_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert "WARNING" not in output, f"mkdocs build reported warnings:\n{output}"
    return site_dir


def test_site_builds_with_every_page(site: Path) -> None:
    for page in markdown_pages():
        assert built_page(site, page).is_file(), f"{page.relative_to(REPO)} was not built"


@pytest.mark.parametrize("page", sorted(EXPECTED_OBJECTS))
def test_api_page_documents_the_public_names(site: Path, page: str) -> None:
    html = (site / page / "index.html").read_text(encoding="utf-8")
    for name in EXPECTED_OBJECTS[page]:
        assert f'id="{name}"' in html, f"{page} does not document {name}"


def summary_line(qualified_name: str) -> str:
    """The first docstring line of a module-level function or class, read from the source."""
    module_name, _, object_name = qualified_name.rpartition(".")
    source = REPO / (module_name.replace(".", "/") + ".py")
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == object_name:
            docstring = ast.get_docstring(node)
            assert docstring, f"{qualified_name} has no docstring, so the API reference leaves it out"
            return docstring.splitlines()[0]
    raise AssertionError(f"{object_name} is not defined in {source}")


@pytest.mark.parametrize("page", sorted(EXPECTED_OBJECTS))
def test_api_page_shows_the_docstrings(site: Path, page: str) -> None:
    text = html_module.unescape(re.sub(r"<[^>]+>", "", (site / page / "index.html").read_text(encoding="utf-8")))
    words = " ".join(re.findall(r"\w+", text))  # words only: Markdown may render punctuation differently
    for name in EXPECTED_OBJECTS[page]:
        summary = summary_line(name)
        assert " ".join(re.findall(r"\w+", summary)) in words, f"{page}: {name}'s docstring is missing: {summary!r}"


def test_relative_links_point_to_pages_in_the_docs() -> None:
    problems = []
    for page in markdown_pages():
        for target in relative_links(page):
            path, _, _anchor = target.partition("#")
            if not path:
                continue
            resolved = (page.parent / path).resolve()
            if not resolved.is_relative_to(DOCS):
                problems.append(f"{page.relative_to(REPO)}: {target!r} leaves docs/ (the site will not have it)")
            elif not resolved.is_file():
                problems.append(f"{page.relative_to(REPO)}: {target!r} does not exist")
    assert not problems, "\n".join(problems)


def test_link_anchors_exist_in_the_built_pages(site: Path) -> None:
    problems = []
    for page in markdown_pages():
        for target in relative_links(page):
            path, _, anchor = target.partition("#")
            if not anchor:
                continue
            doc = (page.parent / path).resolve() if path else page
            if doc.suffix != ".md" or not doc.is_file():
                continue  # reported by the test above
            html = built_page(site, doc).read_text(encoding="utf-8")
            if f'id="{anchor}"' not in html:
                problems.append(f"{page.relative_to(REPO)}: {target!r} has no heading #{anchor}")
    assert not problems, "\n".join(problems)


def test_every_page_is_in_the_nav() -> None:
    nav = set(re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w./-]+\.md)\s*$", MKDOCS_YML.read_text(encoding="utf-8"), re.M))
    pages = {page.relative_to(DOCS).as_posix() for page in markdown_pages()}
    assert not pages - nav, f"add these pages to `nav` in mkdocs.yml: {sorted(pages - nav)}"
    assert not nav - pages, f"mkdocs.yml's nav names pages that do not exist: {sorted(nav - pages)}"


def test_api_pages_are_read_without_importing_tensorflow() -> None:
    """mkdocstrings reads the source statically (griffe), so building the docs stays fast and TF-free."""
    if importlib.util.find_spec("griffe") is None:
        pytest.skip("griffe (installed with mkdocstrings-python) is not installed (pip install -e '.[docs]')")
    probe = (
        "import sys, griffe\n"
        f"package = griffe.load('baselines_tf2', search_paths=[{str(REPO)!r}], resolve_aliases=True)\n"
        "assert 'PrioritizedReplayBuffer' in package['deepq.replay_buffer'].members\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'baselines_tf2'))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=120, cwd=REPO)
