# neuronb: `make reports` regenerates every report (quick preset); `make test` runs every test.
# Both create the virtual environment .venv and install neuronb into it first (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.neuronb-installed
PRESET ?= quick

.PHONY: setup test test-notebooks test-pytest reports bench parity clean-data help
help:
	@echo "make reports   set up, then regenerate every HTML report into reports/ (PRESET=quick|paper)"
	@echo "make test      set up, then run the notebook tests (each notebook in its own process) and pytest"
	@echo "make setup     only create .venv and install neuronb with its pinned torch/torchvision"
	@echo "make bench     set up, then run the training-speed benchmark"
	@echo "make parity    compare neuronb's Brain-Score mode with brainscore-vision 2.4.2 itself (own environment)"

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# the browser test drives Debian's chromium through Playwright (no browser download)
	@command -v chromium >/dev/null || { echo "installing Debian's chromium"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends chromium; }
	@# the CPU torch 2.13.0 wheel on this machine breaks torchvision: refuse to end with it
	$(BIN)/python -c "import torch, torchvision, torchvision.ops; assert torch.__version__.split('+')[0] == '2.14.1', torch.__version__; torchvision.ops.nms(torch.rand(2, 4), torch.rand(2), 0.5); print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
	touch $(STAMP)

test: setup
	$(MAKE) test-notebooks test-pytest

# nbdev-test reuses its worker processes (one notebook's definitions leak into the next): one process each
test-notebooks: setup
	$(BIN)/python .ci/test_notebooks.py --n-workers 2 --timing

# two test processes, one per core (tests run torch on one thread); a test file's fixtures stay in one process
test-pytest: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

reports: setup
	$(BIN)/neuronb report --preset $(PRESET)

bench: setup
	$(BIN)/neuronb bench train

# brainscore-vision pins numpy<2, pandas<3, scikit-learn<1.6, xarray<2022.6: it lives in an environment of its own
PARITY := .venv-parity
parity: setup $(PARITY)/.installed
	$(BIN)/python parity/compare.py --brainscore-python $(PARITY)/bin/python

$(PARITY)/.installed: parity/requirements.txt
	test -x $(PARITY)/bin/python || $(PYTHON) -m venv $(PARITY)
	$(PARITY)/bin/python -m pip install --quiet -r parity/requirements.txt
	$(PARITY)/bin/python -m pip install --quiet --no-deps brainscore-core==2.5.0 brainscore-vision==2.4.2
	touch $@
