"""JupyterLab in a real browser: each explorer notebook is opened, run, one control is changed, and the output it
drives must change with no error output. JupyterLab listens on loopback with a token; Playwright drives Debian's
`chromium` (`executable_path`, no browser download). Screenshots are left in the test's temporary folder."""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fill_store(runs: Path) -> None:
    """The run store the explorers find (`$NEURONB_RUNS/neuronb.sqlite`): a specialised bilateral pipeline trained at
    the tiny size, and wiring scores of three models (values of the fixture, in the store's own format)."""
    from neuronb.experiments.protocol import run
    from neuronb.store import RunStore
    store = RunStore(runs / "neuronb.sqlite")
    run("bilateral.pipeline", preset="tiny", store=store, run_dir=runs / "pipeline", name="explore", seed=0,
        baselines=False, dataset_kw={"n_per_class": 2})
    for identifier, level in (("standard_img40_epoch_1", 0.6), ("standard_img40_epoch_0.5", 0.5), ("birth_KN", 0.3)):
        for benchmark in ("surrogate.V1-pls", "surrogate.IT-pls"):
            store.add_score("CORnet-S", benchmark, level, modification=identifier)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "A JupyterLab server on loopback whose root holds copies of the explorer notebooks; (url, token, root)."
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no chromium at {CHROMIUM}: `make setup` installs Debian's chromium package")
    root = tmp_path_factory.mktemp("lab")
    _fill_store(root / "runs")
    for notebook in (ROOT / "nbs" / "explorers").glob("*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "NEURONB_RUNS": str(root / "runs"), "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
                               f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0", "--allow-root"],
                              stdout=open(root / "lab.log", "w"), stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url, token, root
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _run_all(page):
    "Run every cell through JupyterLab's own menu, as a person does."
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def _choose_another(page, nth: int) -> None:
    "Choose, in the `nth` dropdown of the page, an option other than the one shown, as a person does."
    select = page.locator(".widget-dropdown select").nth(nth)
    current = select.input_value()
    options = select.locator("option").evaluate_all("nodes => nodes.map(n => n.value)")
    select.select_option(next(value for value in options if value != current))


def _output_html(page, selector: str) -> str:
    return page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.outerHTML).join('')")


def _settle(page, selector: str, seconds: float = 1.0) -> None:
    "Wait until the output stops changing for `seconds` and its images have loaded (a redraw clears, then draws)."
    previous = None
    while (current := _output_html(page, selector)) != previous:
        previous = current
        page.wait_for_timeout(seconds * 1000)
    page.wait_for_function("s => [...document.querySelectorAll(s)].every(i => i.tagName != 'IMG' || "
                           "(i.complete && i.naturalWidth > 0))", arg=selector)


def _errors(page) -> list:
    return page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], .jp-RenderedText[data-mime-type="
        "'application/vnd.jupyter.error']", "nodes => nodes.map(n => n.innerText.slice(0, 500))")


def _explore(browser, lab, notebook: str, output: str, change, tmp_path, timeout: float = 120):
    """Open `notebook`, run it, wait for the widget output matching `output`, `change(page)` one control, and return
    (before, after) of that output's HTML; screenshots before and after in `tmp_path`."""
    url, token, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # a workspace of its own, reset: JupyterLab would otherwise reopen the notebooks of earlier tests beside it
        page.goto(f"{url}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?token={token}&reset")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.get_by_text("| Idle").first.wait_for(timeout=60_000)        # the kernel has started
        _run_all(page)
        try:
            page.wait_for_selector(output, timeout=timeout * 1000)
            _settle(page, output)
        except Exception:
            page.screenshot(path=str(tmp_path / f"{notebook}-failed.png"), full_page=True)
            raise
        before = _output_html(page, output)
        page.screenshot(path=str(tmp_path / f"{notebook}-before.png"), full_page=True)
        change(page)
        deadline = time.time() + timeout
        while (after := _output_html(page, output)) == before and time.time() < deadline:
            page.wait_for_timeout(250)
        _settle(page, output)
        page.screenshot(path=str(tmp_path / f"{notebook}-after.png"), full_page=True)
        return before, _output_html(page, output), _errors(page)
    finally:
        page.close()


# (explorer notebook, the dropdown a person changes (its position on the page), what must redraw)
EXPLORERS = [
    ("critical_explorer.ipynb", 0, "the sensors' views, when the deficit changes"),
    ("v1_explorer.ipynb", 2, "the unit's tuning curves, receptive field and histograms, when the unit changes"),
    ("wiring_explorer.ipynb", 0, "predictivity against epochs and the benchmark bars, when the regime changes"),
    ("bilateral_explorer.ipynb", 1, "an image of the chosen category with its Grad-CAMs and answers"),
    ("units_explorer.ipynb", 1, "the unit's top images, selectivity and class maps, when the unit changes"),
]


@pytest.mark.parametrize("notebook, dropdown, redraws", EXPLORERS, ids=[e[0].split("_")[0] for e in EXPLORERS])
def test_explorer_in_jupyterlab(browser, lab, tmp_path, notebook, dropdown, redraws):
    "Run the explorer's notebook, choose another option in one dropdown: the drawing must change, with no error."
    before, after, errors = _explore(browser, lab, notebook, ".jupyter-widgets img",
                                     lambda page: _choose_another(page, dropdown), tmp_path)
    assert errors == []
    assert before and after and before != after, f"nothing redrew; expected {redraws}"
